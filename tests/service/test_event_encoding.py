"""Runtime events and results as protobuf (``convert.EventEncoder``,
``convert.run_result``), without a server: every event class has its kind,
chunks keep their payload type, the pre-serialized text-chunk path gives the
same bytes as the message path, and lone surrogates never break a stream."""

from __future__ import annotations

import dataclasses

from hypergraph import (
    END,
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
)
from hypergraph_grpc import convert
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb

BASE = ("run-1", "wf-1", 1, 1_700_000_000.25, "span-n", "span-r")


RUN_BASE = ("run-1", "wf-1", 1, 1_700_000_000.25, "span-r", None)


@dataclasses.dataclass
class FakeResult:
    values: dict
    status: RunStatus = RunStatus.COMPLETED
    workflow_id: str = "wf-1"
    run_id: str = "run-1"
    error: BaseException | None = None
    stop_info: dict | None = None
    forced: bool = False
    usage: dict = dataclasses.field(default_factory=dict)


def test_run_result_with_unencodable_output_fails_naming_it():
    message = convert.run_result(FakeResult(values={"ok": 1, "bad": object()}))
    assert message.status == pb.RUN_STATUS_FAILED
    assert message.error.type == "OutputEncodingError"
    assert "'bad'" in message.error.message and "object" in message.error.message
    assert convert.struct_to_dict(message.values) == {"ok": 1}


def test_run_result_fields():
    result = FakeResult(
        values={"text": "hi"},
        status=RunStatus.STOPPED,
        stop_info={"kind": "user_stop"},
        forced=True,
        usage={"output_tokens": 5},
    )
    message = convert.run_result(result)
    assert message.status == pb.RUN_STATUS_STOPPED and message.forced
    assert convert.struct_to_dict(message.stop_info) == {"kind": "user_stop"}
    assert convert.struct_to_dict(message.usage) == {"output_tokens": 5}
    failed = convert.run_result(
        FakeResult(values={}, status=RunStatus.FAILED, error=ValueError("boom")), error_node="n"
    )
    assert (failed.error.type, failed.error.message, failed.error.node) == (
        "ValueError",
        "boom",
        "n",
    )


def _encode(event, seq=1):
    encoder = convert.EventEncoder("g", "wf-1")
    encoder.run_id = "run-1"
    return encoder.event(event, seq)


def test_every_event_class_maps_to_its_kind():
    result = FakeResult(values={"x": 1})
    cases = [
        (RunStartEvent(*RUN_BASE, graph_name="graph"), "run_started"),
        (SuperstepStartEvent(*RUN_BASE, superstep=2), "superstep_started"),
        (NodeStartEvent(*BASE, node_name="n"), "node_started"),
        (StreamingChunkEvent(*BASE, node_name="n", chunk="tok"), "streaming_chunk"),
        (NodeEndEvent(*BASE, node_name="n", duration_ms=1.5, usage={"t": 1}), "node_ended"),
        (
            NodeErrorEvent(*BASE, node_name="n", error="boom", error_type="ValueError"),
            "node_failed",
        ),
        (RouteDecisionEvent(*BASE, node_name="gate", decision="n"), "route_decision"),
        (StopRequestedEvent(*RUN_BASE, info={"kind": "k"}), "stop_requested"),
        (
            RunEndEvent(
                *RUN_BASE, status=RunStatus.COMPLETED, error=None, duration_ms=3.0, result=result
            ),
            "run_ended",
        ),
    ]
    for event, kind in cases:
        message = _encode(event, seq=9)
        assert message.WhichOneof("kind") == kind, event
        assert (message.workflow_id, message.run_id, message.seq) == ("wf-1", "run-1", 9)
        assert message.time.seconds == 1_700_000_000 and message.time.nanos == 250_000_000
    run_started = _encode(cases[0][0])
    assert run_started.run_started.graph == "g"  # the registered name
    assert run_started.parent_span_id == "" and run_started.span_id == "span-r"
    assert _encode(cases[1][0]).superstep_started.superstep == 2
    chunk = _encode(cases[3][0])
    assert chunk.node == "n" and chunk.span_id == "span-n" and chunk.parent_span_id == "span-r"
    assert chunk.streaming_chunk.text == "tok" and chunk.streaming_chunk.merged == 1
    ended = _encode(cases[4][0])
    assert ended.node_ended.duration_ms == 1.5
    assert convert.struct_to_dict(ended.node_ended.usage) == {"t": 1}
    failed = _encode(cases[5][0]).node_failed.error
    assert (failed.type, failed.message, failed.node) == ("ValueError", "boom", "n")
    assert _encode(cases[6][0]).route_decision.decision == "n"
    assert convert.struct_to_dict(_encode(cases[7][0]).stop_requested.info) == {"kind": "k"}
    run_ended = _encode(cases[8][0]).run_ended
    assert run_ended.duration_ms == 3.0
    assert convert.struct_to_dict(run_ended.result.values) == {"x": 1}


