"""Section 7: NodeContext (C34-C38)."""

import asyncio
import threading
import time
from unittest.mock import MagicMock

import pytest

from hypergraph import (
    AsyncRunner,
    Graph,
    NodeContext,
    NodeEndEvent,
    RunStatus,
    StopRequestedEvent,
    StreamingChunkEvent,
    node,
)

from .helpers import Recorder, stream_response


@pytest.mark.asyncio
async def test_c34_one_chunk_event_per_call_in_order_async_node():
    @node(output_name="text")
    async def talk(n: int, ctx: NodeContext) -> str:
        for i in range(n):
            ctx.stream(f"t{i}")
            if i % 7 == 0:
                await asyncio.sleep(0)
        ctx.stream({"structured": True})
        return "final"

    rec = Recorder()
    result = await AsyncRunner().run(Graph([talk]), n=50, event_processors=[rec])
    assert result["text"] == "final"
    assert rec.chunks() == [f"t{i}" for i in range(50)] + [{"structured": True}]
    kinds = rec.kinds()
    assert kinds.index("NodeEndEvent") > max(
        i for i, k in enumerate(kinds) if k == "StreamingChunkEvent"
    )


@pytest.mark.asyncio
async def test_c34_sync_node_chunks_from_worker_thread_in_order_before_end():
    @node(output_name="text")
    def talk(n: int, ctx: NodeContext) -> str:
        for i in range(n):
            ctx.stream(i)
            if i % 100 == 0:
                time.sleep(0.001)
        return "done"

    rec = Recorder()
    result = await AsyncRunner().run(Graph([talk]), n=2000, event_processors=[rec])
    assert result["text"] == "done"
    assert rec.chunks() == list(range(2000))
    assert rec.kinds()[-2:] == ["NodeEndEvent", "RunEndEvent"]
    assert rec.threads == {threading.get_ident()}  # dispatched on the loop thread


@pytest.mark.asyncio
async def test_c34_stream_from_helper_thread_of_async_node():
    @node(output_name="text")
    async def talk(ctx: NodeContext, n: int = 100) -> str:
        def work():
            for i in range(n):
                ctx.stream(i)
            return "ok"

        return await asyncio.to_thread(work)

    rec = Recorder()
    await AsyncRunner().run(Graph([talk]), event_processors=[rec])
    assert rec.chunks() == list(range(100))


@pytest.mark.asyncio
async def test_c35_stop_requested_true_before_stop_returns_async_node():
    entered = asyncio.Event()
    proceed = asyncio.Event()
    holder = {}

    @node(output_name="o")
    async def watcher(x, ctx: NodeContext):
        holder["ctx"] = ctx
        entered.set()
        await proceed.wait()
        return ctx.stop_requested

    runner = AsyncRunner()
    task = asyncio.ensure_future(runner.run(Graph([watcher]), x=1, workflow_id="c35"))
    await entered.wait()
    assert holder["ctx"].stop_requested is False
    assert runner.stop("c35") is True
    assert holder["ctx"].stop_requested is True  # no loop turn in between
    proceed.set()
    result = await task
    assert result["o"] is True and result.status is RunStatus.STOPPED


@pytest.mark.asyncio
async def test_c35_stop_from_other_thread_seen_by_sync_node_thread_at_once():
    in_node = threading.Event()
    checked = threading.Event()
    observations = []
    holder = {}

    @node(output_name="o")
    def spin(x, ctx: NodeContext):
        holder["ctx"] = ctx
        in_node.set()
        checked.wait(10)
        observations.append(ctx.stop_requested)
        return "done"

    runner = AsyncRunner()
    task = asyncio.ensure_future(runner.run(Graph([spin]), x=1, workflow_id="c35t"))

    def stopper():
        in_node.wait(10)
        assert holder["ctx"].stop_requested is False
        assert runner.stop("c35t", info="from thread") is True
        # before stop() returned, the flag was already visible to the node's thread
        observations.append(holder["ctx"].stop_requested)
        checked.set()

    t = threading.Thread(target=stopper)
    t.start()
    result = await task
    t.join()
    assert observations == [True, True]
    assert result.status is RunStatus.STOPPED and result.stop_info == "from thread"


@pytest.mark.asyncio
async def test_c36_no_chunk_after_stop_requested_event():
    stopped = asyncio.Event()

    @node(output_name="o")
    async def chatty(x, ctx: NodeContext):
        i = 0
        while not stopped.is_set():
            ctx.stream(f"c{i}")
            i += 1
            await asyncio.sleep(0)
        for j in range(10):  # ignores the stop flag: these must all be dropped
            ctx.stream(f"late{j}")
        return "x"

    class StopAtTen(Recorder):
        def __init__(self, runner):
            super().__init__()
            self.runner = runner

        def on_event(self, event):
            super().on_event(event)
            if isinstance(event, StreamingChunkEvent) and event.chunk == "c10":
                self.runner.stop(event.workflow_id, info="enough")
                stopped.set()

    runner = AsyncRunner()
    rec = StopAtTen(runner)
    await runner.run(Graph([chatty]), x=1, event_processors=[rec])
    kinds = rec.kinds()
    stop_at = kinds.index("StopRequestedEvent")
    assert "StreamingChunkEvent" not in kinds[stop_at:]
    assert not any(str(c).startswith("late") for c in rec.chunks())
    assert rec.chunks()[-1] == "c10"


@pytest.mark.asyncio
async def test_c37_report_usage_on_node_end_and_run_result():
    @node(output_name="a")
    async def llm1(x, ctx: NodeContext):
        ctx.report_usage(input_tokens=10, output_tokens=5)
        ctx.report_usage(output_tokens=7, stop_reason="max_tokens")
        return 1

    @node(output_name="b")
    def llm2(a, ctx: NodeContext):
        ctx.report_usage(input_tokens=3, stop_reason="end_turn", model="m")
        return 2

    @node(output_name="c")
    def plain(b):
        return 3

    rec = Recorder()
    result = await AsyncRunner().run(Graph([llm1, llm2, plain]), x=0, event_processors=[rec])
    ends = {e.node_name: e.usage for e in rec.of(NodeEndEvent)}
    assert ends["llm1"] == {"input_tokens": 10, "output_tokens": 12, "stop_reason": "max_tokens"}
    assert ends["llm2"] == {"input_tokens": 3, "stop_reason": "end_turn", "model": "m"}
    assert ends["plain"] == {}
    assert result.usage == {
        "input_tokens": 13,
        "output_tokens": 12,
        "stop_reason": "end_turn",
        "model": "m",
    }


@pytest.mark.asyncio
async def test_c38_nodes_without_context_unchanged_and_ctx_node_in_graph_and_mock():
    @node(output_name="y")
    def plain(x):
        return x * 2

    rec = Recorder()
    result = await AsyncRunner().run(
        Graph([stream_response]),
        messages=[{"role": "user", "content": "hi"}],
        event_processors=[rec],
    )
    assert result["response"] == "".join(rec.chunks())
    assert (await AsyncRunner().run(Graph([plain]), x=2))["y"] == 4
    ctx = MagicMock(spec=NodeContext)
    ctx.stop_requested = False
    assert await stream_response(messages=[], ctx=ctx) == result["response"]
    for attr in ("stream", "stop_requested", "report_usage", "workflow_id", "run_id", "node_name"):
        assert hasattr(NodeContext, attr)
    assert not rec.of(StopRequestedEvent)
