"""Python clients for a hypergraph-grpc server: `AsyncClient` (asyncio) and `Client` (blocking).

    async with AsyncClient("127.0.0.1:50051") as client:
        async for token in client.stream_text("chat", {"prompt": "hi"}):
            print(token, end="", flush=True)

Both speak the generated `hypergraph.v1.RunnerService` stubs and return native
Python objects: `RunResult` (values as plain dicts, ints stay ints), typed event
dataclasses (`RunStarted`, `StreamingChunk`, ..., `RunEnded`) that work with
`match`, and `HypergraphClientError` subclasses for failed calls (mapped in one
place, `error_from_rpc`, from the google.rpc status details). See
docs/python-client.md.
"""

from __future__ import annotations

import asyncio
import enum
import time as _time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Self, TypeVar

import grpc
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

# One codec for both ends: the service's (docs/protocol.md, "Value codec").
from hypergraph_grpc.convert import struct_to_dict, value_to_python
from hypergraph_grpc.convert import to_struct as dict_to_struct
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2_grpc as pb_grpc

__all__ = [
    # clients and streams
    "AsyncClient",
    "Client",
    "EventStream",
    "SyncEventStream",
    "TextStream",
    "SyncTextStream",
    # results and graph descriptions
    "RunStatus",
    "RunResult",
    "RunError",
    "StopOutcome",
    "RunSummary",
    "GraphInfo",
    "InputInfo",
    "OutputInfo",
    # events
    "Event",
    "RunStarted",
    "SuperstepStarted",
    "NodeStarted",
    "StreamingChunk",
    "NodeEnded",
    "NodeFailed",
    "RouteDecision",
    "StopRequested",
    "RunEnded",
    "EventsLost",
    "event_from_proto",
    "result_from_proto",
    # errors
    "HypergraphClientError",
    "FieldViolation",
    "CallCancelledError",
    "InvalidArgumentError",
    "DeadlineExceededError",
    "NotFoundError",
    "AlreadyExistsError",
    "PermissionDeniedError",
    "ResourceExhaustedError",
    "FailedPreconditionError",
    "UnimplementedError",
    "InternalError",
    "UnavailableError",
    "UnauthenticatedError",
    "RunFailedError",
    "error_from_rpc",
    "DEFAULT_TARGET",
]

DEFAULT_TARGET = "127.0.0.1:50051"
ERROR_DOMAIN = "hypergraph.dev"


# --------------------------------------------------------------------------- results


class RunStatus(enum.StrEnum):
    """How a run ended (the proto's RunStatus without its prefix)."""

    UNSPECIFIED = "UNSPECIFIED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    STOPPED = "STOPPED"

    @classmethod
    def from_proto(cls, number: int) -> RunStatus:
        return _STATUS_BY_NUMBER.get(number, cls.UNSPECIFIED)


_STATUS_BY_NUMBER = {
    pb.RUN_STATUS_COMPLETED: RunStatus.COMPLETED,
    pb.RUN_STATUS_FAILED: RunStatus.FAILED,
    pb.RUN_STATUS_STOPPED: RunStatus.STOPPED,
}


@dataclass(frozen=True, slots=True)
class RunError:
    """The error that failed a run or a node: qualified type, message, node."""

    type: str
    message: str
    node: str = ""

    def __str__(self) -> str:
        where = f" (node {self.node})" if self.node else ""
        return f"{self.type}: {self.message}{where}"


@dataclass(frozen=True, slots=True)
class RunResult:
    """The outcome of one run, with native values. `result["text"]` reads `values`."""

    workflow_id: str
    run_id: str
    status: RunStatus
    values: dict[str, Any]
    error: RunError | None = None
    stop_info: dict[str, Any] | None = None
    forced: bool = False
    usage: dict[str, Any] = field(default_factory=dict)

    @property
    def completed(self) -> bool:
        return self.status is RunStatus.COMPLETED

    @property
    def failed(self) -> bool:
        return self.status is RunStatus.FAILED

    @property
    def stopped(self) -> bool:
        return self.status is RunStatus.STOPPED

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def __contains__(self, name: object) -> bool:
        return name in self.values

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)

    def raise_on_failure(self) -> RunResult:
        """Raise RunFailedError if the run FAILED; else return self (for chaining)."""
        if self.failed:
            raise RunFailedError(self)
        return self

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the CLI's --json output)."""
        return {
            "workflow_id": self.workflow_id,
            "run_id": self.run_id,
            "status": self.status.value,
            "values": self.values,
            "error": None
            if self.error is None
            else {"type": self.error.type, "message": self.error.message, "node": self.error.node},
            "stop_info": self.stop_info,
            "forced": self.forced,
            "usage": self.usage,
        }


