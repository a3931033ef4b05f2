"""Section 2: nodes (C3-C8)."""

# ruff: noqa: UP007, UP037, UP045, F821  (old annotation forms and quoting are under test)
from __future__ import annotations

import asyncio
from typing import Optional
from unittest.mock import MagicMock

import pytest

from hypergraph import (
    AsyncRunner,
    FunctionNode,
    Graph,
    GraphConfigError,
    NodeContext,
    NodeOutputError,
    RunStatus,
    node,
)

from .helpers import stream_response


def test_c3_bare_and_called_decorators_on_sync_and_async():
    @node
    def side(x):
        return None

    @node(output_name="y")
    async def double(x: int, factor: int = 2) -> int:
        return x * factor

    @node("pair", name="renamed")
    def p(a, b):
        return a, b

    assert isinstance(side, FunctionNode) and side.outputs == () and side.name == "side"
    assert double.name == "double" and double.inputs == ("x", "factor")
    assert double.outputs == ("y",) and double.defaults == {"factor": 2}
    assert double.is_async is True and side.is_async is False
    assert p.name == "renamed" and p.outputs == ("pair",)
    assert double.func.__name__ == "double"


def test_c3_tuple_outputs_and_rename_inputs():
    @node(output_name=("q", "r"), rename_inputs={"a": "dividend"})
    def divmod_(a, b):
        return divmod(a, b)

    assert divmod_.outputs == ("q", "r")
    assert divmod_.inputs == ("dividend", "b")


@pytest.mark.asyncio
async def test_c4_direct_call_is_the_plain_function():
    @node(output_name="y")
    async def a(x):
        return x + 1

    @node(output_name="y")
    def s(x):
        return x + 1

    coro = a(1)
    assert asyncio.iscoroutine(coro)
    assert await coro == 2
    assert s(1) == 2
    assert s(x=5) == 6


@pytest.mark.asyncio
async def test_c4_guide_unit_test_stream_response_with_mock():
    """C4: the guide's test_stream_response with MagicMock(spec=NodeContext)."""
    ctx = MagicMock(spec=NodeContext)
    ctx.stop_requested = False

    result = await stream_response(
        messages=[{"role": "user", "content": "Say hello"}],
        ctx=ctx,
    )
    assert len(result) > 0
    assert ctx.stream.called  # chunks were emitted


@pytest.mark.asyncio
async def test_c4_guide_unit_test_stream_stops_with_mock():
    """C4: the guide's test_stream_stops."""
    ctx = MagicMock(spec=NodeContext)
    ctx.stop_requested = True

    result = await stream_response(
        messages=[{"role": "user", "content": "Write a novel"}],
        ctx=ctx,
    )
    assert result == ""  # stopped immediately


def test_c5_non_functions_and_generators_are_rejected():
    with pytest.raises(TypeError, match="needs a function"):
        node(output_name="x")(42)

    class K:
        pass

    with pytest.raises(TypeError, match="K"):
        node(K)

    def gen(x):
        yield x

    async def agen(x):
        yield x

    for f in (gen, agen):
        with pytest.raises(TypeError) as info:
            node(output_name="y")(f)
        msg = str(info.value)
        assert f.__name__ in msg and "ctx.stream" in msg and "return the final value" in msg


def test_c6_context_detected_by_annotation_forms_and_any_name():
    @node(output_name="a")
    async def by_class(x, context: NodeContext):
        return x

    @node(output_name="a")
    async def by_optional(x, c: Optional[NodeContext] = None):
        return x

    @node(output_name="a")
    async def by_union(x, c: NodeContext | None = None):
        return x

    @node(output_name="a")
    async def by_string(x, c: "NodeContext"):
        return x

    for n in (by_class, by_optional, by_union, by_string):
        assert n.inputs == ("x",), n
        assert n.ctx_param is not None


def test_c6_string_annotations_under_future_import():
    """C6: this module uses `from __future__ import annotations`, so these are strings."""

    @node(output_name="a")
    async def f(x: int, ctx: NodeContext):
        return x

    @node(output_name="a")
    async def g(x: int, ctx: "hypergraph.NodeContext"):
        return x

    assert f.__wrapped__.__annotations__["ctx"] == "NodeContext"
    assert f.inputs == ("x",) and f.ctx_param == "ctx"
    assert g.inputs == ("x",)


def test_c6_two_contexts_rejected():
    with pytest.raises(TypeError, match="two NodeContext parameters"):

        @node(output_name="a")
        async def f(x, c1: NodeContext, c2: NodeContext):
            return x


def test_c6_unannotated_ctx_is_an_ordinary_input():
    @node(output_name="a")
    def f(x, ctx):
        return x

    assert f.inputs == ("x", "ctx")
    assert f.ctx_param is None


@pytest.mark.asyncio
async def test_c6_unresolvable_other_annotations_do_not_leak_ctx_into_inputs():
    """C6 [ours]: an unresolvable annotation elsewhere does not turn ctx into an input."""

    @node(output_name="a")
    async def f(x: "UndefinedType", ctx: NodeContext) -> "AlsoUndefined":
        ctx.stream("hi")
        return x

    assert f.inputs == ("x",)
    result = await AsyncRunner().run(Graph([f]), x=3)
    assert result["a"] == 3


@pytest.mark.asyncio
async def test_c7_tuple_output_unpacks_and_wrong_shapes_fail():
    @node(output_name=("q", "r"))
    def dm(a, b):
        return divmod(a, b)

    runner = AsyncRunner()
    result = await runner.run(Graph([dm]), a=7, b=2)
    assert result.values == {"q": 3, "r": 1}

    @node(output_name=("q", "r", "s"))
    def short(a):
        return (a, a)

    res = await runner.run(Graph([short]), a=1, error_handling="continue")
    assert res.status is RunStatus.FAILED
    assert isinstance(res.error, NodeOutputError)
    msg = str(res.error)
    assert "short" in msg and "3" in msg and "tuple of 2" in msg and "How to fix" in msg

    @node(output_name=("q", "r"))
    def not_tuple(a):
        return [a, a]

    with pytest.raises(NodeOutputError, match="not_tuple.*list, not a tuple"):
        await runner.run(Graph([not_tuple]), a=1)


@pytest.mark.parametrize("bad", ["1x", "class", "_private", "END", "a-b"])
def test_c8_bad_output_names_rejected_at_decoration(bad):
    with pytest.raises(ValueError) as info:

        @node(output_name=bad)
        def f(x):
            return x

    assert repr(bad) in str(info.value) and "How to fix" in str(info.value)


@pytest.mark.parametrize("bad", ["_hidden", "END", "for"])
def test_c8_bad_node_names_rejected(bad):
    with pytest.raises(ValueError) as info:

        @node(output_name="y", name=bad)
        def f(x):
            return x

    assert repr(bad) in str(info.value) and "How to fix" in str(info.value)


def test_c8_graph_rejects_bad_names_with_graph_config_error():
    @node(output_name="y")
    def f(x):
        return x

    f.name = "END"  # bypass decoration checks
    with pytest.raises(GraphConfigError, match="'END'"):
        Graph([f])
