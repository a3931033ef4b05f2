"""The in-memory event log keeps a run's tokens without costing the garbage collector."""

from __future__ import annotations

import gc

import pytest

from hypergraph import NodeStartEvent, StreamingChunkEvent
from hypergraph_grpc.coordination import EventLogLimits
from hypergraph_grpc.coordination.memory_log import MemoryEventFeed, MemoryRunLog
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb

SPAN = {"run_id": "run-1", "workflow_id": "wf-1", "span_id": "span-a", "parent_span_id": "root"}


def chunk(seq: int, value) -> StreamingChunkEvent:
    return StreamingChunkEvent(**SPAN, seq=seq, timestamp=1000.0 + seq, node_name="n", chunk=value)


def filled_log() -> MemoryRunLog:
    log = MemoryRunLog("wf-1", "tokens", EventLogLimits(max_events=100))
    log.append(NodeStartEvent(**SPAN, seq=1, timestamp=1000.0, node_name="n"))
    for seq in range(2, 12):
        log.append(chunk(seq, f"t{seq} "))
    log.append(chunk(12, {"not": "text"}))
    return log


def test_kept_text_chunks_are_not_tracked_by_the_garbage_collector():
    log = filled_log()
    gc.collect()
    text = [entry for entry in log.events if not gc.is_tracked(entry)]
    assert len(text) == 10  # the ten text chunks; the lifecycle event and the dict stay objects
    assert len(log.events) == 12


async def replay(log: MemoryRunLog, after_seq: int) -> list[pb.Event]:
    messages = []
    async for message in MemoryEventFeed(log, after_seq):
        messages.append(pb.Event.FromString(message) if isinstance(message, bytes) else message)
    return messages


@pytest.mark.asyncio
async def test_a_watcher_gets_kept_text_chunks_back_as_they_were_streamed():
    log = filled_log()
    log.abandon()  # the feed ends after what is kept
    gc.collect()
    messages = await replay(log, after_seq=4)
    text = messages[0]
    assert (text.seq, text.node, text.span_id, text.parent_span_id, text.run_id) == (
        11,
        "n",
        "span-a",
        "root",
        "run-1",
    )
    assert text.streaming_chunk.text == "t5 t6 t7 t8 t9 t10 t11 "
    assert text.streaming_chunk.merged == 7
    assert text.time.seconds == 1005
    assert messages[1].seq == 12 and messages[1].streaming_chunk.HasField("value")
    assert len(messages) == 2
