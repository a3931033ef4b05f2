"""Section 12: errors (C56)."""

import pytest

from hypergraph import (
    END,
    AsyncRunner,
    Graph,
    GraphConfigError,
    HypergraphError,
    InfiniteLoopError,
    InvalidRouteError,
    MissingInputError,
    NodeOutputError,
    UnknownInputError,
    WorkflowAlreadyRunningError,
    node,
    route,
)


@node(output_name="y")
def ident(x):
    return x


@node(output_name=("a", "b"))
def pair(x):
    return x


@route(targets=["ident", END])
def bad_gate(x):
    return "elsewhere"


@node(output_name="n")
def inc(n):
    return n + 1


@route(targets=["inc", END])
def loop(n):
    return "inc"


async def _raise(coro_factory):
    try:
        await coro_factory()
    except Exception as exc:  # noqa: BLE001
        return exc
    raise AssertionError("no error")


@pytest.mark.asyncio
async def test_c56_every_error_type_in_its_situation():
    runner = AsyncRunner()
    cases = []
    try:
        Graph([ident, ident])
    except Exception as exc:  # noqa: BLE001
        cases.append((exc, GraphConfigError, ValueError, "'ident'"))
    cases.append(
        (await _raise(lambda: runner.run(Graph([ident]))), MissingInputError, ValueError, "'x'")
    )
    cases.append(
        (
            await _raise(lambda: runner.run(Graph([ident]), z=1)),
            UnknownInputError,
            ValueError,
            "'z'",
        )
    )
    cases.append(
        (
            await _raise(lambda: runner.run(Graph([pair]), x=1)),
            NodeOutputError,
            ValueError,
            "'pair'",
        )
    )

    @node(output_name="x")
    def src(q):
        return q

    cases.append(
        (
            await _raise(lambda: runner.run(Graph([src, bad_gate, ident]), q=1)),
            InvalidRouteError,
            ValueError,
            "'elsewhere'",
        )
    )
    cases.append(
        (
            await _raise(lambda: runner.run(Graph([inc, loop]), n=0, max_iterations=2)),
            InfiniteLoopError,
            RuntimeError,
            "'inc'",
        )
    )
    import asyncio

    gate = asyncio.Event()

    @node(output_name="o")
    async def wait(x):
        await gate.wait()

    first = asyncio.ensure_future(runner.run(Graph([wait]), x=1, workflow_id="dup"))
    await asyncio.sleep(0)
    cases.append(
        (
            await _raise(lambda: runner.run(Graph([wait]), x=1, workflow_id="dup")),
            WorkflowAlreadyRunningError,
            RuntimeError,
            "'dup'",
        )
    )
    gate.set()
    await first
    assert len(cases) == 7
    for exc, cls, builtin, offender in cases:
        assert type(exc) is cls, exc
        assert isinstance(exc, HypergraphError) and isinstance(exc, builtin)
        assert offender in str(exc), (cls, str(exc))
        assert "How to fix" in str(exc), (cls, str(exc))