def result_from_proto(msg: pb.RunResult) -> RunResult:
    """Convert a protobuf RunResult into the native `RunResult`."""
    return RunResult(
        workflow_id=msg.workflow_id,
        run_id=msg.run_id,
        status=RunStatus.from_proto(msg.status),
        values=struct_to_dict(msg.values),
        error=_error_info(msg.error) if msg.HasField("error") else None,
        stop_info=struct_to_dict(msg.stop_info) if msg.HasField("stop_info") else None,
        forced=msg.forced,
        usage=struct_to_dict(msg.usage),
    )


def _error_info(msg: pb.ErrorInfo) -> RunError:
    return RunError(type=msg.type, message=msg.message, node=msg.node)


@dataclass(frozen=True, slots=True)
class StopOutcome:
    """What Stop answered: `found` a live run, its `run_id`, its state after the request."""

    found: bool
    run_id: str
    state: str  # "STOPPING", "ENDED" or "UNSPECIFIED"

    def __bool__(self) -> bool:
        return self.found


@dataclass(frozen=True, slots=True)
class RunSummary:
    """A live run as ListRuns shows it; `start_time` is seconds since the epoch."""

    workflow_id: str
    run_id: str
    graph: str
    owner: str  # the replica running it
    start_time: float
    state: str  # "RUNNING" or "STOPPING"


# ------------------------------------------------------------------------- graphs


@dataclass(frozen=True, slots=True)
class InputInfo:
    """One input of a graph; `default` is meaningful only when `has_default`."""

    name: str
    required: bool
    has_default: bool = False
    default: Any = None
    description: str = ""
    type: str = ""


@dataclass(frozen=True, slots=True)
class OutputInfo:
    """One output of a graph and the node that produces it."""

    name: str
    node: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class GraphInfo:
    """One registered graph as ListGraphs describes it."""

    name: str
    description: str
    inputs: tuple[InputInfo, ...]
    outputs: tuple[OutputInfo, ...]
    nodes: tuple[str, ...]


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


# ------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """The envelope every event has. `time` is seconds since the epoch; `raw` is the protobuf."""

    workflow_id: str
    run_id: str
    seq: int
    time: float
    node: str
    span_id: str
    parent_span_id: str
    raw: pb.Event | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunStarted(Event):
    graph: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SuperstepStarted(Event):
    superstep: int


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeStarted(Event):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamingChunk(Event):
    """A chunk a node streamed: `chunk` is str (text), bytes (data) or a JSON-like value."""

    chunk: Any
    merged: int = 1

    @property
    def text(self) -> str:
        """The chunk if it is text, else ""."""
        return self.chunk if isinstance(self.chunk, str) else ""


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeEnded(Event):
    duration_ms: float
    usage: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeFailed(Event):
    error: RunError


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteDecision(Event):
    decision: str
    end: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class StopRequested(Event):
    info: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunEnded(Event):
    """The last event of every run; carries the `RunResult`."""

    result: RunResult
    duration_ms: float

    @property
    def status(self) -> RunStatus:
        return self.result.status


@dataclass(frozen=True, slots=True, kw_only=True)
class EventsLost(Event):
    """Watch only, first event: the seqs `first_seq`..`last_seq` are no longer kept."""

    first_seq: int
    last_seq: int


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
    "run_started": lambda m: (RunStarted, {"graph": m.graph}),
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


