"""Cases named after grpc's interop tests: cancel after the first response,
timeout on a sleeping server, status code and message, custom metadata (echoed
on success and on errors), unimplemented method and service."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb
from hypergraph_grpc.service import ECHO_METADATA_KEY
from tests.service.conftest import (
    collect,
    iter_request,
    run_request,
)
from tests.service.helpers import Details


@pytest.mark.asyncio
async def test_cancel_after_first_response(harness):
    call = harness.stub.Iter(iter_request("tokens", "interop-cancel", count=100000, delay_ms=2))
    await call.read()
    assert call.cancel()
    assert call.cancelled()
    with pytest.raises(asyncio.CancelledError):
        await call.read()
    assert await call.code() == grpc.StatusCode.CANCELLED


@pytest.mark.asyncio
async def test_timeout_on_sleeping_server(harness):
    call = harness.stub.Iter(iter_request("sleep", seconds=30), timeout=0.2)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await collect(call)
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


@pytest.mark.asyncio
async def test_status_code_and_message(harness):
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await harness.stub.Run(run_request("add", a=1))
    details = Details(info.value)
    assert details.code == grpc.StatusCode.INVALID_ARGUMENT
    assert details.message.startswith(
        "invalid request for graph 'add': values.b: required input 'b'"
    )


@pytest.mark.asyncio
async def test_custom_metadata_unary_and_streaming(harness):
    metadata = ((ECHO_METADATA_KEY, "hello-42"), ("other", "x"))
    call = harness.stub.Run(run_request("add", a=1, b=2), metadata=metadata)
    await call
    assert (ECHO_METADATA_KEY, "hello-42") in tuple(await call.initial_metadata())
    assert (ECHO_METADATA_KEY, "hello-42") in tuple(await call.trailing_metadata())
    stream = harness.stub.Iter(iter_request("tokens", count=3), metadata=metadata)
    await collect(stream)
    assert (ECHO_METADATA_KEY, "hello-42") in tuple(await stream.initial_metadata())
    assert (ECHO_METADATA_KEY, "hello-42") in tuple(await stream.trailing_metadata())
    failing = harness.stub.Run(run_request("nope"), metadata=metadata)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await failing
    trailing = tuple(info.value.trailing_metadata())
    assert (ECHO_METADATA_KEY, "hello-42") in trailing
    assert Details(info.value).reason == "GRAPH_NOT_FOUND"  # details survive the echo


@pytest.mark.asyncio
async def test_unimplemented_method(harness):
    method = harness.channel.unary_unary(
        "/hypergraph.v1.RunnerService/NoSuchMethod",
        request_serializer=pb.ListGraphsRequest.SerializeToString,
        response_deserializer=pb.ListGraphsResponse.FromString,
    )
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await method(pb.ListGraphsRequest())
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED


@pytest.mark.asyncio
async def test_unimplemented_service(harness):
    """Interop unimplemented_service: a service this server does not have."""
    method = harness.channel.unary_unary(
        "/grpc.testing.UnimplementedService/UnimplementedCall",
        request_serializer=pb.ListGraphsRequest.SerializeToString,
        response_deserializer=pb.ListGraphsResponse.FromString,
    )
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await method(pb.ListGraphsRequest())
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
