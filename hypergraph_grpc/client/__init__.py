"""Python clients for a hypergraph-grpc server: `AsyncClient` (asyncio) and `Client` (blocking).

    async with AsyncClient("127.0.0.1:50051") as client:
        async for token in client.stream_text("chat", {"prompt": "hi"}):
            print(token, end="", flush=True)

Both speak the generated `hypergraph.v1.RunnerService` stubs and return native
Python objects: `RunResult` (values as plain dicts, ints stay ints), typed event
dataclasses (`RunStarted`, `StreamingChunk`, ..., `RunEnded`) that work with
`match`, and `HypergraphClientError` subclasses for every error (a failed call
is mapped in one place, `error_from_rpc`, from the google.rpc status details).
See docs/python-client.md.

The client needs only grpcio, grpcio-status and protobuf: it imports neither the
server nor the runtime. Every name is defined in a private module (one job each)
and re-exported here: `_client` (the two clients), `_streams`, `_models`
(results, graphs, events), `_errors`, `_convert` (answers -> models) and
`_requests` (arguments -> requests).
"""

from __future__ import annotations

from hypergraph_grpc.client._client import DEFAULT_TARGET, AsyncClient, Client
from hypergraph_grpc.client._convert import event_from_proto, result_from_proto
from hypergraph_grpc.client._errors import (
    AlreadyExistsError,
    CallCancelledError,
    DeadlineExceededError,
    FailedPreconditionError,
    FieldViolation,
    HypergraphClientError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    RunFailedError,
    UnauthenticatedError,
    UnavailableError,
    UnimplementedError,
    error_from_rpc,
)
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
from hypergraph_grpc.client._streams import EventStream, SyncEventStream, SyncTextStream, TextStream

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