# ------------------------------------------------------------------------- errors


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One google.rpc.BadRequest field violation, e.g. field "values.b"."""

    field: str
    description: str


class HypergraphClientError(Exception):
    """A call failed with a gRPC status. Subclasses exist per status code.

    `code` (grpc.StatusCode), `message` (the status message), `reason`/`domain`/
    `metadata` (the google.rpc.ErrorInfo, domain "hypergraph.dev"),
    `field_violations` (google.rpc.BadRequest), `details` (every unpacked detail).
    """

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        *,
        reason: str = "",
        domain: str = "",
        metadata: Mapping[str, str] | None = None,
        field_violations: Sequence[FieldViolation] = (),
        details: Sequence[Any] = (),
    ) -> None:
        self.code = code
        self.message = message
        self.reason = reason
        self.domain = domain
        self.metadata = dict(metadata or {})
        self.field_violations = list(field_violations)
        self.details = list(details)
        super().__init__(str(self))

    def __str__(self) -> str:
        lines = [f"{self.code.name}: {self.message}"]
        lines += [f"  {v.field}: {v.description}" for v in self.field_violations]
        return "\n".join(lines)


class CallCancelledError(HypergraphClientError):
    """CANCELLED (named so it is not confused with asyncio.CancelledError)."""


class InvalidArgumentError(HypergraphClientError):
    """INVALID_ARGUMENT: a missing or ill-typed input, a bad select or id."""


class DeadlineExceededError(HypergraphClientError):
    """DEADLINE_EXCEEDED: the call's deadline passed (the server stops the run)."""


class NotFoundError(HypergraphClientError):
    """NOT_FOUND: unknown graph (the message lists the known names)."""


class AlreadyExistsError(HypergraphClientError):
    """ALREADY_EXISTS: a run with that workflow_id is live."""


class PermissionDeniedError(HypergraphClientError):
    """PERMISSION_DENIED."""


class ResourceExhaustedError(HypergraphClientError):
    """RESOURCE_EXHAUSTED: too many runs or streams, or an oversized request."""


class FailedPreconditionError(HypergraphClientError):
    """FAILED_PRECONDITION."""


class UnimplementedError(HypergraphClientError):
    """UNIMPLEMENTED (e.g. Watch on a single-process server)."""


class InternalError(HypergraphClientError):
    """INTERNAL: a bug in the server (logged there with the workflow id)."""


class UnavailableError(HypergraphClientError):
    """UNAVAILABLE: the server is unreachable or draining; retry elsewhere."""


class UnauthenticatedError(HypergraphClientError):
    """UNAUTHENTICATED."""


_ERROR_BY_CODE: dict[grpc.StatusCode, type[HypergraphClientError]] = {
    grpc.StatusCode.CANCELLED: CallCancelledError,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.UNIMPLEMENTED: UnimplementedError,
    grpc.StatusCode.INTERNAL: InternalError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
}

# The google.rpc detail types a server may attach, unpacked by name.
_DETAIL_TYPES = [
    error_details_pb2.ErrorInfo,
    error_details_pb2.BadRequest,
    error_details_pb2.RetryInfo,
    error_details_pb2.ResourceInfo,
    error_details_pb2.QuotaFailure,
    error_details_pb2.PreconditionFailure,
    error_details_pb2.DebugInfo,
    error_details_pb2.Help,
    error_details_pb2.LocalizedMessage,
]


class RunFailedError(Exception):
    """A run ended FAILED (a node raised): not an RPC error. `.result` has the details."""

    def __init__(self, result: RunResult) -> None:
        self.result = result
        super().__init__(f"workflow {result.workflow_id} failed: {result.error}")


def error_from_rpc(err: grpc.RpcError) -> HypergraphClientError:
    """The one place a failed call (sync grpc.RpcError or grpc.aio.AioRpcError) becomes ours."""
    code = err.code() if callable(getattr(err, "code", None)) else grpc.StatusCode.UNKNOWN
    message = (err.details() if callable(getattr(err, "details", None)) else None) or ""
    try:
        status = rpc_status.from_call(err)
    except (ValueError, TypeError):  # inconsistent or missing status details
        status = None
    fields: dict[str, Any] = {"details": [], "field_violations": []}
    for packed in status.details if status is not None else ():
        detail = _unpack(packed)
        fields["details"].append(detail)
        if isinstance(detail, error_details_pb2.ErrorInfo):
            fields.update(
                reason=detail.reason, domain=detail.domain, metadata=dict(detail.metadata)
            )
        elif isinstance(detail, error_details_pb2.BadRequest):
            fields["field_violations"] += [
                FieldViolation(v.field, v.description) for v in detail.field_violations
            ]
    cls = _ERROR_BY_CODE.get(code, HypergraphClientError)
    return cls(code, message, **fields)


