"""Small helpers shared by the LLM tests (no mocks: real runner, real SDKs)."""

from __future__ import annotations

import asyncio

from hypergraph import AsyncRunner, Graph, NodeEndEvent, StreamingChunkEvent, TypedEventProcessor

__all__ = ["Recorder", "run_graph", "stop_after"]


class Recorder(TypedEventProcessor):
    """Records chunks and NodeEnd usage; `first` is set at the first chunk."""

    def __init__(self) -> None:
        self.chunks: list[str] = []
        self.node_usage: dict[str, dict] = {}
        self.first = asyncio.Event()

    def on_streaming_chunk(self, event: StreamingChunkEvent):
        self.chunks.append(event.chunk)
        self.first.set()

    def on_node_end(self, event: NodeEndEvent):
        self.node_usage[event.node_name] = dict(event.usage)


async def run_graph(graph: Graph, values: dict, **kw):
    """Run `graph` once on a fresh runner; returns (result, recorder)."""
    recorder = Recorder()
    result = await AsyncRunner().run(
        graph, values, event_processors=[recorder], error_handling="continue", **kw
    )
    return result, recorder


async def stop_after(
    runner: AsyncRunner, workflow_id: str, recorder: Recorder, chunks: int, info=None
) -> bool:
    """Stop `workflow_id` once `recorder` has seen `chunks` chunks."""
    await recorder.first.wait()
    while len(recorder.chunks) < chunks:
        await asyncio.sleep(0.001)
    return runner.stop(workflow_id, info=info or {"kind": "user_stop"})
