"""One stream's queue and writer (``streams.StreamSink``, ``streams.pump``), without
a server: an idle consumer sees every chunk unmerged, written as soon as the step
that queued it yields; the tokens of one step, and text queued while a write is in
flight, leave joined; once ``max_queued_events`` wait, text of one span
merges as it arrives; merging stays within ``max_chunk_bytes``; lifecycle events and values never merge; without
merging a queue past the hard cap stops the run; the writer wakes for late
events and reports a run that died without RunEnded."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from hypergraph import (
    NodeEndEvent,
    NodeStartEvent,
    RunEndEvent,
    RunStartEvent,
    RunStatus,
    StreamingChunkEvent,
)
from hypergraph_grpc.convert import EventEncoder
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb
from hypergraph_grpc.streams import RunNotStarted, StreamSink, _Merge, pump
from tests.service.sequence import assert_seq_counts_calls

RUN = ("run-1", "wf-1", 0, 1.0, "run-span", None)


def node(span: str):
    return ("run-1", "wf-1", 0, 1.0, span, "run-span")


class Result:
    workflow_id, run_id, status, values = "wf-1", "run-1", RunStatus.COMPLETED, {}
    error = stop_info = None
    forced = False
    usage: dict = {}


def make_sink(**kw) -> tuple[StreamSink, list]:
    overflows: list = []
    options = {"max_queued_events": 4, "max_chunk_bytes": 10, "merge": True, "hard_cap": 8}
    options.update(kw)
    sink = StreamSink(
        EventEncoder("g", "wf-1"),
        on_overflow=lambda: overflows.append(1),
        **options,
    )
    return sink, overflows


def feed(sink: StreamSink, events) -> None:
    for event in events:
        name = {
            RunStartEvent: "on_run_start",
            NodeStartEvent: "on_node_start",
            StreamingChunkEvent: "on_streaming_chunk",
            NodeEndEvent: "on_node_end",
            RunEndEvent: "on_run_end",
        }[type(event)]
        getattr(sink, name)(event)


def chunk(span: str, text, name: str = "n"):
    return StreamingChunkEvent(*node(span), node_name=name, chunk=text)


async def drain(sink: StreamSink) -> list:
    sent = []

    async def write(message):
        sent.append(pb.Event.FromString(message) if isinstance(message, bytes) else message)

    await pump(sink, write)
    return sent


def run_events(chunks):
    """A run around ``chunks``, numbered 1, 2, 3... as the runtime numbers its events."""
    events = [
        RunStartEvent(*RUN, graph_name="g"),
        NodeStartEvent(*node("a"), node_name="n"),
        *chunks,
        NodeEndEvent(*node("a"), node_name="n", duration_ms=1.0),
        RunEndEvent(*RUN, status=RunStatus.COMPLETED, error=None, duration_ms=1.0, result=Result()),
    ]
    return [dataclasses.replace(event, seq=seq) for seq, event in enumerate(events, 1)]


def attach_slow_writer(sink: StreamSink) -> tuple[asyncio.Task, list]:
    """Start writing ``sink`` with a write that takes a loop iteration, like context.write."""
    sent: list = []

    async def write(message):
        await asyncio.sleep(0)
        sent.append(pb.Event.FromString(message) if isinstance(message, bytes) else message)

    return asyncio.ensure_future(pump(sink, write)), sent


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


@pytest.mark.asyncio
async def test_idle_consumer_gets_one_message_per_chunk_written_when_the_step_yields():
    sink, _ = make_sink(max_queued_events=1000)
    writer, sent = attach_slow_writer(sink)
    await settle()
    for event in run_events([chunk("a", f"{i}") for i in range(20)]):
        feed(sink, [event])
        await asyncio.sleep(0)  # the feeding step yields once
        if event.__class__ is not RunEndEvent:
            assert not sink.queue  # nothing waits: its write has started
        await settle()
    await writer
    chunks = [m.streaming_chunk for m in sent if m.WhichOneof("kind") == "streaming_chunk"]
    assert [c.merged for c in chunks] == [1] * 20
    assert_seq_counts_calls(sent)


@pytest.mark.asyncio
async def test_the_tokens_of_one_step_leave_as_one_message():
    sink, _ = make_sink(max_queued_events=1000, max_chunk_bytes=1000)
    writer, sent = attach_slow_writer(sink)
    events = run_events([chunk("a", f"{i},") for i in range(8)])
    feed(sink, events[:2])  # RunStarted, NodeStarted
    await settle()
    feed(sink, events[2:6])  # four tokens in one step of the node
    await settle()
    feed(sink, events[6:10])  # four more in the next step
    await settle()
    feed(sink, events[10:])
    await writer
    chunks = [m.streaming_chunk for m in sent if m.WhichOneof("kind") == "streaming_chunk"]
    assert [(c.text, c.merged) for c in chunks] == [("0,1,2,3,", 4), ("4,5,6,7,", 4)]
    assert_seq_counts_calls(sent)


@pytest.mark.asyncio
async def test_a_failing_write_ends_the_stream_with_its_error():
    sink, _ = make_sink()
    calls = []

    async def write(message):
        calls.append(message)
        await asyncio.sleep(0)
        if len(calls) == 2:
            raise ConnectionResetError("client gone")

    writer = asyncio.ensure_future(pump(sink, write))
    feed(sink, run_events([chunk("a", "t")]))
    with pytest.raises(ConnectionResetError):
        await writer
    assert len(calls) == 2  # nothing is written after the failure


@pytest.mark.asyncio
async def test_close_abandons_the_write_in_flight_and_queues_nothing_more():
    sink, _ = make_sink()
    gate = asyncio.get_running_loop().create_future()
    finished = []

    async def write(message):
        try:
            await gate
        finally:
            finished.append(gate.done())

    writer = asyncio.ensure_future(pump(sink, write))
    events = run_events([chunk("a", "t")])
    feed(sink, events[:3])
    await asyncio.sleep(0)
    sink.close()  # the client went away mid-write
    assert finished == [False]  # the write in flight was closed, not completed
    feed(sink, events[3:])
    assert not sink.queue
    writer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await writer


@pytest.mark.asyncio
async def test_pressure_merges_text_bounded_by_chunk_bytes():
    sink, _ = make_sink()
    feed(sink, run_events([chunk("a", "ab") for _ in range(100)]))
    assert len(sink.queue) <= 4 + 20 + 2  # 4 waiting, then 10-byte merged entries
    sent = await drain(sink)
    chunks = [m.streaming_chunk for m in sent if m.WhichOneof("kind") == "streaming_chunk"]
    assert "".join(c.text for c in chunks) == "ab" * 100
    assert sum(c.merged for c in chunks) == 100
    assert max(c.merged for c in chunks) == 5 and all(len(c.text) <= 10 for c in chunks)
    kinds = [m.WhichOneof("kind") for m in sent]
    assert kinds[-2:] == ["node_ended", "run_ended"]
    assert_seq_counts_calls(sent)


@pytest.mark.asyncio
async def test_values_and_lifecycle_are_never_merged_and_keep_order():
    sink, _ = make_sink(max_queued_events=2, max_chunk_bytes=1000)
    events = [
        chunk("a", "x"),
        chunk("a", "y"),
        chunk("a", "z1"),
        chunk("a", {"v": 1}),
        chunk("a", "z2"),
    ]
    events += [chunk("a", b"\x01"), chunk("a", b"\x02"), chunk("a", "z3")]
    feed(sink, run_events(events))
    sent = await drain(sink)
    payloads = []
    for m in sent:
        if m.WhichOneof("kind") == "streaming_chunk":
            c = m.streaming_chunk
            payloads.append((c.WhichOneof("payload"), c.merged))
    # text merges only before the value chunk, never across it; bytes merge among themselves
    assert payloads == [("text", 3), ("value", 1), ("text", 1), ("data", 2), ("text", 1)]


@pytest.mark.asyncio
async def test_two_spans_merge_separately():
    sink, _ = make_sink(max_queued_events=1, max_chunk_bytes=1000)
    interleaved = []
    for i in range(50):
        interleaved += [chunk("a", f"a{i},", "na"), chunk("b", f"b{i},", "nb")]
    feed(sink, run_events(interleaved))
    sent = await drain(sink)
    text = {"na": "", "nb": ""}
    for m in sent:
        if m.WhichOneof("kind") == "streaming_chunk":
            text[m.node] += m.streaming_chunk.text
    assert text == {
        "na": "".join(f"a{i}," for i in range(50)),
        "nb": "".join(f"b{i}," for i in range(50)),
    }


@pytest.mark.asyncio
async def test_disable_merge_calls_overflow_at_the_hard_cap():
    sink, overflows = make_sink(merge=False, max_queued_events=2, hard_cap=10)
    feed(sink, run_events([chunk("a", "t") for _ in range(30)]))
    assert overflows == [1]
    sent = await drain(sink)
    assert all(
        m.streaming_chunk.merged == 1 for m in sent if m.WhichOneof("kind") == "streaming_chunk"
    )


@pytest.mark.asyncio
async def test_writer_wakes_for_late_events_and_reports_a_dead_run():
    sink, _ = make_sink()
    writer = asyncio.ensure_future(drain(sink))
    await asyncio.sleep(0)
    feed(sink, run_events([chunk("a", "late")]))
    sent = await writer
    assert [m.WhichOneof("kind") for m in sent][-1] == "run_ended"
    dead, _ = make_sink()

    async def boom():
        raise KeyError("bug")

    task = asyncio.ensure_future(boom())
    task.add_done_callback(dead.task_done)
    with pytest.raises(RunNotStarted) as info:
        await drain(dead)
    assert isinstance(info.value.error, KeyError)


@pytest.mark.asyncio
async def test_value_chunks_past_the_hard_cap_stop_the_run():
    sink, overflows = make_sink(max_queued_events=2, hard_cap=10)
    feed(sink, run_events([chunk("a", {"i": i}) for i in range(30)]))
    assert overflows == [1]


@pytest.mark.asyncio
async def test_merged_text_is_utf8_bounded_and_exact():
    sink, _ = make_sink(max_queued_events=1, max_chunk_bytes=12)
    tokens = ["é", "ß", "x", "€", "\ud800", "y"] * 10
    feed(sink, run_events([chunk("a", t) for t in tokens]))
    sent = await drain(sink)
    chunks = [m.streaming_chunk for m in sent if m.WhichOneof("kind") == "streaming_chunk"]
    assert "".join(c.text for c in chunks) == "".join(tokens).replace("\ud800", "\ufffd")
    assert sum(c.merged for c in chunks) == len(tokens)
    assert all(len(c.text.encode()) <= 12 for c in chunks if c.merged > 1)


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
async def test_queued_text_joins_below_pressure_but_never_with_merge_disabled():
    for options, expected in (
        ({"max_queued_events": 100}, [10, 10, 10]),  # within max_chunk_bytes (10)
        ({"merge": False, "hard_cap": 1000}, [1] * 30),
    ):
        sink, _ = make_sink(**options)
        feed(sink, run_events([chunk("a", "t") for _ in range(30)]))
        sent = await drain(sink)
        merged = [
            m.streaming_chunk.merged for m in sent if m.WhichOneof("kind") == "streaming_chunk"
        ]
        assert merged == expected
        assert_seq_counts_calls(sent)