def _unpack(packed: Any) -> Any:
    for detail_type in _DETAIL_TYPES:
        if packed.Is(detail_type.DESCRIPTOR):
            detail = detail_type()
            packed.Unpack(detail)
            return detail
    return packed  # an unknown detail stays a google.protobuf.Any


# ------------------------------------------------------------------------ requests
# One builder per request and one reader per answer: both clients call these, so
# the two can only differ in how they wait (await or block), never in what they send.


def _run_fields(graph, values, workflow_id, select, max_iterations) -> dict[str, Any]:
    """The fields RunRequest and IterRequest have in common."""
    return {
        "graph": graph,
        "values": dict_to_struct(values),
        "workflow_id": workflow_id or "",
        "select": _select(select),
        "max_iterations": _count("max_iterations", max_iterations),
    }


def _count(name: str, value: int | None, bits: int = 32) -> int:
    """A proto unsigned count, checked here so the error names the argument
    (protobuf alone says only "Value out of range: -1")."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << bits:
        raise ValueError(
            f"{name}={value!r} is not a count the server accepts. How to fix: pass an int "
            f"from 0 to {(1 << bits) - 1} (0 or None = the server's default)."
        )
    return value


def _run_request(graph, values, workflow_id, select, max_iterations) -> pb.RunRequest:
    return pb.RunRequest(**_run_fields(graph, values, workflow_id, select, max_iterations))


def _iter_request(
    graph, values, workflow_id, select, max_iterations, options: pb.StreamOptions
) -> pb.IterRequest:
    fields = _run_fields(graph, values, workflow_id, select, max_iterations)
    return pb.IterRequest(**fields, options=options)


def _stream_options(
    detach: bool,
    disable_merge: bool,
    max_queued_events: int | None = None,
    max_chunk_bytes: int | None = None,
) -> pb.StreamOptions:
    # 0 is the proto's "server default" for both limits.
    return pb.StreamOptions(
        detach=detach,
        disable_merge=disable_merge,
        max_queued_events=_count("max_queued_events", max_queued_events),
        max_chunk_bytes=_count("max_chunk_bytes", max_chunk_bytes),
    )


def _watch_request(workflow_id: str, after_seq: int, disable_merge: bool) -> pb.WatchRequest:
    # A watcher never owns the run: leaving the stream must not stop it.
    options = _stream_options(detach=True, disable_merge=disable_merge)
    after_seq = _count("after_seq", after_seq, bits=64)
    return pb.WatchRequest(workflow_id=workflow_id, after_seq=after_seq, options=options)


def _select(select: Sequence[str] | str | None) -> list[str]:
    if select is None:
        return []
    return [select] if isinstance(select, str) else list(select)


def _stop_request(workflow_id: str, info: Mapping[str, Any] | None, grace: float | None):
    request = pb.StopRequest(workflow_id=workflow_id)
    if info is not None:
        request.info.CopyFrom(dict_to_struct(info, path="info"))
    if grace is not None:
        request.grace.CopyFrom(_duration(grace))
    return request


def _duration(seconds: float) -> duration_pb2.Duration:
    duration = duration_pb2.Duration()
    duration.FromNanoseconds(int(round(seconds * 1e9)))
    return duration


def _graphs(msg: pb.ListGraphsResponse) -> list[GraphInfo]:
    return [_graph_from_proto(g) for g in msg.graphs]


def _run_result(msg: pb.RunResponse) -> RunResult:
    return result_from_proto(msg.result)


def _stop_outcome(msg: pb.StopResponse) -> StopOutcome:
    state = pb.RunState.Name(msg.state).removeprefix("RUN_STATE_")
    return StopOutcome(found=msg.found, run_id=msg.run_id, state=state)


def _list_runs_request(graph: str | None, page_size: int | None, token: str):
    return pb.ListRunsRequest(
        graph=graph or "", page_size=_count("page_size", page_size, bits=31), page_token=token
    )


def _runs(msg: pb.ListRunsResponse) -> list[RunSummary]:
    return [
        RunSummary(
            workflow_id=r.workflow_id,
            run_id=r.run_id,
            graph=r.graph,
            owner=r.owner,
            start_time=r.start_time.seconds + r.start_time.nanos / 1e9,
            state=pb.RunState.Name(r.state).removeprefix("RUN_STATE_"),
        )
        for r in msg.runs
    ]


# Watch resumes: consecutive attempts after UNAVAILABLE, and the wait before each.
_RESUME_ATTEMPTS = 6
_RESUME_FIRST_WAIT_S = 0.1
_RESUME_MAX_WAIT_S = 2.0


# ------------------------------------------------------------------------ streams


class _StreamCore:
    """What both event-stream flavours share: the call, what reading learns, cancel.

    Subclasses add only the read itself (await or block) and their `with` form.
    """

    def __init__(
        self,
        call: Any,
        workflow_id: str | None,
        reopen: Callable[[int], Any] | None = None,
    ) -> None:
        self._call = call
        self._workflow_id = workflow_id or ""
        self._run_id = ""
        self._result: RunResult | None = None
        self._done = False
        # Watch with resume: reopen(after_seq) opens the call again after a lost connection.
        self._reopen = reopen
        self._failed_resumes = 0
        self.last_seq = 0  # the seq of the last event read: Watch(after_seq=...) resumes here

    workflow_id = property(lambda self: self._workflow_id)
    run_id = property(lambda self: self._run_id)
    result = property(lambda self: self._result, doc="The RunResult once RunEnded arrived.")

    def cancel(self) -> None:
        """Cancel the call now; the server stops the run unless it was detached."""
        if not self._done:
            self._done = True
            self._call.cancel()

    def __del__(self) -> None:
        # Why: grpc.aio keeps an unfinished call alive until its channel closes, so a
        # stream dropped without closing would keep its run going as long as the
        # client lives. Cancelling here makes "dropped = cancelled" hold for both clients.
        try:
            self.cancel()
        except Exception:  # interpreter or loop shutdown: nothing left to cancel
            pass

    def _event(self, msg: pb.Event) -> Event:
        """The typed event of `msg`, noting the ids and the final result it carries."""
        event = event_from_proto(msg)
        self._workflow_id = event.workflow_id or self._workflow_id
        self._run_id = event.run_id or self._run_id
        if isinstance(event, RunEnded):
            self._result = event.result
        return event

    def _failed(self, err: grpc.RpcError) -> HypergraphClientError:
        """The call failed: the stream is over, and this is the error to raise."""
        self._done = True
        return error_from_rpc(err)

    def _resume_wait(self, err: grpc.RpcError) -> float | None:
        """Seconds to wait before re-attaching after ``err``, or None to give up.

        Only a resumable Watch re-attaches, only on UNAVAILABLE (connection lost,
        replica draining), and only a bounded number of times in a row."""
        if (
            self._reopen is None
            or self._result is not None
            or err.code() != grpc.StatusCode.UNAVAILABLE
            or self._failed_resumes >= _RESUME_ATTEMPTS
        ):
            return None
        wait = min(_RESUME_FIRST_WAIT_S * 2**self._failed_resumes, _RESUME_MAX_WAIT_S)
        self._failed_resumes += 1
        return wait

    def _read(self, msg: pb.Event) -> pb.Event:
        self.last_seq = msg.seq
        self._failed_resumes = 0
        return msg


class _TextCore:
    """What both text-stream flavours share: the events below, their ids, cancel, the end."""

    def __init__(self, events: Any) -> None:
        self._events = events

    workflow_id = property(lambda self: self._events.workflow_id)
    result = property(lambda self: self._events.result)

    def cancel(self) -> None:
        self._events.cancel()

    def _check_end(self) -> None:
        # A FAILED run raises after its last token, so it never looks like a short answer.
        result = self._events.result
        if result is not None and result.failed:
            raise RunFailedError(result)


def _token(event: Event) -> str | None:
    """The text of a text chunk; None for every other event."""
    if isinstance(event, StreamingChunk) and isinstance(event.chunk, str):
        return event.chunk
    return None


class _AsyncClosing:
    """`async with` and `aclose()` for a stream: leaving the block cancels the call."""

    def cancel(self) -> None:
        raise NotImplementedError  # given by the stream core listed before this mixin

    async def aclose(self) -> None:
        self.cancel()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        self.cancel()


class _SyncClosing:
    """`with` and `close()` for a stream: leaving the block cancels the call."""

    def cancel(self) -> None:
        raise NotImplementedError  # given by the stream core listed before this mixin

    def close(self) -> None:
        self.cancel()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.cancel()


class EventStream(_StreamCore, _AsyncClosing):
    """The events of one Iter/Watch call, as an async iterator of typed `Event`s.

    Use `async with client.iter(...) as events:` to close it deterministically:
    leaving early cancels the call, and the server then stops the run (unless
    the stream was opened with `detach=True`). `workflow_id`, `run_id` and
    `result` fill in as events arrive.
    """

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Event:
        msg = await self.read_raw()
        if msg is None:
            raise StopAsyncIteration
        return self._event(msg)

    async def read_raw(self) -> pb.Event | None:
        """The next protobuf Event, or None at the end (skips the dataclass conversion)."""
        while not self._done:
            try:
                msg = await self._call.read()
            except grpc.aio.AioRpcError as err:
                wait = self._resume_wait(err)
                if wait is None:
                    raise self._failed(err) from None
                await asyncio.sleep(wait)
                self._call = self._reopen(self.last_seq)
                continue
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if self._done and not (task and task.cancelling()):
                    return None  # our own cancel() ended the call: a quiet end, not an error
                self.cancel()  # the task reading us was cancelled: end the call (and so the run)
                raise
            if msg is grpc.aio.EOF:
                self._done = True
                return None
            return self._read(msg)
        return None

    async def result_or_none(self) -> RunResult | None:
        """Read to the end and return the RunResult (None if the stream ended without one)."""
        async for _ in self:
            pass
        return self._result


class TextStream(_TextCore, _AsyncClosing):
    """Only the text tokens of a run: `async for token in client.stream_text(...)`.

    At the end `result` holds the RunResult; a FAILED run raises RunFailedError
    after its last token, so a failure is never mistaken for a short answer.
    """

    def __aiter__(self) -> TextStream:
        return self

    async def __anext__(self) -> str:
        async for event in self._events:
            token = _token(event)
            if token is not None:
                return token
        self._check_end()
        raise StopAsyncIteration


class SyncEventStream(_StreamCore, _SyncClosing):
    """The events of one Iter/Watch call, as a blocking iterator of typed `Event`s.

    `with client.iter(...) as events:` cancels the call when the block is left
    early, and the server then stops the run (unless detached).
    """

    def __iter__(self) -> SyncEventStream:
        return self

    def __next__(self) -> Event:
        msg = self.read_raw()
        if msg is None:
            raise StopIteration
        return self._event(msg)

    def read_raw(self) -> pb.Event | None:
        """The next protobuf Event, or None at the end."""
        while not self._done:
            try:
                return self._read(next(self._call))
            except StopIteration:
                self._done = True
                return None
            except grpc.RpcError as err:
                wait = self._resume_wait(err)
                if wait is None:
                    raise self._failed(err) from None
                _time.sleep(wait)
                self._call = self._reopen(self.last_seq)
            except BaseException:
                # KeyboardInterrupt (or any exception a signal handler raised) while
                # grpc waited: its pending read cannot be resumed, so end the call
                # cleanly (the server stops the run unless detached) and propagate.
                self.cancel()
                raise
        return None


class SyncTextStream(_TextCore, _SyncClosing):
    """Only the text tokens of a run, blocking; `result` at the end; FAILED raises RunFailedError."""

    def __iter__(self) -> Iterator[str]:
        for event in self._events:
            token = _token(event)
            if token is not None:
                yield token
        self._check_end()


# ------------------------------------------------------------------------ clients


def _channel_args(options: Sequence[tuple[str, Any]] | None) -> list[tuple[str, Any]]:
    # Why: LLM outputs and merged chunks can be large; don't cap at grpc's 4 MiB default.
    base = [("grpc.max_receive_message_length", 64 * 1024 * 1024)]
    return base + list(options or [])


_Events = TypeVar("_Events", bound=_StreamCore)
_Text = TypeVar("_Text", bound=_TextCore)


class _ClientCore(Generic[_Events, _Text]):
    """What both clients share: the channel, per-call options and the streaming calls.

    A subclass names its grpc flavour and stream classes, and adds only what
    differs between awaiting and blocking: the unary calls, `close` and `with`.
    """

    _grpc: Any  # grpc.aio or grpc: both have insecure_channel / secure_channel
    _events: type[_Events]
    _text: type[_Text]

    def __init__(
        self,
        target: str = DEFAULT_TARGET,
        *,
        metadata: Sequence[tuple[str, str]] | None = None,
        timeout: float | None = None,
        credentials: grpc.ChannelCredentials | None = None,
        options: Sequence[tuple[str, Any]] | None = None,
        channel: grpc.aio.Channel | grpc.Channel | None = None,
    ) -> None:
        self.target = target
        self._metadata = tuple(metadata or ())
        self._timeout = timeout
        self._own_channel = channel is None
        if channel is None:
            args = _channel_args(options)
            if credentials is None:
                channel = self._grpc.insecure_channel(target, options=args)
            else:
                channel = self._grpc.secure_channel(target, credentials, options=args)
        self.channel = channel
        self.stub = pb_grpc.RunnerServiceStub(channel)

    def _kw(self, timeout: float | None) -> dict[str, Any]:
        """The per-call keywords: the call's deadline, else the client's; the metadata."""
        return {
            "timeout": self._timeout if timeout is None else timeout,
            "metadata": self._metadata or None,
        }

    def iter(
        self,
        graph: str,
        values: Mapping[str, Any] | None = None,
        *,
        workflow_id: str | None = None,
        select: Sequence[str] | None = None,
        max_iterations: int | None = None,
        detach: bool = False,
        disable_merge: bool = False,
        max_queued_events: int | None = None,
        max_chunk_bytes: int | None = None,
        timeout: float | None = None,
    ) -> _Events:
        """Start a run and stream its events (ending with RunEnded).

        An `EventStream` from `AsyncClient`, a `SyncEventStream` from `Client`.
        """
        options = _stream_options(detach, disable_merge, max_queued_events, max_chunk_bytes)
        request = _iter_request(graph, values, workflow_id, select, max_iterations, options)
        return self._events(self.stub.Iter(request, **self._kw(timeout)), workflow_id)

    def stream_text(
        self,
        graph: str,
        values: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> _Text:
        """Start a run and yield only its text tokens (same keywords as `iter`)."""
        return self._text(self.iter(graph, values, **kwargs))

    def watch(
        self,
        workflow_id: str,
        *,
        after_seq: int = 0,
        resume: bool = True,
        disable_merge: bool = False,
        timeout: float | None = None,
    ) -> _Events:
        """Attach to a workflow's events after `after_seq`, then follow it until RunEnded.

        With `resume` (the default) a lost connection (UNAVAILABLE) re-attaches
        with `after_seq` = the last seq read, a few times in a row with a growing
        wait: no event is lost or repeated. An `EventsLost` event first says which
        seqs the server no longer keeps. Unknown ids raise NotFoundError.
        """
        kw = self._kw(timeout)

        def reopen(seq: int) -> Any:
            return self.stub.Watch(_watch_request(workflow_id, seq, disable_merge), **kw)

        return self._events(reopen(after_seq), workflow_id, reopen if resume else None)


# The unary methods below are written out in both clients on purpose: `async def`
# versus `def` is the one real difference, and each keeps an exact signature for
# users and type checkers. Their bodies are only "build, call, read".


class AsyncClient(_ClientCore[EventStream, TextStream]):
    """An asyncio client for RunnerService.

    `target` is "host:port"; `metadata` is sent with every call (e.g. auth);
    `timeout` (seconds) is the default deadline of every call that gives none.
    Pass `credentials` for TLS, or a ready `channel` (a `grpc.aio.Channel`).
    """

    _grpc = grpc.aio
    _events = EventStream
    _text = TextStream

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    async def close(self) -> None:
        if self._own_channel:
            await self.channel.close()

    async def _unary(self, method: Any, request: Any, timeout: float | None) -> Any:
        try:
            return await method(request, **self._kw(timeout))
        except grpc.aio.AioRpcError as err:
            raise error_from_rpc(err) from None

    async def list_graphs(self, *, timeout: float | None = None) -> list[GraphInfo]:
        """Every registered graph with its inputs, outputs and nodes, sorted by name."""
        return _graphs(await self._unary(self.stub.ListGraphs, pb.ListGraphsRequest(), timeout))

    async def run(
        self,
        graph: str,
        values: Mapping[str, Any] | None = None,
        *,
        workflow_id: str | None = None,
        select: Sequence[str] | None = None,
        max_iterations: int | None = None,
        timeout: float | None = None,
    ) -> RunResult:
        """Start a run, wait for it, return its RunResult (a FAILED run is a result, not an error)."""
        request = _run_request(graph, values, workflow_id, select, max_iterations)
        return _run_result(await self._unary(self.stub.Run, request, timeout))

    async def stop(
        self,
        workflow_id: str,
        info: Mapping[str, Any] | None = None,
        *,
        grace: float | None = None,
        timeout: float | None = None,
    ) -> StopOutcome:
        """Ask a live workflow to stop. Truthy (`found`) when a live run was reached.

        `grace` (seconds): after it, nodes still running are cancelled (forced).
        """
        request = _stop_request(workflow_id, info, grace)
        return _stop_outcome(await self._unary(self.stub.Stop, request, timeout))

    async def list_runs(
        self,
        graph: str | None = None,
        *,
        page_size: int | None = None,
        timeout: float | None = None,
    ) -> list[RunSummary]:
        """Every live run of the deployment (all replicas), oldest first; all pages."""
        runs, token = [], ""
        while True:
            request = _list_runs_request(graph, page_size, token)
            page = await self._unary(self.stub.ListRuns, request, timeout)
            runs += _runs(page)
            token = page.next_page_token
            if not token:
                return runs


class Client(_ClientCore[SyncEventStream, SyncTextStream]):
    """A blocking client for RunnerService over the sync grpc stubs (no event loop inside).

    Same methods and arguments as `AsyncClient`, without `await`; streams are
    plain iterators. A ready `channel` is a `grpc.Channel`.
    """

    _grpc = grpc
    _events = SyncEventStream
    _text = SyncTextStream

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def close(self) -> None:
        if self._own_channel:
            self.channel.close()

    def _unary(self, method: Any, request: Any, timeout: float | None) -> Any:
        try:
            return method(request, **self._kw(timeout))
        except grpc.RpcError as err:
            raise error_from_rpc(err) from None

    def list_graphs(self, *, timeout: float | None = None) -> list[GraphInfo]:
        """Every registered graph with its inputs, outputs and nodes, sorted by name."""
        return _graphs(self._unary(self.stub.ListGraphs, pb.ListGraphsRequest(), timeout))

    def run(
        self,
        graph: str,
        values: Mapping[str, Any] | None = None,
        *,
        workflow_id: str | None = None,
        select: Sequence[str] | None = None,
        max_iterations: int | None = None,
        timeout: float | None = None,
    ) -> RunResult:
        """Start a run, wait for it, return its RunResult (a FAILED run is a result, not an error)."""
        request = _run_request(graph, values, workflow_id, select, max_iterations)
        return _run_result(self._unary(self.stub.Run, request, timeout))

    def stop(
        self,
        workflow_id: str,
        info: Mapping[str, Any] | None = None,
        *,
        grace: float | None = None,
        timeout: float | None = None,
    ) -> StopOutcome:
        """Ask a live workflow to stop. Truthy (`found`) when a live run was reached.

        `grace` (seconds): after it, nodes still running are cancelled (forced).
        """
        request = _stop_request(workflow_id, info, grace)
        return _stop_outcome(self._unary(self.stub.Stop, request, timeout))

    def list_runs(
        self,
        graph: str | None = None,
        *,
        page_size: int | None = None,
        timeout: float | None = None,
    ) -> list[RunSummary]:
        """Every live run of the deployment (all replicas), oldest first; all pages."""
        runs, token = [], ""
        while True:
            page = self._unary(
                self.stub.ListRuns, _list_runs_request(graph, page_size, token), timeout
            )
            runs += _runs(page)
            token = page.next_page_token
            if not token:
                return runs
