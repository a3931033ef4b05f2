"""Section 5: supersteps and execution (C20-C26)."""

import asyncio
import threading

import pytest

from hypergraph import (
    END,
    AsyncRunner,
    Graph,
    InfiniteLoopError,
    NodeContext,
    NodeEndEvent,
    NodeErrorEvent,
    NodeStartEvent,
    RunStatus,
    StopRequestedEvent,
    SuperstepStartEvent,
    node,
    route,
)

from .helpers import Recorder, make_chat_graph, should_continue, update_history


def supersteps_of(rec: Recorder) -> dict[str, list[int]]:
    step, where = None, {}
    for e in rec.events:
        if isinstance(e, SuperstepStartEvent):
            step = e.superstep
        elif isinstance(e, NodeStartEvent):
            where.setdefault(e.node_name, []).append(step)
    return where


@pytest.mark.asyncio
async def test_c20_independent_async_nodes_overlap():
    """C20: two async nodes of one superstep overlap: each waits for the other at a barrier."""
    barrier = asyncio.Barrier(2)

    @node(output_name="a")
    async def left(x):
        await asyncio.wait_for(barrier.wait(), 10)
        await asyncio.sleep(0.2)
        return "L"

    @node(output_name="b")
    async def right(x):
        await asyncio.wait_for(barrier.wait(), 10)
        await asyncio.sleep(0.2)
        return "R"

    @node(output_name="c")
    def join(a, b):
        return a + b

    rec = Recorder()
    result = await AsyncRunner().run(Graph([left, right, join]), x=1, event_processors=[rec])
    assert result["c"] == "LR"
    assert supersteps_of(rec) == {"left": [0], "right": [0], "join": [1]}
    kinds = [(type(e).__name__, getattr(e, "node_name", None)) for e in rec.events][:6]
    # both start before either ends
    assert kinds[2:4] == [("NodeStartEvent", "left"), ("NodeStartEvent", "right")]


@pytest.mark.asyncio
async def test_c20_sync_and_async_nodes_overlap():
    started = threading.Event()
    release = threading.Event()

    @node(output_name="a")
    def blocking(x):
        started.set()
        return release.wait(10)

    @node(output_name="b")
    async def waiter(x):
        while not started.is_set():
            await asyncio.sleep(0.001)
        release.set()
        return True

    result = await AsyncRunner().run(Graph([blocking, waiter]), x=1)
    assert result.values == {"a": True, "b": True}


@pytest.mark.asyncio
async def test_c21_no_early_run_on_default_while_producer_can_run():
    @node(output_name="a")
    async def slow(x):
        await asyncio.sleep(0.01)
        return "produced"

    @node(output_name="b")
    def uses(a="default"):
        return a

    @node(output_name="c")
    def mid(x):
        return x

    result = await AsyncRunner().run(Graph([slow, uses, mid]), x=1)
    assert result["b"] == "produced"


@pytest.mark.asyncio
async def test_c21_node_after_untaken_branch_still_runs():
    @route(targets=["left", "right"])
    def pick(q):
        return "left"

    @node(output_name="l")
    def left(q):
        return "L"

    @node(output_name="r")
    def right(q):
        return "R"

    @node(output_name="out")
    def after(l, r="no-right"):  # noqa: E741
        return f"{l}/{r}"

    result = await AsyncRunner().run(Graph([pick, left, right, after]), q=1)
    assert result["out"] == "L/no-right"


@pytest.mark.asyncio
async def test_c21_downstream_of_cycle_runs_once_after_it_with_final_values():
    seen = []

    @node(output_name="summary")
    def summarize(messages):
        seen.append(len(messages))
        return len(messages)

    graph = Graph([*make_chat_graph().nodes.values(), summarize])
    rec = Recorder()
    result = await AsyncRunner().run(graph, messages=[], user_input="hi", event_processors=[rec])
    assert seen == [20] and result["summary"] == 20
    where = supersteps_of(rec)
    assert where["summarize"] == [30] and max(where["stream_turn"]) < 30


@pytest.mark.asyncio
async def test_c22_guide_loop_runs_ten_turns_and_completes():
    rec = Recorder()
    result = await AsyncRunner().run(
        make_chat_graph(), messages=[], user_input="hello", event_processors=[rec]
    )
    assert result.status is RunStatus.COMPLETED
    assert len(result["messages"]) == 20
    where = supersteps_of(rec)
    assert len(where["stream_turn"]) == 10
    assert len(rec.of(SuperstepStartEvent)) == 30
    assert where["stream_turn"][:2] == [0, 3] and where["update_history"][0] == 1
    assert where["should_continue"][0] == 2


