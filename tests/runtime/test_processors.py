"""Section 11: event processors (C53-C55)."""

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
    StopRequestedEvent,
    StreamingChunkEvent,
    TypedEventProcessor,
    node,
)

from .helpers import TOKENS, AsyncRecorder, Recorder, stream_response

graph = Graph([stream_response])
values = {"messages": [{"role": "user", "content": "hi"}]}


class FakeWebSocket:
    def __init__(self):
        self.sent = []

    def send(self, data):
        self.sent.append(data)


websocket = FakeWebSocket()


class StreamToWebSocket(TypedEventProcessor):
    def on_streaming_chunk(self, event: StreamingChunkEvent):
        websocket.send(event.chunk)


@pytest.mark.asyncio
async def test_c53_guide_stream_to_websocket_processor():
    runner = AsyncRunner()
    websocket.sent.clear()
    result = await runner.run(graph, values, event_processors=[StreamToWebSocket()])
    assert websocket.sent == TOKENS
    assert result["response"] == "".join(TOKENS)


def test_c53_typed_processor_dispatch_and_init_without_super():
    class Mine(TypedEventProcessor):
        def __init__(self):  # no super().__init__()
            self.got = []

        def on_run_end(self, event):
            self.got.append(event)

    p = Mine()
    p.on_event(StreamingChunkEvent("r", "w", 1, 0.0, "s", None, "n", "x"))  # no hook: no-op
    assert p.got == []


@pytest.mark.asyncio
async def test_c54_async_processors_get_everything_in_order_before_run_returns():
    @node(output_name="o")
    async def talk(n: int, ctx: NodeContext) -> int:
        for i in range(n):
            ctx.stream(i)
        return n

    arec, rec = AsyncRecorder(), Recorder()
    await AsyncRunner().run(Graph([talk]), n=500, event_processors=[arec, rec])
    assert [e.seq for e in arec.events] == [e.seq for e in rec.events]
    assert [e.chunk for e in arec.events if isinstance(e, StreamingChunkEvent)] == list(range(500))
    assert isinstance(arec.events[-1], RunEndEvent)
    assert arec.shutdowns == 1 and rec.shutdowns == 1


@pytest.mark.asyncio
async def test_c54_shutdown_once_per_run_and_done_before_return():
    order = []

    class Slow(AsyncEventProcessor):
        async def on_event_async(self, event):
            await asyncio.sleep(0.001)
            order.append(type(event).__name__)

        async def shutdown_async(self):
            await asyncio.sleep(0.01)
            order.append("shutdown_async")

    class Sync(EventProcessor):
        def on_event(self, event):
            pass

        def shutdown(self):
            order.append("shutdown")

    runner = AsyncRunner()
    procs = [Slow(), Sync()]
    await runner.run(graph, values, event_processors=procs)
    assert order[-1] == "shutdown_async" and order.count("shutdown") == 1
    assert order[-2] == "RunEndEvent"
    order.clear()
    await runner.run(graph, values, event_processors=procs)
    assert order.count("shutdown_async") == 1 and order.count("shutdown") == 1


@pytest.mark.asyncio
async def test_c54_iter_yields_run_end_only_after_processors_shut_down():
    done = []

    class Slow(AsyncEventProcessor):
        async def on_event_async(self, event):
            await asyncio.sleep(0)

        async def shutdown_async(self):
            await asyncio.sleep(0.01)
            done.append(True)

    async with AsyncRunner().iter(graph, event_processors=[Slow()], **values) as handle:
        async for event in handle:
            if isinstance(event, RunEndEvent):
                assert done == [True]


@pytest.mark.asyncio
async def test_c55_raising_processor_is_logged_and_skipped(caplog):
    class Broken(TypedEventProcessor):
        def __init__(self):
            self.calls = 0

        def on_streaming_chunk(self, event):
            self.calls += 1
            if self.calls == 2:
                raise RuntimeError("processor bug")

    class BrokenAsync(AsyncEventProcessor):
        async def on_event_async(self, event):
            raise ValueError("async processor bug")

    broken, rec, arec = Broken(), Recorder(), AsyncRecorder()
    with caplog.at_level(logging.ERROR, logger="hypergraph"):
        result = await AsyncRunner().run(
            graph, values, event_processors=[broken, BrokenAsync(), rec, arec]
        )
    assert result.completed
    assert broken.calls == len(TOKENS)  # kept receiving after the failure
    assert rec.chunks() == TOKENS and len(arec.events) == len(rec.events)
    messages = [r.getMessage() for r in caplog.records]
    assert any("Broken" in m and "StreamingChunkEvent" in m for m in messages)
    assert any("BrokenAsync" in m for m in messages)
    assert all(r.exc_info for r in caplog.records if r.name == "hypergraph")


@pytest.mark.asyncio
async def test_processor_calling_stop_gets_stop_event_after_current():
    runner = AsyncRunner()

    class StopOnFirstChunk(Recorder):
        def on_event(self, event):
            super().on_event(event)
            if isinstance(event, StreamingChunkEvent) and len(self.chunks()) == 1:
                assert runner.stop(event.workflow_id, info="p") is True
                assert not self.of(StopRequestedEvent)  # dispatched after this event

    rec = StopOnFirstChunk()
    await runner.run(graph, values, event_processors=[rec])
    kinds = rec.kinds()
    i = kinds.index("StreamingChunkEvent")
    assert kinds[i + 1] == "StopRequestedEvent"
