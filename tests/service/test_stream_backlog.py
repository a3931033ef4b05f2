"""streams: the backlog queued before pressure began merges at dequeue (docs/protocol.md)."""

from __future__ import annotations

import pytest

from hypergraph_grpc.streams import _Merge
from tests.service.sequence import assert_seq_counts_calls

from .test_streams import chunk, drain, feed, make_sink, run_events


@pytest.mark.asyncio
async def test_backlog_merges_once_max_queued_events_wait():
    sink, _ = make_sink(max_queued_events=8, max_chunk_bytes=1000)
    feed(sink, run_events([chunk("a", f"{i},") for i in range(20)]))
    kinds = [isinstance(e, _Merge) for e in sink.queue]
    # RunStarted, NodeStarted, 6 text chunks; the rest merged on arrival; NodeEnded, RunEnded
    assert kinds == [False] * 8 + [True] + [False] * 2
    sent = await drain(sink)
    chunks = [m.streaming_chunk for m in sent if m.WhichOneof("kind") == "streaming_chunk"]
    assert "".join(c.text for c in chunks) == "".join(f"{i}," for i in range(20))
    assert sum(c.merged for c in chunks) == 20
    assert [c.merged for c in chunks] == [6, 14]  # the backlog, then the arrivals
    assert_seq_counts_calls(sent)


@pytest.mark.asyncio
async def test_backlog_merge_respects_span_kind_and_chunk_bytes():
    sink, _ = make_sink(max_queued_events=6, max_chunk_bytes=4)
    events = [chunk("a", "aa"), chunk("a", "bb"), chunk("a", "cc"), chunk("b", "x", "nb")]
    events += [chunk("a", {"v": 1}), chunk("a", "dd")]
    feed(sink, run_events(events))
    sent = await drain(sink)
    got = [
        (m.node, m.streaming_chunk.WhichOneof("payload"), m.streaming_chunk.merged)
        for m in sent
        if m.WhichOneof("kind") == "streaming_chunk"
    ]
    # "aa"+"bb" fill 4 bytes; "cc" goes alone; other spans and value chunks are never joined
    assert got == [
        ("n", "text", 2),
        ("n", "text", 1),
        ("nb", "text", 1),
        ("n", "value", 1),
        ("n", "text", 1),
    ]


@pytest.mark.asyncio
async def test_no_backlog_merge_below_pressure_or_with_merge_disabled():
    for options in ({"max_queued_events": 100}, {"merge": False, "hard_cap": 1000}):
        sink, _ = make_sink(**options)
        feed(sink, run_events([chunk("a", "t") for _ in range(30)]))
        sent = await drain(sink)
        merged = [
            m.streaming_chunk.merged for m in sent if m.WhichOneof("kind") == "streaming_chunk"
        ]
        assert merged == [1] * 30
