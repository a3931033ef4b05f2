"""registry: loading --graphs specs, describing graphs, checking input types."""

from __future__ import annotations

import pytest

from hypergraph_grpc import registry
from hypergraph_grpc.demo import testing
from tests.service import graphs


def test_load_spec_dict_and_errors():
    loaded = registry.load_spec("hypergraph_grpc.demo.testing:GRAPHS")
    assert set(loaded) == set(testing.GRAPHS)
    with pytest.raises(registry.RegistryError, match="pkg.module:attr"):
        registry.load_spec("no_colon")
    with pytest.raises(registry.RegistryError, match="cannot import module"):
        registry.load_spec("no.such.module:GRAPHS")
    with pytest.raises(registry.RegistryError, match="no attribute 'NOPE'"):
        registry.load_spec("hypergraph_grpc.demo.testing:NOPE")
    with pytest.raises(registry.RegistryError, match="not a Graph"):
        registry.load_spec("hypergraph_grpc.demo.testing:emit_tokens")


def test_single_graph_spec_uses_its_name():
    loaded = registry.load_spec("tests.service.graphs:GRAPHS")
    assert "typed" in loaded


def test_describe_inputs_required_first_with_defaults_types_and_docs():
    described = registry.describe("typed", graphs.GRAPHS["typed"])
    names = [i.name for i in described.inputs]
    required = [i.name for i in described.inputs if i.required]
    assert names[: len(required)] == required
    assert set(required) == {"name", "count", "ratio", "items"}
    by_name = {i.name: i for i in described.inputs}
    assert by_name["flag"].default is False and not by_name["flag"].required
    assert by_name["note"].default == "none"
    assert by_name["count"].type == "int"
    assert by_name["count"].description == "how many items to count."
    assert [(o.name, o.node) for o in described.outputs] == [("report", "typed_inputs")]
    assert described.outputs[0].description == "Join the inputs into a report."
    assert described.nodes == ("typed_inputs",)


def test_check_value():
    check = registry.check_value
    assert check(3, int) and not check(3.5, int) and not check(True, int)
    assert check(3, float) and check(2.5, float) and not check("x", float)
    assert check([1], list) and not check("x", list) and check([1], list[int])
    assert check(None, int | None) and check(None, "object") and check(object(), None)
    assert not check(1, str) and check("a", "str")
    assert check({"a": 1}, dict) and not check([1], dict)


def test_default_graphs_are_the_demo_graphs():
    from hypergraph_grpc.serve import load_default_graphs
    from hypergraph_grpc.serve_args import DEFAULT_GRAPHS

    graphs, source = load_default_graphs()
    assert source == DEFAULT_GRAPHS
    assert {"chat", "rag", "multi_turn"} <= set(graphs)
