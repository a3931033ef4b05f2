"""Section 9: stop and status decision (C43-C47)."""

import asyncio
import threading
import time

import pytest

from hypergraph import (
    AsyncRunner,
    Graph,
    NodeContext,
    NodeErrorEvent,
    NodeStartEvent,
    RunStatus,
    StopRequestedEvent,
    StreamingChunkEvent,
    node,
)

from .helpers import Recorder, make_chat_graph, should_continue, update_history
from .test_events import check_run_events


@node(output_name="response", name="stream_turn")
async def async_turn(messages: list, user_input: str, ctx: NodeContext) -> str:
    """The guide's stream_turn with an async client: yields to the loop per token."""
    response = ""
    for i in range(1000):
        if ctx.stop_requested:
            break
        text = f"tok{i} "
        response += text
        ctx.stream(text)
        await asyncio.sleep(0)
    return response


def make_async_chat():
    return make_chat_graph(async_turn)


@pytest.mark.asyncio
async def test_c43_stop_is_sync_true_for_live_false_otherwise_never_raises():
    started = asyncio.Event()

    @node(output_name="o")
    async def wait(x, ctx: NodeContext):
        started.set()
        while not ctx.stop_requested:
            await asyncio.sleep(0.001)
        return "bye"

    runner = AsyncRunner()
    assert runner.stop("nobody") is False
    assert runner.stop(None) is False  # type: ignore[arg-type]
    assert runner.stop(["unhashable"]) is False  # type: ignore[arg-type]
    task = asyncio.ensure_future(runner.run(Graph([wait]), x=1, workflow_id="c43"))
    await started.wait()
    assert runner.stop("c43", info={"kind": "user_stop"}) is True
    assert runner.stop("c43", info={"kind": "second"}) is True  # repeated: keeps first info
    result = await task
    assert result.status is RunStatus.STOPPED and result.stop_info == {"kind": "user_stop"}
    assert runner.stop("c43") is False  # ended


@pytest.mark.asyncio
async def test_c44_stop_semantics_partial_text_one_event_nothing_after():
    rec = Recorder()
    runner = AsyncRunner()

    class StopAfterFive(Recorder):
        def on_event(self, event):
            super().on_event(event)
            if isinstance(event, StreamingChunkEvent) and len(self.of(StreamingChunkEvent)) == 5:
                runner.stop(event.workflow_id, info={"kind": "user_stop"})

    stopper = StopAfterFive()
    result = await runner.run(
        make_async_chat(), messages=[], user_input="hi", event_processors=[stopper, rec]
    )
    assert result.status is RunStatus.STOPPED and result.stop_info == {"kind": "user_stop"}
    assert result["response"] == "".join(rec.chunks())  # exactly the streamed text
    assert len(rec.chunks()) == 5
    assert len(rec.of(StopRequestedEvent)) == 1
    check_run_events(rec.events)
    assert "messages" in result.values  # seed kept as the value of an output
    assert len(rec.of(NodeStartEvent)) == 1


@pytest.mark.asyncio
async def test_c45_guide_loop_stopped_from_another_coroutine_mid_stream():
    runner = AsyncRunner()
    rec = Recorder()
    task = asyncio.ensure_future(
        runner.run(
            make_async_chat(),
            messages=[],
            user_input="hi",
            workflow_id="chat-stop",
            event_processors=[rec],
        )
    )
    # let two turns finish and the third stream a little, then stop from this coroutine
    while len(rec.of(NodeStartEvent)) < 7 or len(rec.chunks()) < 2 * 1000 + 3:
        await asyncio.sleep(0)
    assert runner.stop("chat-stop", info={"kind": "user_stop"}) is True
    result = await task
    assert result.status is RunStatus.STOPPED
    assert len(result["messages"]) < 20
    third = result["response"]
    assert third.startswith("tok0 ") and len(third.split()) < 1000  # mid-stream
    stop_index = rec.kinds().index("StopRequestedEvent")
    assert rec.kinds()[stop_index - 1] == "StreamingChunkEvent"  # landed mid-stream
    check_run_events(rec.events)


@pytest.mark.asyncio
async def test_c45_guide_loop_with_sync_turn_stops_before_20_messages():
    runner = AsyncRunner()
    starts = []

    class StopOnThirdTurn(Recorder):
        def on_event(self, event):
            super().on_event(event)
            if isinstance(event, NodeStartEvent) and event.node_name == "stream_turn":
                starts.append(event)
                if len(starts) == 3:
                    runner.stop(event.workflow_id, info={"kind": "user_stop"})

    result = await runner.run(
        make_chat_graph(), messages=[], user_input="hi", event_processors=[StopOnThirdTurn()]
    )
    assert result.status is RunStatus.STOPPED and len(result["messages"]) == 4
    assert result["response"] == ""  # the guide's node checks stop_requested first


@pytest.mark.asyncio
async def test_c46_grace_cancels_async_node_ignoring_stop():
    started = asyncio.Event()

    @node(output_name="o")
    async def stubborn(x, ctx: NodeContext):
        started.set()
        await asyncio.sleep(3600)
        return "never"

    runner = AsyncRunner()
    rec = Recorder()
    task = asyncio.ensure_future(
        runner.run(Graph([stubborn]), x=1, workflow_id="g1", event_processors=[rec])
    )
    await started.wait()
    assert runner.stop("g1", info="i", grace=0.05) is True
    result = await task
    assert result.status is RunStatus.STOPPED and result.forced is True
    assert result.values == {} and result.stop_info == "i"
    assert rec.of(NodeErrorEvent)[0].error_type == "asyncio.CancelledError"
    check_run_events(rec.events)


