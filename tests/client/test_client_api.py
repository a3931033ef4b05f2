"""Pins the public names of the client and CLI, and the parts testable without a server."""

from __future__ import annotations

import grpc
import pytest

from hypergraph_grpc import cli, client
from hypergraph_grpc.client._errors import _ERROR_BY_CODE
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb


def test_client_public_names():
    assert set(client.__all__) == {
        "AsyncClient",
        "Client",
        "EventStream",
        "SyncEventStream",
        "TextStream",
        "SyncTextStream",
        "RunStatus",
        "RunResult",
        "RunError",
        "StopOutcome",
        "RunSummary",
        "GraphInfo",
        "InputInfo",
        "OutputInfo",
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
    }
    for name in client.__all__:
        assert hasattr(client, name), name


def test_cli_public_names():
    assert set(cli.__all__) == {
        "build_parser",
        "main",
        "parse_assignments",
        "EXIT_OK",
        "EXIT_FAILED",
        "EXIT_USAGE",
    }


def test_every_event_kind_has_a_class():
    kinds = [f.name for f in pb.Event.DESCRIPTOR.oneofs_by_name["kind"].fields]
    for kind in kinds:
        event = pb.Event(seq=1)
        getattr(event, kind).SetInParent()
        converted = client.event_from_proto(event)
        assert type(converted) is not client.Event, kind


def test_chunk_payloads_and_time():
    event = pb.Event(seq=4, streaming_chunk=pb.StreamingChunk(data=b"\x00\x01", merged=2))
    event.time.FromNanoseconds(1_500_000_000)
    chunk = client.event_from_proto(event)
    assert chunk.chunk == b"\x00\x01" and chunk.text == "" and chunk.merged == 2
    assert chunk.time == 1.5 and chunk.raw is event
    value = pb.Event(streaming_chunk=pb.StreamingChunk())
    value.streaming_chunk.value.struct_value.update({"n": 3})
    assert client.event_from_proto(value).chunk == {"n": 3}


def test_error_classes_are_named_after_their_codes():
    for code, cls in _ERROR_BY_CODE.items():
        assert issubclass(cls, client.HypergraphClientError)
        camel = "".join(part.title() for part in code.name.split("_")) + "Error"
        assert cls.__name__ in (camel, "CallCancelledError"), (code, cls)


def test_every_client_exception_derives_from_one_base():
    exceptions = [
        getattr(client, name)
        for name in client.__all__
        if isinstance(getattr(client, name), type)
        and issubclass(getattr(client, name), BaseException)
    ]
    assert client.RunFailedError in exceptions and len(exceptions) == 14
    for cls in exceptions:
        assert issubclass(cls, client.HypergraphClientError), cls


def test_run_failed_error_says_which_workflow_failed_and_why():
    result = client.RunResult(
        workflow_id="wf-1",
        run_id="r-1",
        status=client.RunStatus.FAILED,
        values={},
        error=client.RunError("ValueError", "boom", "b"),
    )
    with pytest.raises(client.HypergraphClientError) as caught:
        result.raise_on_failure()
    assert type(caught.value) is client.RunFailedError and caught.value.result is result
    assert caught.value.code is grpc.StatusCode.ABORTED
    assert str(caught.value) == "workflow wf-1 failed: ValueError: boom (node b)"
