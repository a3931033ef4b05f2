"""Extra behaviours around the C items: sequential cycles, stop at once in iter(), error names."""

import asyncio

import pytest

from hypergraph import (
    END,
    AsyncRunner,
    Graph,
    NodeErrorEvent,
    NodeOutputError,
    NodeStartEvent,
    RunStatus,
    StopRequestedEvent,
    node,
    route,
)

from .helpers import Recorder
from .test_events import check_run_events


@node(output_name="a_n")
def a_step(a_n: int) -> int:
    return a_n + 1


@route(targets=["a_step", END])
def a_gate(a_n: int):
    return "a_step" if a_n < 3 else END


@node(output_name="b_n")
def b_step(b_n: int, a_n: int) -> int:
    return b_n + a_n


@route(targets=["b_step", END])
def b_gate(b_n: int):
    return "b_step" if b_n < 10 else END


@pytest.mark.asyncio
async def test_c21_c23_second_cycle_starts_after_the_first_finished():
    """C21/C23: a cycle reading another cycle's output starts after it, with its final value."""
    g = Graph([b_step, b_gate, a_step, a_gate])
    assert g.entrypoints == ("b_step", "a_step")
    assert set(g.inputs.required) == {"a_n", "b_n"}
    rec = Recorder()
    result = await AsyncRunner().run(g, a_n=0, b_n=0, event_processors=[rec])
    starts = [e.node_name for e in rec.of(NodeStartEvent)]
    assert starts.index("b_step") > max(i for i, n in enumerate(starts) if n == "a_step")
    assert result.values == {"b_n": 12, "a_n": 3}
    check_run_events(rec.events)
    g2 = Graph([b_step, b_gate, a_step, a_gate], entrypoint=("a_step", "b_step"))
    assert g2.entrypoints == ("b_step", "a_step")


@pytest.mark.asyncio
async def test_c44_handle_stop_before_the_run_task_started():
    """C44/C47: a stop inside the block before the first superstep: STOPPED, no node ran."""

    @node(output_name="o")
    async def never(x):
        raise AssertionError("ran")

    runner = AsyncRunner()
    async with runner.iter(Graph([never]), x=1) as handle:
        assert handle.stop({"kind": "now"}) is True
        events = [e async for e in handle]
    assert [type(e).__name__ for e in events] == [
        "RunStartEvent",
        "StopRequestedEvent",
        "RunEndEvent",
    ]
    assert events[-1].result.stop_info == {"kind": "now"}


@pytest.mark.asyncio
async def test_c42_error_type_names_as_users_import_them():
    @node(output_name=("a", "b"))
    def bad(x):
        return x

    rec = Recorder()
    res = await AsyncRunner().run(
        Graph([bad]), x=1, event_processors=[rec], error_handling="continue"
    )
    assert isinstance(res.error, NodeOutputError)
    assert rec.of(NodeErrorEvent)[0].error_type == "hypergraph.NodeOutputError"


@pytest.mark.asyncio
async def test_c24_worker_threads_are_reused_and_concurrent_sync_nodes_do_not_block_each_other():
    import threading

    barrier = threading.Barrier(3, timeout=10)
    names = set()

    def make(i):
        @node(output_name=f"o{i}", name=f"n{i}")
        def f(x):
            names.add(threading.current_thread().name)
            barrier.wait()  # all three must run at once
            return i

        return f

    runner = AsyncRunner()
    g = Graph([make(i) for i in range(3)])
    result = await runner.run(g, x=1)
    assert result.values == {"o0": 0, "o1": 1, "o2": 2}
    first = set(names)
    names.clear()
    barrier.reset()
    await runner.run(g, x=1)
    assert names == first  # the same daemon threads served the second run


@pytest.mark.asyncio
async def test_c46_grace_on_concurrent_nodes_cancels_only_the_stubborn_one():
    @node(output_name="a")
    async def polite(x, ctx):
        return x

    @node(output_name="b")
    async def stubborn(x):
        await asyncio.sleep(3600)

    from hypergraph import NodeContext

    @node(output_name="c")
    async def cooperative(x, ctx: NodeContext):
        while not ctx.stop_requested:
            await asyncio.sleep(0.001)
        return "stopped"

    runner = AsyncRunner()
    rec = Recorder()
    task = asyncio.ensure_future(
        runner.run(Graph([stubborn, cooperative]), x=1, workflow_id="mix", event_processors=[rec])
    )
    while len(rec.of(NodeStartEvent)) < 2:
        await asyncio.sleep(0.001)
    assert runner.stop("mix", grace=0.05) is True
    result = await task
    assert result.status is RunStatus.STOPPED and result.forced
    assert result.values == {"c": "stopped"}
    assert [e.node_name for e in rec.of(NodeErrorEvent)] == ["stubborn"]
    assert len(rec.of(StopRequestedEvent)) == 1
    check_run_events(rec.events)
    assert polite.inputs == ("x", "ctx")


@pytest.mark.asyncio
@pytest.mark.parametrize("choice,loops", [("spin", 3), ("skip", 0), (END, 0)])
async def test_c13_gate_outside_a_cycle_decides_whether_it_starts(choice, loops):
    """C13: a cycle's entrypoint targeted by an outside gate waits for that gate's decision."""
    spins = []

    @route(targets=["spin", "skip", END])
    def choose(q):
        return choice

    @node(output_name="n")
    def spin(n):
        spins.append(n)
        return n + 1

    @route(targets=["spin", END])
    def more(n):
        return "spin" if n < 3 else END

    @node(output_name="skipped")
    def skip(q):
        return True

    rec = Recorder()
    g = Graph([choose, spin, more, skip])
    assert g.entrypoints == ("spin",)
    result = await AsyncRunner().run(g, q=1, n=0, event_processors=[rec])
    assert len(spins) == loops and result.completed
    starts = [e.node_name for e in rec.of(NodeStartEvent)]
    assert starts[0] == "choose"
