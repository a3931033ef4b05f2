"""Section 4: Graph construction, inputs, cycles and entrypoints (C15-C19)."""

import itertools

import pytest

from hypergraph import END, AsyncRunner, Graph, GraphConfigError, InputSpec, node, route

from .helpers import (
    generate,
    retrieve,
    should_continue,
    stream_response,
    stream_turn,
    update_history,
)


def test_c15_guide_graph_inputs():
    basic = Graph([stream_response])
    assert basic.inputs == InputSpec(required=("messages",), optional=("system",))
    assert basic.defaults == {"system": ""}
    assert basic.inputs.all == ("messages", "system")
    rag = Graph([retrieve, generate])
    assert rag.inputs.required == ("query",) and rag.inputs.optional == ()
    loop = Graph([stream_turn, update_history, should_continue])
    assert set(loop.inputs.required) == {"messages", "user_input"}
    assert loop.inputs.optional == ()


def test_c15_edges_by_name_and_introspection():
    rag = Graph([retrieve, generate], name="rag")
    assert rag.name == "rag" and list(rag.nodes) == ["retrieve", "generate"]
    assert rag.outputs == ("docs", "response")
    assert rag.input_types == {"query": str}
    assert rag.nodes["generate"].func.__doc__.startswith("Stream the generation")
    assert Graph([retrieve]).name == "graph"
    assert not rag.has_cycles and rag.entrypoints == ()


def test_c15_self_updating_node_input_is_a_graph_input():
    @node(output_name="total")
    def acc(total, x):
        return total + x

    g = Graph([acc])
    assert g.inputs.required == ("total", "x")


def test_c15_defaults_on_produced_names_are_ignored_and_optional_needs_all_defaults():
    @node(output_name="a")
    def p(x, y=1):
        return x

    @node(output_name="b")
    def c(a=5, y=1, z=None):
        return a

    @node(output_name="d")
    def e(z):
        return z

    g = Graph([p, c, e])
    assert g.inputs.required == ("x", "z")
    assert g.inputs.optional == ("y",)
    assert g.defaults == {"y": 1}


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_c16_multi_turn_graph_builds_in_any_order_with_inferred_entrypoint(order):
    items = [stream_turn, update_history, should_continue]
    g = Graph([items[i] for i in order])
    assert g.has_cycles and g.entrypoints == ("stream_turn",)


def test_c16_entrypoint_override():
    g = Graph([stream_turn, update_history, should_continue], entrypoint="update_history")
    assert g.entrypoints == ("update_history",)
    # the seed is now what update_history reads from inside the cycle
    assert "response" in g.inputs.required


def test_c16_cycle_of_gates_only_and_cycle_without_gate_rejected():
    @route(targets=["g2", END])
    def g1(x):
        return END

    @route(targets=["g1", END])
    def g2(x):
        return END

    with pytest.raises(GraphConfigError, match="only of gates"):
        Graph([g1, g2])

    @node(output_name="a")
    def f(b):
        return b

    @node(output_name="b")
    def h(a):
        return a

    with pytest.raises(GraphConfigError) as info:
        Graph([f, h])
    assert "no gate" in str(info.value) and "END" in str(info.value)


def _assert_config_error(build, *names):
    with pytest.raises(GraphConfigError) as info:
        build()
    msg = str(info.value)
    for name in names:
        assert name in msg, f"{name!r} not in {msg!r}"
    assert "How to fix:" in msg
    return msg


def test_c17_every_construction_error_names_offender_and_fix():
    def plain(x):
        return x

    @node(output_name="a")
    def n1(x):
        return x

    @node(output_name="a", name="n1")
    def n1_dup(x):
        return x

    @node(output_name="a")
    def n2(x):
        return x

    @node(output_name="b")
    def d1(x=1):
        return x

    @node(output_name="c")
    def d2(x=2):
        return x

    @route(targets=["ghost", END])
    def lost(a):
        return END

    msg = _assert_config_error(lambda: Graph([n1, plain]), "'plain'")
    assert "@node" in msg
    _assert_config_error(lambda: Graph([n1, n1_dup]), "'n1'")
    _assert_config_error(lambda: Graph([n1, n2]), "'n1'", "'n2'", "'a'")
    _assert_config_error(lambda: Graph([n1, lost]), "'lost'", "'ghost'")
    _assert_config_error(lambda: Graph([d1, d2]), "'d1'", "'d2'", "'x'")
    loop = [stream_turn, update_history, should_continue]
    _assert_config_error(lambda: Graph(loop, entrypoint="nope"), "'nope'")
    _assert_config_error(lambda: Graph(loop, entrypoint="should_continue"), "'should_continue'")
    _assert_config_error(lambda: Graph([*loop, n1], entrypoint="n1"), "'n1'", "no cycle")
    _assert_config_error(
        lambda: Graph(loop, entrypoint=("stream_turn", "update_history")), "same cycle"
    )


def test_c18_two_producers_only_in_different_branches_of_one_gate():
    @route(targets=["fast", "slow", END])
    def pick(q):
        return "fast"

    @node(output_name="answer")
    def fast(q):
        return "f"

    @node(output_name="answer")
    def slow(q):
        return "s"

    @node(output_name="final")
    def show(answer):
        return answer.upper()

    g = Graph([pick, fast, slow, show])
    assert g.outputs == ("answer", "final")

    @node(output_name="answer")
    def other(q):
        return "o"

    with pytest.raises(GraphConfigError, match="'answer'"):
        Graph([pick, fast, slow, other, show])


@pytest.mark.asyncio
async def test_c18_branch_producers_run_one_per_decision():
    @route(targets=["fast", "slow", END])
    def pick(q):
        return "slow"

    @node(output_name="answer")
    def fast(q):
        return "f"

    @node(output_name="answer")
    async def slow(q):
        return "s"

    @node(output_name="final")
    def show(answer):
        return answer.upper()

    result = await AsyncRunner().run(Graph([pick, fast, slow, show]), q=1)
    assert result.values == {"answer": "s", "final": "S"}


@pytest.mark.asyncio
async def test_c19_bind_and_with_entrypoint_return_new_graphs():
    g = Graph([stream_response])
    bound = g.bind(messages=[{"role": "user", "content": "hi"}])
    assert g.inputs.required == ("messages",)
    assert bound.inputs.required == () and set(bound.inputs.optional) == {"system", "messages"}
    assert "messages" in bound.defaults and "messages" not in g.defaults
    result = await AsyncRunner().run(bound)
    assert result["response"]
    with pytest.raises(ValueError) as info:
        g.bind(nope=1)
    assert "nope" in str(info.value) and "messages" in str(info.value)

    loop = Graph([stream_turn, update_history, should_continue])
    other = loop.with_entrypoint("update_history")
    assert other.entrypoints == ("update_history",) and loop.entrypoints == ("stream_turn",)
    assert other is not loop
