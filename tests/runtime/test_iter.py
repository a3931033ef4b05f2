"""Section 10: iter() and its bounded, merging buffer (C48-C52)."""

import asyncio

import pytest

from hypergraph import (
    AsyncRunner,
    Graph,
    MissingInputError,
    NodeContext,
    NodeEndEvent,
    NodeStartEvent,
    RunEndEvent,
    RunStartEvent,
    RunStatus,
    StreamingChunkEvent,
    UnknownInputError,
    WorkflowAlreadyRunningError,
    node,
)

from .helpers import TOKENS, Recorder, stream_response
from .test_events import check_run_events

graph = Graph([stream_response])
values = {"messages": [{"role": "user", "content": "Explain quantum computing"}]}


@pytest.mark.asyncio
async def test_c48_guide_iter_example_verbatim():
    runner = AsyncRunner()
    sent = []

    def send_to_client(chunk):
        sent.append(chunk)

    seen = []
    async with runner.iter(graph, workflow_id="chat-1", **values) as handle:
        async for event in handle:
            seen.append(event)
            match event:
                case StreamingChunkEvent(chunk=chunk):
                    send_to_client(chunk)
        result = await handle.result()
    assert sent == TOKENS
    assert isinstance(seen[-1], RunEndEvent) and seen[-1].result is result
    check_run_events(seen)
    assert result.status is RunStatus.COMPLETED and result["response"] == "".join(TOKENS)
    assert handle.workflow_id == "chat-1" and handle.run_id == result.run_id


@pytest.mark.asyncio
async def test_c48_iterating_twice_or_outside_block_raises():
    runner = AsyncRunner()
    async with runner.iter(graph, **values) as handle:
        async for _ in handle:
            pass
        with pytest.raises(RuntimeError, match="only once"):
            async for _ in handle:
                pass
    with pytest.raises(RuntimeError, match="outside"):
        async for _ in handle:
            pass


@pytest.mark.asyncio
async def test_c48_result_without_reading_and_processors_get_everything():
    rec = Recorder()
    runner = AsyncRunner()
    async with runner.iter(graph, event_processors=[rec], **values) as handle:
        result = await handle.result()
    assert result.status is RunStatus.COMPLETED
    assert rec.chunks() == TOKENS and rec.shutdowns == 1


@node(output_name="text")
async def endless(ctx: NodeContext, limit: int = 10**9) -> str:
    out = []
    for _ in range(limit):
        if ctx.stop_requested:
            break
        ctx.stream("x")
        out.append("x")
        await asyncio.sleep(0)
    return "".join(out)


@pytest.mark.asyncio
async def test_c49_break_stops_run_with_iterator_closed_and_leaves_no_task():
    runner = AsyncRunner()
    before = asyncio.all_tasks()
    async with runner.iter(Graph([endless]), workflow_id="brk") as handle:
        async for event in handle:
            if isinstance(event, StreamingChunkEvent):
                break
    result = await handle.result()
    assert result.status is RunStatus.STOPPED
    assert result.stop_info == {"kind": "iterator_closed"} and not result.forced
    assert asyncio.all_tasks() == before
    assert not runner.is_running("brk")


@pytest.mark.asyncio
async def test_c49_exception_in_block_stops_run():
    runner = AsyncRunner()
    with pytest.raises(ZeroDivisionError):
        async with runner.iter(Graph([endless]), workflow_id="exc") as handle:
            async for _event in handle:
                _ = 1 / 0
    result = await handle.result()
    assert result.stopped and result.stop_info == {"kind": "iterator_closed"}


@pytest.mark.asyncio
async def test_c49_cancelling_the_block_task_cancels_the_run():
    runner = AsyncRunner()
    rec = Recorder()
    box = {}

    async def consume():
        async with runner.iter(Graph([endless]), event_processors=[rec]) as handle:
            box["h"] = handle
            async for _ in handle:
                pass

    task = asyncio.ensure_future(consume())
    while len(rec.chunks()) < 3:
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    result = await box["h"].result()
    assert result.stopped and result.forced and result.stop_info is None
    assert rec.events[-1].status is RunStatus.STOPPED


@pytest.mark.asyncio
async def test_c49_handle_stop_after_end_does_not_touch_new_run():
    runner = AsyncRunner()
    async with runner.iter(graph, workflow_id="same", **values) as old:
        async for _ in old:
            pass
    assert old.stop() is False
    async with runner.iter(Graph([endless]), workflow_id="same") as new:
        assert old.stop({"kind": "stale"}) is False
        count = 0
        async for event in new:
            if isinstance(event, StreamingChunkEvent):
                count += 1
                if count == 3:
                    assert new.stop({"kind": "mine"}) is True
        result = await new.result()
    assert result.stop_info == {"kind": "mine"}