@pytest.mark.asyncio
async def test_c22_same_value_every_pass_still_loops():
    """C22 [ours]: versions count writes, not changes."""

    @node(output_name="response")
    async def parrot(messages: list, user_input: str) -> str:
        return "same answer"

    calls = {"n": 0}

    @node(output_name="response2")
    def echo(response):
        calls["n"] += 1
        return response

    @route(targets=["parrot", END])
    def more(response2):
        return "parrot" if calls["n"] < 5 else END

    result = await AsyncRunner().run(Graph([parrot, echo, more]), messages=[], user_input="x")
    assert calls["n"] == 5 and result.status is RunStatus.COMPLETED


@pytest.mark.asyncio
async def test_c23_only_entrypoint_starts_a_cycle():
    rec = Recorder()
    await AsyncRunner().run(
        make_chat_graph(),
        messages=[{"role": "user", "content": "x"}] * 18,
        user_input="hi",
        event_processors=[rec],
    )
    where = supersteps_of(rec)
    # seeds given as run inputs do not make update_history or should_continue ready
    assert where == {"stream_turn": [0], "update_history": [1], "should_continue": [2]}


@pytest.mark.asyncio
async def test_c24_sync_node_runs_in_worker_thread_and_loop_stays_responsive():
    loop_thread = threading.get_ident()
    unblock = threading.Event()
    info = {}

    @node(output_name="t")
    def blocking(x):
        info["thread"] = threading.get_ident()
        info["daemon"] = threading.current_thread().daemon
        return unblock.wait(10)

    async def pinger():
        # runs while the sync node blocks: the loop is not stalled
        while "thread" not in info:
            await asyncio.sleep(0.001)
        unblock.set()

    ping = asyncio.ensure_future(pinger())
    result = await AsyncRunner().run(Graph([blocking]), x=1)
    await ping
    assert result["t"] is True
    assert info["thread"] != loop_thread and info["daemon"] is True


@pytest.mark.asyncio
async def test_c25_max_iterations_fails_with_infinite_loop_error():
    @node(output_name="n")
    def inc(n):
        return n + 1

    @route(targets=["inc", END])
    def forever(n):
        return "inc"

    runner = AsyncRunner()
    result = await runner.run(
        Graph([inc, forever]), n=0, max_iterations=7, error_handling="continue"
    )
    assert result.status is RunStatus.FAILED
    assert isinstance(result.error, InfiniteLoopError)
    msg = str(result.error)
    assert "inc" in msg and "7" in msg and "How to fix" in msg
    assert result["n"] == 7
    with pytest.raises(InfiniteLoopError):
        await runner.run(Graph([inc, forever]), n=0, max_iterations=3)


@pytest.mark.asyncio
async def test_c25_default_limit_is_1000():
    @node(output_name="n")
    def inc(n):
        return n + 1

    @route(targets=["inc", END])
    def forever(n):
        return "inc"

    result = await AsyncRunner().run(Graph([inc, forever]), n=0, error_handling="continue")
    assert isinstance(result.error, InfiniteLoopError) and result["n"] == 1000


@pytest.mark.asyncio
async def test_c26_node_error_stops_siblings_keeps_outputs_fails_run():
    sibling_saw_stop = asyncio.Event()

    @node(output_name="a")
    async def boom(x):
        await asyncio.sleep(0)
        raise ValueError("boom at x")

    @node(output_name="b")
    async def patient(x, ctx: NodeContext):
        for _ in range(5000):
            if ctx.stop_requested:
                sibling_saw_stop.set()
                ctx.stream("after stop")  # quiet: emits nothing
                return "partial"
            ctx.stream(".")
            await asyncio.sleep(0.001)
        return "full"

    @node(output_name="c")
    def later(a, b):
        return "never"

    rec = Recorder()
    result = await AsyncRunner().run(
        Graph([boom, patient, later]), x=1, event_processors=[rec], error_handling="continue"
    )
    assert result.status is RunStatus.FAILED
    assert isinstance(result.error, ValueError) and str(result.error) == "boom at x"
    assert result.values == {"b": "partial"}
    assert sibling_saw_stop.is_set()
    assert "after stop" not in rec.chunks()
    assert not rec.of(StopRequestedEvent) and result.stop_info is None
    errors = rec.of(NodeErrorEvent)
    assert [(e.node_name, e.error_type) for e in errors] == [("boom", "ValueError")]
    assert {e.node_name for e in rec.of(NodeEndEvent)} == {"patient"}
    assert len(rec.of(SuperstepStartEvent)) == 1


def test_helpers_import_guards():
    assert should_continue.targets and update_history.outputs == ("messages",)
