"""Section 8: events (C39-C42)."""

import asyncio
import dataclasses

import pytest

from hypergraph import (
    AsyncRunner,
    BaseEvent,
    Graph,
    NodeContext,
    NodeEndEvent,
    NodeErrorEvent,
    NodeStartEvent,
    RouteDecisionEvent,
    RunEndEvent,
    RunStartEvent,
    RunStatus,
    StopRequestedEvent,
    StreamingChunkEvent,
    SuperstepStartEvent,
    node,
)

from .helpers import Recorder, make_chat_graph

BASE = ["run_id", "workflow_id", "seq", "timestamp", "span_id", "parent_span_id"]
OWN = {
    RunStartEvent: ["graph_name"],
    SuperstepStartEvent: ["superstep"],
    NodeStartEvent: ["node_name"],
    StreamingChunkEvent: ["node_name", "chunk", "merged"],
    RouteDecisionEvent: ["node_name", "decision"],
    NodeEndEvent: ["node_name", "duration_ms", "usage"],
    NodeErrorEvent: ["node_name", "error", "error_type"],
    StopRequestedEvent: ["info"],
    RunEndEvent: ["status", "error", "duration_ms", "result"],
}
NODE_EVENTS = (
    NodeStartEvent,
    StreamingChunkEvent,
    RouteDecisionEvent,
    NodeEndEvent,
    NodeErrorEvent,
)


def test_c39_event_classes_and_fields():
    assert [f.name for f in dataclasses.fields(BaseEvent)] == BASE
    for cls, own in OWN.items():
        assert issubclass(cls, BaseEvent)
        assert [f.name for f in dataclasses.fields(cls)] == BASE + own, cls


def test_c39_match_and_immutability():
    ev = StreamingChunkEvent("r", "w", 1, 0.0, "s", "p", "n", "hello")
    assert ev.merged == 1
    match ev:
        case StreamingChunkEvent(chunk=chunk):
            got = chunk
        case _:
            got = None
    assert got == "hello"
    with pytest.raises(dataclasses.FrozenInstanceError):
        ev.chunk = "x"  # type: ignore[misc]


def check_run_events(events: list) -> None:
    """C40-C42 invariants over one run's events as processors saw them."""
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert isinstance(events[0], RunStartEvent) and isinstance(events[-1], RunEndEvent)
    assert sum(isinstance(e, RunStartEvent) for e in events) == 1
    assert sum(isinstance(e, RunEndEvent) for e in events) == 1
    assert sum(isinstance(e, StopRequestedEvent) for e in events) <= 1
    run_span = events[0].span_id
    spans: dict[str, list] = {}
    for e in events:
        assert e.run_id == events[0].run_id and e.workflow_id == events[0].workflow_id
        if isinstance(e, NODE_EVENTS):
            assert e.parent_span_id == run_span and e.span_id != run_span
            spans.setdefault(e.span_id, []).append(e)
        else:
            assert e.span_id == run_span and e.parent_span_id is None
    for evs in spans.values():
        kinds = [type(e) for e in evs]
        assert kinds[0] is NodeStartEvent, kinds
        assert kinds[-1] in (NodeEndEvent, NodeErrorEvent), kinds
        assert kinds.count(NodeStartEvent) == 1
        assert kinds.count(NodeEndEvent) + kinds.count(NodeErrorEvent) == 1
        middle = kinds[1:-1]
        assert all(k in (StreamingChunkEvent, RouteDecisionEvent) for k in middle)
        if RouteDecisionEvent in middle:
            assert middle.index(RouteDecisionEvent) == len(middle) - 1
        assert len({e.node_name for e in evs}) == 1
    stops = [i for i, e in enumerate(events) if isinstance(e, StopRequestedEvent)]
    if stops:
        after = events[stops[0] :]
        assert not any(isinstance(e, (StreamingChunkEvent, SuperstepStartEvent)) for e in after)


@pytest.mark.asyncio
async def test_c40_c41_c42_loop_events_seq_spans_and_order():
    rec = Recorder()
    await AsyncRunner().run(make_chat_graph(), messages=[], user_input="hi", event_processors=[rec])
    check_run_events(rec.events)
    starts = rec.of(NodeStartEvent)
    assert len(starts) == 30 and len({e.span_id for e in starts}) == 30  # one span per execution
    for ev in rec.events:
        if isinstance(ev, RouteDecisionEvent):
            assert ev.node_name == "should_continue"


@pytest.mark.asyncio
async def test_c41_chunk_and_end_share_the_execution_span():
    @node(output_name="o")
    async def talk(x, ctx: NodeContext):
        ctx.stream("a")
        ctx.stream("b")
        return "ab"

    rec = Recorder()
    await AsyncRunner().run(Graph([talk]), x=1, event_processors=[rec])
    run_span = rec.events[0].span_id
    node_events = [e for e in rec.events if isinstance(e, NODE_EVENTS)]
    assert len({e.span_id for e in node_events}) == 1
    assert {e.parent_span_id for e in node_events} == {run_span}


@pytest.mark.asyncio
async def test_c42_failing_node_gets_error_event_and_no_end_event():
    @node(output_name="o")
    async def bad(x, ctx: NodeContext):
        ctx.stream("before")
        raise RuntimeError("kaput")

    rec = Recorder()
    result = await AsyncRunner().run(
        Graph([bad]), x=1, event_processors=[rec], error_handling="continue"
    )
    check_run_events(rec.events)
    assert rec.kinds() == [
        "RunStartEvent", "SuperstepStartEvent", "NodeStartEvent", "StreamingChunkEvent",
        "NodeErrorEvent", "RunEndEvent",
    ]  # fmt: skip
    err = rec.of(NodeErrorEvent)[0]
    assert err.error == "kaput" and err.error_type == "RuntimeError"
    end = rec.events[-1]
    assert end.status is RunStatus.FAILED and end.error == "kaput" and end.result is not None
    assert result.status is RunStatus.FAILED


@pytest.mark.asyncio
async def test_c42_cancelled_node_gets_cancelled_error_event():
    started = asyncio.Event()

    @node(output_name="o")
    async def slow(x):
        started.set()
        await asyncio.sleep(3600)

    rec = Recorder()
    runner = AsyncRunner()
    task = asyncio.ensure_future(
        runner.run(Graph([slow]), x=1, event_processors=[rec], workflow_id="c42")
    )
    await started.wait()
    assert runner.stop("c42", grace=0) is True
    result = await task
    check_run_events(rec.events)
    assert rec.kinds()[-3:] == ["StopRequestedEvent", "NodeErrorEvent", "RunEndEvent"]
    assert rec.of(NodeErrorEvent)[0].error_type == "asyncio.CancelledError"
    assert result.status is RunStatus.STOPPED and result.forced


@pytest.mark.asyncio
async def test_c42_concurrent_nodes_interleave_but_keep_their_own_order():
    @node(output_name="a")
    async def left(x, ctx: NodeContext):
        for i in range(5):
            ctx.stream(f"L{i}")
            await asyncio.sleep(0)
        return 1

    @node(output_name="b")
    async def right(x, ctx: NodeContext):
        for i in range(5):
            ctx.stream(f"R{i}")
            await asyncio.sleep(0)
        return 2

    rec = Recorder()
    await AsyncRunner().run(Graph([left, right]), x=1, event_processors=[rec])
    check_run_events(rec.events)
    chunks = rec.chunks()
    assert [c for c in chunks if c[0] == "L"] == [f"L{i}" for i in range(5)]
    assert chunks[:2] == ["L0", "R0"]  # interleaved