@pytest.mark.asyncio
async def test_c50_unread_consumer_stays_bounded_and_nothing_is_hidden():
    """C50: 1,000,000 text chunks streamed while the consumer reads nothing."""
    n = 1_000_000
    size = 64
    sizes = []

    @node(output_name="text")
    async def firehose(ctx: NodeContext) -> str:
        for i in range(n):
            ctx.stream("ab" if i % 2 else "c")
        sizes.append(len(box["h"]._buffer))
        return "done"

    box = {}
    runner = AsyncRunner()
    async with runner.iter(Graph([firehose]), buffer_size=size) as handle:
        box["h"] = handle
        await handle.result()
        events = [e async for e in handle]
    assert sizes[0] <= size + 1  # the buffer never grew past its bound (+ one chunk slot)
    chunks = [e for e in events if isinstance(e, StreamingChunkEvent)]
    text = "".join(e.chunk for e in chunks)
    assert len(text) == n // 2 * 3 and text[:6] == "cabcab"
    seqs = [e.seq for e in events]
    assert seqs == sorted(set(seqs))
    assert seqs[-1] == sum(getattr(e, "merged", 1) for e in events)
    assert sum(e.merged for e in chunks) == n
    assert isinstance(events[0], RunStartEvent) and isinstance(events[-1], RunEndEvent)


@pytest.mark.asyncio
async def test_c50_idle_consumer_sees_one_event_per_call():
    runner = AsyncRunner()
    async with runner.iter(Graph([endless]), limit=200, buffer_size=4) as handle:
        events = [e async for e in handle]
    chunks = [e for e in events if isinstance(e, StreamingChunkEvent)]
    assert len(chunks) == 200 and all(e.merged == 1 for e in chunks)


@pytest.mark.asyncio
async def test_c51_lifecycle_and_non_text_chunks_never_merged_or_dropped():
    @node(output_name="a")
    async def mixed(ctx: NodeContext) -> int:
        for i in range(300):
            ctx.stream("t")
            ctx.stream({"i": i})
            ctx.stream(b"b")
        return 1

    @node(output_name="b")
    async def other(ctx: NodeContext) -> int:
        for _ in range(300):
            ctx.stream("o")
        return 2

    @node(output_name="c")
    def after(a, b):
        return a + b

    rec = Recorder()
    runner = AsyncRunner()
    async with runner.iter(
        Graph([mixed, other, after]), buffer_size=8, event_processors=[rec]
    ) as handle:
        await handle.result()
        events = [e async for e in handle]
    lifecycle = [e for e in events if not isinstance(e, StreamingChunkEvent)]
    assert [type(e) for e in lifecycle] == [
        type(e) for e in rec.events if not isinstance(e, StreamingChunkEvent)
    ]
    dicts = [
        e.chunk for e in events if isinstance(e, StreamingChunkEvent) and isinstance(e.chunk, dict)
    ]
    assert dicts == [{"i": i} for i in range(300)]
    by_node_text = {}
    for e in events:
        if isinstance(e, StreamingChunkEvent) and not isinstance(e.chunk, dict):
            key = (e.node_name, type(e.chunk))
            by_node_text[key] = by_node_text.get(key, e.chunk[:0]) + e.chunk
    assert by_node_text[("mixed", str)] == "t" * 300
    assert by_node_text[("mixed", bytes)] == b"b" * 300
    assert by_node_text[("other", str)] == "o" * 300
    assert len(rec.chunks()) == 1200  # processors got every chunk unmerged
    assert all(e.merged == 1 for e in rec.events if isinstance(e, StreamingChunkEvent))
    assert [e.seq for e in events] == sorted({e.seq for e in events})
    # each node's own events keep their order
    for name in ("mixed", "other"):
        own = [type(e) for e in events if getattr(e, "node_name", None) == name]
        assert own[0] is NodeStartEvent and own[-1] is NodeEndEvent


@pytest.mark.asyncio
async def test_c52_validation_errors_raised_on_entering_before_any_event():
    runner = AsyncRunner()
    rec = Recorder()
    with pytest.raises(MissingInputError):
        async with runner.iter(graph, event_processors=[rec]):
            pytest.fail("entered")
    with pytest.raises(UnknownInputError):
        async with runner.iter(graph, event_processors=[rec], mesages=[]):
            pytest.fail("entered")
    assert rec.events == []
    async with runner.iter(Graph([endless]), workflow_id="busy") as handle:
        with pytest.raises(WorkflowAlreadyRunningError):
            async with runner.iter(Graph([endless]), workflow_id="busy"):
                pytest.fail("entered")
        handle.stop()


@pytest.mark.asyncio
async def test_c48_iter_without_async_with_explains_the_fix():
    with pytest.raises(TypeError, match="async with runner.iter"):
        async for _ in AsyncRunner().iter(graph, **values):
            pass


@pytest.mark.asyncio
async def test_c48_result_reraises_failed_run_error_when_asked():
    @node(output_name="o")
    async def bad(x):
        raise LookupError("no such thing")

    runner = AsyncRunner()
    async with runner.iter(Graph([bad]), x=1) as handle:
        events = [e async for e in handle]  # iter() never raises the node's error
        with pytest.raises(LookupError, match="no such thing"):
            await handle.result()
        result = await handle.result(raise_on_failure=False)
    assert result.failed and isinstance(result.error, LookupError)
    assert type(events[-1]).__name__ == "RunEndEvent" and events[-1].error == "no such thing"
