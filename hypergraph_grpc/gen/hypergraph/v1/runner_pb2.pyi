import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EventView(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVENT_VIEW_UNSPECIFIED: _ClassVar[EventView]
    EVENT_VIEW_FULL: _ClassVar[EventView]
    EVENT_VIEW_TEXT: _ClassVar[EventView]

class RunState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RUN_STATE_UNSPECIFIED: _ClassVar[RunState]
    RUN_STATE_STOPPING: _ClassVar[RunState]
    RUN_STATE_ENDED: _ClassVar[RunState]
    RUN_STATE_RUNNING: _ClassVar[RunState]

class RunStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RUN_STATUS_UNSPECIFIED: _ClassVar[RunStatus]
    RUN_STATUS_COMPLETED: _ClassVar[RunStatus]
    RUN_STATUS_FAILED: _ClassVar[RunStatus]
    RUN_STATUS_STOPPED: _ClassVar[RunStatus]
EVENT_VIEW_UNSPECIFIED: EventView
EVENT_VIEW_FULL: EventView
EVENT_VIEW_TEXT: EventView
RUN_STATE_UNSPECIFIED: RunState
RUN_STATE_STOPPING: RunState
RUN_STATE_ENDED: RunState
RUN_STATE_RUNNING: RunState
RUN_STATUS_UNSPECIFIED: RunStatus
RUN_STATUS_COMPLETED: RunStatus
RUN_STATUS_FAILED: RunStatus
RUN_STATUS_STOPPED: RunStatus

class ListGraphsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListGraphsResponse(_message.Message):
    __slots__ = ("graphs",)
    GRAPHS_FIELD_NUMBER: _ClassVar[int]
    graphs: _containers.RepeatedCompositeFieldContainer[GraphInfo]
    def __init__(self, graphs: _Optional[_Iterable[_Union[GraphInfo, _Mapping]]] = ...) -> None: ...

class GraphInfo(_message.Message):
    __slots__ = ("name", "description", "inputs", "outputs", "nodes")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    inputs: _containers.RepeatedCompositeFieldContainer[InputInfo]
    outputs: _containers.RepeatedCompositeFieldContainer[OutputInfo]
    nodes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., inputs: _Optional[_Iterable[_Union[InputInfo, _Mapping]]] = ..., outputs: _Optional[_Iterable[_Union[OutputInfo, _Mapping]]] = ..., nodes: _Optional[_Iterable[str]] = ...) -> None: ...

class InputInfo(_message.Message):
    __slots__ = ("name", "required", "default_value", "description", "type")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_VALUE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    required: bool
    default_value: _struct_pb2.Value
    description: str
    type: str
    def __init__(self, name: _Optional[str] = ..., required: _Optional[bool] = ..., default_value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., description: _Optional[str] = ..., type: _Optional[str] = ...) -> None: ...

