"""Event processors (C53, C55): typed hooks set on instances are called, async hooks on sync processors are refused before the run, and a processor that raises (even CancelledError) never harms the run."""

from __future__ import annotations

import asyncio
import logging

import pytest

from hypergraph import (
    AsyncEventProcessor,
    AsyncRunner,
    EventProcessor,
    Graph,
    NodeContext,
    RunEndEvent,
    RunStatus,
    StreamingChunkEvent,
    node,
)

from .helpers import Recorder
from .test_events import check_run_events


@node(output_name="o")
async def quick(x):
    await asyncio.sleep(0)
    return x


@node(output_name="text")
async def two_chunks(x, ctx: NodeContext):
    ctx.stream("a")
    ctx.stream("b")
    return "ab"


class _CancelledOnChunk(AsyncEventProcessor):
    def __init__(self) -> None:
        self.events: list = []
        self.shutdowns = 0

    async def on_event_async(self, event):
        self.events.append(event)
        if isinstance(event, StreamingChunkEvent):
            fut = asyncio.get_running_loop().create_future()
            fut.cancel()
            await fut  # raises CancelledError although nobody cancelled the run

    async def shutdown_async(self):
        self.shutdowns += 1


class _SyncCancelledOnChunk(EventProcessor):
    def on_event(self, event):
        if isinstance(event, StreamingChunkEvent):
            raise asyncio.CancelledError


@pytest.mark.asyncio
async def test_c55_processor_raising_cancelled_error_is_logged_and_run_unaffected(caplog):
    """C55: an async processor whose handler raises CancelledError is logged and skipped
    like any failing processor: ``run()`` is not cancelled and the other processors
    still get every event up to RunEndEvent."""
    runner = AsyncRunner()
    bad, rec, sync_bad = _CancelledOnChunk(), Recorder(), _SyncCancelledOnChunk()
    with caplog.at_level(logging.ERROR, logger="hypergraph"):
        result = await runner.run(Graph([two_chunks]), x=1, event_processors=[bad, sync_bad, rec])
    assert result.status is RunStatus.COMPLETED and result["text"] == "ab"
    assert [type(e) for e in bad.events] == [type(e) for e in rec.events]
    assert isinstance(bad.events[-1], RunEndEvent) and bad.shutdowns == 1
    check_run_events(rec.events)
    assert rec.chunks() == ["a", "b"]
    assert "_CancelledOnChunk" in caplog.text and "_SyncCancelledOnChunk" in caplog.text

    async with runner.iter(Graph([two_chunks]), x=1, event_processors=[_CancelledOnChunk()]) as h:
        events = [e async for e in h]
    assert isinstance(events[-1], RunEndEvent) and events[-1].status is RunStatus.COMPLETED


@pytest.mark.asyncio
async def test_c53_typed_processor_hooks_set_on_the_instance_are_called():
    """C53: hooks assigned on the instance (``proc.on_streaming_chunk = send``) are
    called, as ``proc.on_event(event)`` would call them."""
    from hypergraph import TypedEventProcessor

    chunks, ends = [], []
    proc = TypedEventProcessor()
    proc.on_streaming_chunk = lambda event: chunks.append(event.chunk)
    proc.on_run_end = lambda event: ends.append(event.status)
    result = await AsyncRunner().run(Graph([two_chunks]), x=1, event_processors=[proc])
    assert chunks == ["a", "b"] and ends == [result.status]


@pytest.mark.asyncio
async def test_c53_async_def_hook_on_a_sync_processor_is_refused_before_the_run():
    """Section 11/12: ``TypedEventProcessor.on_streaming_chunk`` (or ``on_event``) written
    ``async def`` is called synchronously and would silently never run; the run refuses it
    before any event, naming the processor and the hook, saying how to fix it."""
    from hypergraph import TypedEventProcessor

    class Typed(TypedEventProcessor):
        async def on_streaming_chunk(self, event):
            pass

    class Plain(EventProcessor):
        async def on_event(self, event):
            pass

    runner = AsyncRunner()
    for proc, hook in ((Typed(), "on_streaming_chunk"), (Plain(), "on_event")):
        rec = Recorder()
        with pytest.raises(TypeError) as info:
            await runner.run(Graph([quick]), x=1, event_processors=[rec, proc])
        msg = str(info.value)
        assert type(proc).__qualname__ in msg and hook in msg and "How to fix" in msg
        assert rec.events == [] and runner.live_workflows() == ()


@pytest.mark.asyncio
async def test_async_instance_hook_is_refused_even_after_a_sync_one_of_the_same_class():
    """Instance hooks that are another object's methods are checked by their function:
    a plain method accepted once (and not checked again) never lets an ``async def``
    method of the same object through."""
    from hypergraph import TypedEventProcessor

    class Log:
        def append(self, event):
            pass

        async def append_later(self, event):
            pass

    runner = AsyncRunner()
    for _ in range(2):
        accepted = TypedEventProcessor()
        accepted.on_streaming_chunk = Log().append
        result = await runner.run(Graph([quick]), x=1, event_processors=[accepted])
        assert result.status.name == "COMPLETED"
    refused = TypedEventProcessor()
    refused.on_streaming_chunk = Log().append
    refused.on_node_end = Log().append_later
    with pytest.raises(TypeError, match="append_later"):
        await runner.run(Graph([quick]), x=1, event_processors=[refused])