def test_route_decision_end_and_none():
    end = _encode(RouteDecisionEvent(*BASE, node_name="gate", decision=END)).route_decision
    assert (end.decision, end.end) == ("END", True)
    nothing = _encode(RouteDecisionEvent(*BASE, node_name="gate", decision=None)).route_decision
    assert (nothing.decision, nothing.end) == ("", False)


def test_chunk_payloads_by_type():
    def chunk(value):
        return _encode(StreamingChunkEvent(*BASE, node_name="n", chunk=value)).streaming_chunk

    assert chunk("t").WhichOneof("payload") == "text"
    assert chunk(b"\x01").data == b"\x01"
    value = chunk({"a": 1})
    assert value.WhichOneof("payload") == "value"
    assert convert.value_to_python(value.value) == {"a": 1}
    odd = chunk(object())  # reported in-band, never dropped
    assert "$error" in convert.value_to_python(odd.value)


def test_chunk_wire_bytes_equal_the_message_path():
    encoder = convert.EventEncoder("g", "wf-1")
    encoder.run_id = "run-1"
    events = [
        StreamingChunkEvent(*BASE, node_name="n", chunk="héllo"),
        StreamingChunkEvent(
            "run-1", "wf-1", 2, 1_700_000_001.5, "span-m", "span-r", node_name="m", chunk="x"
        ),
        StreamingChunkEvent(*BASE, node_name="n", chunk=""),
    ]
    for seq, event in enumerate(events, 1):
        wire = encoder.chunk_wire(event, seq)
        assert isinstance(wire, bytes)
        assert pb.Event.FromString(wire) == encoder.chunk(event, seq)
        assert convert.serialize_event(wire) is wire
    value = encoder.chunk_wire(StreamingChunkEvent(*BASE, node_name="n", chunk={"a": 1}), 4)
    assert isinstance(value, pb.Event) and value.streaming_chunk.WhichOneof("payload") == "value"


def test_lone_surrogates_never_break_a_stream_or_vanish():
    encoder = convert.EventEncoder("g", "wf-1")
    encoder.run_id = "run-1"
    bad = StreamingChunkEvent(*BASE, node_name="n", chunk="a\ud800b")
    assert pb.Event.FromString(encoder.chunk_wire(bad, 1)).streaming_chunk.text == "a\ufffdb"
    assert encoder.chunk(bad, 1).streaming_chunk.text == "a\ufffdb"
    value = encoder.chunk(StreamingChunkEvent(*BASE, node_name="n", chunk=["\ud800"]), 2)
    assert "$error" in convert.value_to_python(value.streaming_chunk.value)
    result = convert.run_result(FakeResult(values={"ok": "x", "bad": "\udcff"}))
    assert result.status == pb.RUN_STATUS_FAILED and "'bad'" in result.error.message
    assert convert.struct_to_dict(result.values) == {"ok": "x"}