@pytest.mark.asyncio
async def test_c46_grace_abandons_sync_node_and_discards_late_result():
    release = threading.Event()
    finished = threading.Event()

    @node(output_name="o")
    def stubborn(x):
        release.wait(10)
        finished.set()
        return "late result"

    runner = AsyncRunner()
    rec = Recorder()
    task = asyncio.ensure_future(
        runner.run(Graph([stubborn]), x=1, workflow_id="g2", event_processors=[rec])
    )
    while not rec.of(NodeStartEvent):
        await asyncio.sleep(0.001)
    assert runner.stop("g2", grace=0.01) is True
    result = await task
    assert result.status is RunStatus.STOPPED and result.forced and result.values == {}
    release.set()
    assert await asyncio.to_thread(finished.wait, 10)
    await asyncio.sleep(0.01)
    assert result.values == {}
    assert rec.of(NodeErrorEvent)[0].error_type == "asyncio.CancelledError"


@pytest.mark.asyncio
async def test_c46_shorter_grace_escalates_cooperative_stop():
    started = asyncio.Event()

    @node(output_name="o")
    async def stubborn(x):
        started.set()
        await asyncio.sleep(3600)

    runner = AsyncRunner()
    task = asyncio.ensure_future(runner.run(Graph([stubborn]), x=1, workflow_id="g3"))
    await started.wait()
    assert runner.stop("g3", info="first") is True  # cooperative, ignored by the node
    await asyncio.sleep(0.01)
    assert not task.done()
    assert runner.stop("g3", info="drain", grace=3600) is True
    await asyncio.sleep(0.01)
    assert not task.done()
    assert runner.stop("g3", info="now", grace=0) is True  # earliest deadline wins
    result = await task
    assert result.forced and result.stop_info == "first"


@pytest.mark.asyncio
async def test_c46_run_ending_before_deadline_is_not_forced():
    @node(output_name="o")
    async def polite(x, ctx: NodeContext):
        while not ctx.stop_requested:
            await asyncio.sleep(0.001)
        return "ok"

    runner = AsyncRunner()
    task = asyncio.ensure_future(runner.run(Graph([polite]), x=1, workflow_id="g4"))
    await asyncio.sleep(0.01)
    assert runner.stop("g4", grace=30) is True
    result = await task
    assert result.forced is False and result["o"] == "ok"


@pytest.mark.asyncio
async def test_c47_stop_racing_run_start():
    """C47: stops landing at every point of a run's start, from the loop, are consistent."""
    runner = AsyncRunner()

    @node(output_name="a")
    async def first(x):
        await asyncio.sleep(0)
        return x

    @node(output_name="b")
    async def second(a):
        await asyncio.sleep(0)
        return a

    outcomes = {True: 0, False: 0}
    for i in range(40):
        rec = Recorder()
        task = asyncio.ensure_future(
            runner.run(Graph([first, second]), x=i, workflow_id=f"r{i}", event_processors=[rec])
        )
        for _ in range(i % 8):  # land the stop at a different step each time
            await asyncio.sleep(0)
        accepted = runner.stop(f"r{i}", info="early")
        outcomes[accepted] += 1
        result = await task
        assert result.status is (RunStatus.STOPPED if accepted else RunStatus.COMPLETED)
        if accepted and not rec.of(NodeStartEvent):
            assert rec.kinds() == ["RunStartEvent", "StopRequestedEvent", "RunEndEvent"]
        check_run_events(rec.events)
    assert outcomes[True] and outcomes[False]  # both sides of the race happened


@pytest.mark.asyncio
async def test_c47_stop_from_thread_racing_run_end_and_errors():
    runner = AsyncRunner()

    @node(output_name="o")
    async def quick(x, ctx: NodeContext):
        for i in range(x % 5):
            ctx.stream(i)
            await asyncio.sleep(0)
        if x % 3 == 0:
            raise ValueError("boom")
        return x

    outcomes = []
    stop_now = threading.Event()
    done = threading.Event()
    target = {"id": None}

    def hammer():
        while not done.is_set():
            if stop_now.wait(0.01):
                wid = target["id"]
                if wid:
                    outcomes.append((wid, runner.stop(wid, info="race")))

    t = threading.Thread(target=hammer, daemon=True)
    t.start()
    results = {}
    for i in range(60):
        wid = f"e{i}"
        target["id"] = wid
        stop_now.set()
        rec = Recorder()
        res = await runner.run(
            Graph([quick]), x=i, workflow_id=wid, event_processors=[rec], error_handling="continue"
        )
        stop_now.clear()
        results[wid] = res
        check_run_events(rec.events)
        assert rec.events[-1].status is res.status
    done.set()
    t.join(5)
    for wid, accepted in outcomes:
        if accepted:
            assert results[wid].status is RunStatus.STOPPED, wid


@pytest.mark.asyncio
async def test_c47_node_error_racing_stop_decides_once():
    runner = AsyncRunner()

    @node(output_name="a")
    async def fails(x):
        await asyncio.sleep(0)
        raise ValueError("first")

    @node(output_name="b")
    async def stops(x, ctx: NodeContext):
        await asyncio.sleep(0)
        runner.stop(ctx.workflow_id, info="late")
        return "b"

    for order in range(2):
        nodes = [fails, stops] if order == 0 else [stops, fails]
        rec = Recorder()
        res = await runner.run(Graph(nodes), x=1, event_processors=[rec], error_handling="continue")
        check_run_events(rec.events)
        if res.status is RunStatus.FAILED:
            assert not rec.of(StopRequestedEvent) and res.stop_info is None
        else:
            assert res.status is RunStatus.STOPPED and res.error is None
            assert len(rec.of(StopRequestedEvent)) == 1


def test_helpers_used():
    assert update_history and should_continue and time
