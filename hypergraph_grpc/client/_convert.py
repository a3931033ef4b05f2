"""The server's answers as the client's models: results, events, graphs, stop outcomes.

Values inside them are decoded by the shared value codec (`hypergraph_grpc.values`),
so integral numbers within 2**53 come back as ints.
"""

from __future__ import annotations

from typing import Any

from hypergraph_grpc.client._models import (
    Event,
    EventsLost,
    GraphInfo,
    InputInfo,
    NodeEnded,
    NodeFailed,
    NodeStarted,
    OutputInfo,
    RouteDecision,
    RunEnded,
    RunError,
    RunResult,
    RunStarted,
    RunStatus,
    RunSummary,
    StopOutcome,
    StopRequested,
    StreamingChunk,
    SuperstepStarted,
)
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb
from hypergraph_grpc.values import struct_to_dict, value_to_python

_STATUS_BY_NUMBER = {
    pb.RUN_STATUS_COMPLETED: RunStatus.COMPLETED,
    pb.RUN_STATUS_FAILED: RunStatus.FAILED,
    pb.RUN_STATUS_STOPPED: RunStatus.STOPPED,
}


def result_from_proto(msg: pb.RunResult) -> RunResult:
    """Convert a protobuf RunResult into the native `RunResult`."""
    return RunResult(
        workflow_id=msg.workflow_id,
        run_id=msg.run_id,
        status=_STATUS_BY_NUMBER.get(msg.status, RunStatus.UNSPECIFIED),
        values=struct_to_dict(msg.values),
        error=_error_info(msg.error) if msg.HasField("error") else None,
        stop_info=struct_to_dict(msg.stop_info) if msg.HasField("stop_info") else None,
        forced=msg.forced,
        usage=struct_to_dict(msg.usage),
    )


def _error_info(msg: pb.ErrorInfo) -> RunError:
    return RunError(type=msg.type, message=msg.message, node=msg.node)


def stop_outcome(msg: pb.StopResponse) -> StopOutcome:
    """What a StopResponse says: found, the run id, its state without the prefix."""
    return StopOutcome(found=msg.found, run_id=msg.run_id, state=_run_state(msg.state))


def _run_state(number: int) -> str:
    """A RunState without its prefix: "RUNNING", "STOPPING", "ENDED" or "UNSPECIFIED"."""
    return pb.RunState.Name(number).removeprefix("RUN_STATE_")


def runs_from_proto(msg: pb.ListRunsResponse) -> list[RunSummary]:
    """The live runs of one ListRunsResponse page."""
    return [
        RunSummary(
            workflow_id=r.workflow_id,
            run_id=r.run_id,
            graph=r.graph,
            owner=r.owner,
            start_time=r.start_time.seconds + r.start_time.nanos / 1e9,
            state=_run_state(r.state),
        )
        for r in msg.runs
    ]


def graphs_from_proto(msg: pb.ListGraphsResponse) -> list[GraphInfo]:
    """Every graph a ListGraphsResponse describes."""
    return [_graph_from_proto(g) for g in msg.graphs]


def _graph_from_proto(msg: pb.GraphInfo) -> GraphInfo:
    inputs = tuple(
        InputInfo(
            name=i.name,
            required=i.required,
            has_default=i.HasField("default_value"),
            default=value_to_python(i.default_value) if i.HasField("default_value") else None,
            description=i.description,
            type=i.type,
        )
        for i in msg.inputs
    )
    outputs = tuple(OutputInfo(o.name, o.node, o.description) for o in msg.outputs)
    return GraphInfo(msg.name, msg.description, inputs, outputs, tuple(msg.nodes))


def _chunk(msg: pb.StreamingChunk) -> Any:
    which = msg.WhichOneof("payload")
    if which == "text":
        return msg.text
    if which == "data":
        return msg.data
    if which == "value":
        return value_to_python(msg.value)
    return ""


# One builder per oneof case: kind name -> (class, own fields from the sub-message).
_BUILDERS: dict[str, Any] = {
    "run_started": lambda m: (RunStarted, {"graph": m.graph, "capability": m.capability}),
    "superstep_started": lambda m: (SuperstepStarted, {"superstep": m.superstep}),
    "node_started": lambda m: (NodeStarted, {}),
    "streaming_chunk": lambda m: (StreamingChunk, {"chunk": _chunk(m), "merged": m.merged or 1}),
    "node_ended": lambda m: (
        NodeEnded,
        {"duration_ms": m.duration_ms, "usage": struct_to_dict(m.usage)},
    ),
    "node_failed": lambda m: (NodeFailed, {"error": _error_info(m.error)}),
    "route_decision": lambda m: (RouteDecision, {"decision": m.decision, "end": m.end}),
    "stop_requested": lambda m: (StopRequested, {"info": struct_to_dict(m.info)}),
    "run_ended": lambda m: (
        RunEnded,
        {"result": result_from_proto(m.result), "duration_ms": m.duration_ms},
    ),
    "events_lost": lambda m: (EventsLost, {"first_seq": m.first_seq, "last_seq": m.last_seq}),
}


def event_from_proto(msg: pb.Event) -> Event:
    """Convert a protobuf Event into its typed dataclass (base `Event` for unknown kinds)."""
    kind = msg.WhichOneof("kind")
    if kind == "streaming_chunk":
        return _chunk_event(msg)  # the hot path: one per token
    builder = _BUILDERS.get(kind)
    cls, own = builder(getattr(msg, kind)) if builder else (Event, {})
    return cls(
        workflow_id=msg.workflow_id,
        run_id=msg.run_id,
        seq=msg.seq,
        time=msg.time.seconds + msg.time.nanos / 1e9,
        node=msg.node,
        span_id=msg.span_id,
        parent_span_id=msg.parent_span_id,
        raw=msg,
        **own,
    )


def _chunk_event(msg: pb.Event) -> StreamingChunk:
    chunk = msg.streaming_chunk
    time = msg.time
    return StreamingChunk(
        workflow_id=msg.workflow_id,
        run_id=msg.run_id,
        seq=msg.seq,
        time=time.seconds + time.nanos / 1e9,
        node=msg.node,
        span_id=msg.span_id,
        parent_span_id=msg.parent_span_id,
        raw=msg,
        chunk=chunk.text if chunk.WhichOneof("payload") == "text" else _chunk(chunk),
        merged=chunk.merged or 1,
    )