class OutputInfo(_message.Message):
    __slots__ = ("name", "node", "description")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    node: str
    description: str
    def __init__(self, name: _Optional[str] = ..., node: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class RunRequest(_message.Message):
    __slots__ = ("graph", "values", "workflow_id", "select", "max_iterations")
    GRAPH_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    SELECT_FIELD_NUMBER: _ClassVar[int]
    MAX_ITERATIONS_FIELD_NUMBER: _ClassVar[int]
    graph: str
    values: _struct_pb2.Struct
    workflow_id: str
    select: _containers.RepeatedScalarFieldContainer[str]
    max_iterations: int
    def __init__(self, graph: _Optional[str] = ..., values: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., workflow_id: _Optional[str] = ..., select: _Optional[_Iterable[str]] = ..., max_iterations: _Optional[int] = ...) -> None: ...

class RunResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: RunResult
    def __init__(self, result: _Optional[_Union[RunResult, _Mapping]] = ...) -> None: ...

class IterRequest(_message.Message):
    __slots__ = ("graph", "values", "workflow_id", "select", "max_iterations", "options", "capability")
    GRAPH_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    SELECT_FIELD_NUMBER: _ClassVar[int]
    MAX_ITERATIONS_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    CAPABILITY_FIELD_NUMBER: _ClassVar[int]
    graph: str
    values: _struct_pb2.Struct
    workflow_id: str
    select: _containers.RepeatedScalarFieldContainer[str]
    max_iterations: int
    options: StreamOptions
    capability: CapabilityRequest
    def __init__(self, graph: _Optional[str] = ..., values: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., workflow_id: _Optional[str] = ..., select: _Optional[_Iterable[str]] = ..., max_iterations: _Optional[int] = ..., options: _Optional[_Union[StreamOptions, _Mapping]] = ..., capability: _Optional[_Union[CapabilityRequest, _Mapping]] = ...) -> None: ...

class CapabilityRequest(_message.Message):
    __slots__ = ("scopes", "ttl")
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    TTL_FIELD_NUMBER: _ClassVar[int]
    scopes: _containers.RepeatedScalarFieldContainer[str]
    ttl: _duration_pb2.Duration
    def __init__(self, scopes: _Optional[_Iterable[str]] = ..., ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class StreamOptions(_message.Message):
    __slots__ = ("detach", "disable_merge", "max_queued_events", "max_chunk_bytes", "view")
    DETACH_FIELD_NUMBER: _ClassVar[int]
    DISABLE_MERGE_FIELD_NUMBER: _ClassVar[int]
    MAX_QUEUED_EVENTS_FIELD_NUMBER: _ClassVar[int]
    MAX_CHUNK_BYTES_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    detach: bool
    disable_merge: bool
    max_queued_events: int
    max_chunk_bytes: int
    view: EventView
    def __init__(self, detach: _Optional[bool] = ..., disable_merge: _Optional[bool] = ..., max_queued_events: _Optional[int] = ..., max_chunk_bytes: _Optional[int] = ..., view: _Optional[_Union[EventView, str]] = ...) -> None: ...

class StopRequest(_message.Message):
    __slots__ = ("workflow_id", "info", "grace")
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    INFO_FIELD_NUMBER: _ClassVar[int]
    GRACE_FIELD_NUMBER: _ClassVar[int]
    workflow_id: str
    info: _struct_pb2.Struct
    grace: _duration_pb2.Duration
    def __init__(self, workflow_id: _Optional[str] = ..., info: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., grace: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class StopResponse(_message.Message):
    __slots__ = ("found", "run_id", "state")
    FOUND_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    found: bool
    run_id: str
    state: RunState
    def __init__(self, found: _Optional[bool] = ..., run_id: _Optional[str] = ..., state: _Optional[_Union[RunState, str]] = ...) -> None: ...

class WatchRequest(_message.Message):
    __slots__ = ("workflow_id", "after_seq", "options")
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    workflow_id: str
    after_seq: int
    options: StreamOptions
    def __init__(self, workflow_id: _Optional[str] = ..., after_seq: _Optional[int] = ..., options: _Optional[_Union[StreamOptions, _Mapping]] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("workflow_id", "run_id", "seq", "time", "node", "span_id", "parent_span_id", "run_started", "superstep_started", "node_started", "streaming_chunk", "node_ended", "node_failed", "route_decision", "stop_requested", "run_ended", "events_lost")
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    SPAN_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_SPAN_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_STARTED_FIELD_NUMBER: _ClassVar[int]
    SUPERSTEP_STARTED_FIELD_NUMBER: _ClassVar[int]
    NODE_STARTED_FIELD_NUMBER: _ClassVar[int]
    STREAMING_CHUNK_FIELD_NUMBER: _ClassVar[int]
    NODE_ENDED_FIELD_NUMBER: _ClassVar[int]
    NODE_FAILED_FIELD_NUMBER: _ClassVar[int]
    ROUTE_DECISION_FIELD_NUMBER: _ClassVar[int]
    STOP_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    RUN_ENDED_FIELD_NUMBER: _ClassVar[int]
    EVENTS_LOST_FIELD_NUMBER: _ClassVar[int]
    workflow_id: str
    run_id: str
    seq: int
    time: _timestamp_pb2.Timestamp
    node: str
    span_id: str
    parent_span_id: str
    run_started: RunStarted
    superstep_started: SuperstepStarted
    node_started: NodeStarted
    streaming_chunk: StreamingChunk
    node_ended: NodeEnded
    node_failed: NodeFailed
    route_decision: RouteDecision
    stop_requested: StopRequested
    run_ended: RunEnded
    events_lost: EventsLost
    def __init__(self, workflow_id: _Optional[str] = ..., run_id: _Optional[str] = ..., seq: _Optional[int] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., node: _Optional[str] = ..., span_id: _Optional[str] = ..., parent_span_id: _Optional[str] = ..., run_started: _Optional[_Union[RunStarted, _Mapping]] = ..., superstep_started: _Optional[_Union[SuperstepStarted, _Mapping]] = ..., node_started: _Optional[_Union[NodeStarted, _Mapping]] = ..., streaming_chunk: _Optional[_Union[StreamingChunk, _Mapping]] = ..., node_ended: _Optional[_Union[NodeEnded, _Mapping]] = ..., node_failed: _Optional[_Union[NodeFailed, _Mapping]] = ..., route_decision: _Optional[_Union[RouteDecision, _Mapping]] = ..., stop_requested: _Optional[_Union[StopRequested, _Mapping]] = ..., run_ended: _Optional[_Union[RunEnded, _Mapping]] = ..., events_lost: _Optional[_Union[EventsLost, _Mapping]] = ...) -> None: ...

class EventsLost(_message.Message):
    __slots__ = ("first_seq", "last_seq")
    FIRST_SEQ_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    first_seq: int
    last_seq: int
    def __init__(self, first_seq: _Optional[int] = ..., last_seq: _Optional[int] = ...) -> None: ...

class RunStarted(_message.Message):
    __slots__ = ("graph", "capability")
    GRAPH_FIELD_NUMBER: _ClassVar[int]
    CAPABILITY_FIELD_NUMBER: _ClassVar[int]
    graph: str
    capability: str
    def __init__(self, graph: _Optional[str] = ..., capability: _Optional[str] = ...) -> None: ...

class SuperstepStarted(_message.Message):
    __slots__ = ("superstep",)
    SUPERSTEP_FIELD_NUMBER: _ClassVar[int]
    superstep: int
    def __init__(self, superstep: _Optional[int] = ...) -> None: ...

class NodeStarted(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StreamingChunk(_message.Message):
    __slots__ = ("text", "value", "data", "merged")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    MERGED_FIELD_NUMBER: _ClassVar[int]
    text: str
    value: _struct_pb2.Value
    data: bytes
    merged: int
    def __init__(self, text: _Optional[str] = ..., value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., data: _Optional[bytes] = ..., merged: _Optional[int] = ...) -> None: ...

class NodeEnded(_message.Message):
    __slots__ = ("duration_ms", "usage")
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    duration_ms: float
    usage: _struct_pb2.Struct
    def __init__(self, duration_ms: _Optional[float] = ..., usage: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class NodeFailed(_message.Message):
    __slots__ = ("error",)
    ERROR_FIELD_NUMBER: _ClassVar[int]
    error: ErrorInfo
    def __init__(self, error: _Optional[_Union[ErrorInfo, _Mapping]] = ...) -> None: ...

class RouteDecision(_message.Message):
    __slots__ = ("decision", "end")
    DECISION_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    decision: str
    end: bool
    def __init__(self, decision: _Optional[str] = ..., end: _Optional[bool] = ...) -> None: ...

class StopRequested(_message.Message):
    __slots__ = ("info",)
    INFO_FIELD_NUMBER: _ClassVar[int]
    info: _struct_pb2.Struct
    def __init__(self, info: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class RunEnded(_message.Message):
    __slots__ = ("result", "duration_ms")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    result: RunResult
    duration_ms: float
    def __init__(self, result: _Optional[_Union[RunResult, _Mapping]] = ..., duration_ms: _Optional[float] = ...) -> None: ...

class ListRunsRequest(_message.Message):
    __slots__ = ("graph", "page_size", "page_token")
    GRAPH_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    graph: str
    page_size: int
    page_token: str
    def __init__(self, graph: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListRunsResponse(_message.Message):
    __slots__ = ("runs", "next_page_token")
    RUNS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    runs: _containers.RepeatedCompositeFieldContainer[RunSummary]
    next_page_token: str
    def __init__(self, runs: _Optional[_Iterable[_Union[RunSummary, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RunSummary(_message.Message):
    __slots__ = ("workflow_id", "run_id", "graph", "owner", "start_time", "state")
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    GRAPH_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    workflow_id: str
    run_id: str
    graph: str
    owner: str
    start_time: _timestamp_pb2.Timestamp
    state: RunState
    def __init__(self, workflow_id: _Optional[str] = ..., run_id: _Optional[str] = ..., graph: _Optional[str] = ..., owner: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., state: _Optional[_Union[RunState, str]] = ...) -> None: ...

class ErrorInfo(_message.Message):
    __slots__ = ("type", "message", "node")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    type: str
    message: str
    node: str
    def __init__(self, type: _Optional[str] = ..., message: _Optional[str] = ..., node: _Optional[str] = ...) -> None: ...

class RunResult(_message.Message):
    __slots__ = ("workflow_id", "run_id", "status", "values", "error", "stop_info", "forced", "usage")
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    STOP_INFO_FIELD_NUMBER: _ClassVar[int]
    FORCED_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    workflow_id: str
    run_id: str
    status: RunStatus
    values: _struct_pb2.Struct
    error: ErrorInfo
    stop_info: _struct_pb2.Struct
    forced: bool
    usage: _struct_pb2.Struct
    def __init__(self, workflow_id: _Optional[str] = ..., run_id: _Optional[str] = ..., status: _Optional[_Union[RunStatus, str]] = ..., values: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., error: _Optional[_Union[ErrorInfo, _Mapping]] = ..., stop_info: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., forced: _Optional[bool] = ..., usage: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...
