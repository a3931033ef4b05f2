"""Requests a hostile caller sends, against a real server process: each ends with a
defined status carrying google.rpc details that fit gRPC's 8 KiB metadata limit,
the log gets at most a short rate-limited line, and the server keeps serving.

- bodies that do not parse (garbage, a Struct nested past the parser's limit,
  invalid UTF-8) answer INVALID_ARGUMENT / MALFORMED_REQUEST, after
  UNAUTHENTICATED for a caller without a token;
- huge requests (100,000 unknown keys, 10,000 unknown select names, a 1 MB graph
  name) get bounded details;
- a Stop grace outside a Duration's range is INVALID_ARGUMENT;
- values nested deeper than every client can read back are refused;
- a call with two ``authorization`` headers is refused.
"""

from __future__ import annotations

import base64
import urllib.parse
from collections.abc import Iterator

import grpc
import pytest
from google.protobuf import duration_pb2, struct_pb2

from hypergraph_grpc.client import AsyncClient
from hypergraph_grpc.convert import MAX_VALUE_DEPTH
from hypergraph_grpc.errors import DOMAIN, MAX_VIOLATIONS
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2_grpc as pb_grpc
from tests.service.conftest import run_request
from tests.service.helpers import Details, rejected
from tests.support.server_process import ServerProcess

pytestmark = pytest.mark.asyncio

TOKEN = "hostile-test-token"
AUTH = (("authorization", f"Bearer {TOKEN}"),)
SERVICE = "/hypergraph.v1.RunnerService/"
UNARY = ("ListGraphs", "Run", "Stop", "ListRuns")
STREAMING = ("Iter", "Watch")
# gRPC's default limit on the metadata a client accepts (grpc.max_metadata_size).
METADATA_LIMIT = 8 * 1024


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with ServerProcess(
        "--graphs", "hypergraph_grpc.demo.testing:GRAPHS", "--auth-token", TOKEN
    ) as proc:
        yield proc


def raw_call(channel: grpc.aio.Channel, method: str, body: bytes, metadata=AUTH):
    """``method`` called with ``body`` as the request bytes, whatever they are."""
    kind = channel.unary_stream if method in STREAMING else channel.unary_unary
    call = kind(SERVICE + method, request_serializer=bytes, response_deserializer=bytes)
    return call(body, metadata=metadata)


def nested(depth: int) -> struct_pb2.Value:
    """A value of ``depth`` objects one inside the other (``{"k": {"k": ... "x"}}``)."""
    value = struct_pb2.Value(string_value="x")
    for _ in range(depth):
        outer = struct_pb2.Value()
        outer.struct_value.fields["k"].CopyFrom(value)
        value = outer
    return value


def echo_request(depth: int) -> pb.RunRequest:
    request = pb.RunRequest(graph="echo")
    request.values.fields["value"].CopyFrom(nested(depth))
    return request


def metadata_size(error: grpc.aio.AioRpcError) -> int:
    """Bytes the status takes on the wire: grpc-message percent-encoded, binary
    trailers base64-encoded, every key and value."""
    size = len("grpc-message") + len(urllib.parse.quote(error.details() or "", safe=" "))
    for key, value in error.trailing_metadata() or ():
        encoded = base64.b64encode(value) if key.endswith("-bin") else value.encode()
        size += len(key) + len(encoded)
    return size


def assert_malformed(details: Details) -> None:
    assert details.code == grpc.StatusCode.INVALID_ARGUMENT, details.message
    assert (details.reason, details.domain) == ("MALFORMED_REQUEST", DOMAIN)
    assert details.bad_request is not None and details.bad_request.field_violations


CORRUPT = b"\xff\xff\xff\xff\xff garbage"
# Field 1 is a string in every request but ListGraphsRequest (which has no fields).
BAD_UTF8 = b"\x0a\x02\xff\xfe"
UNPARSABLE = [
    *[(method, CORRUPT) for method in UNARY + STREAMING],
    *[(method, BAD_UTF8) for method in ("Run", "Iter", "Stop", "Watch", "ListRuns")],
    ("Run", echo_request(60).SerializeToString()),
    ("Iter", echo_request(60).SerializeToString()),
]


@pytest.mark.parametrize(("method", "body"), UNPARSABLE)
async def test_a_body_that_does_not_parse_is_invalid_argument_not_unknown(server, method, body):
    async with grpc.aio.insecure_channel(server.target) as channel:
        assert_malformed(await rejected(raw_call(channel, method, body)))


async def test_a_caller_without_a_token_is_unauthenticated_before_its_body_is_parsed(server):
    async with grpc.aio.insecure_channel(server.target) as channel:
        for method in UNARY + STREAMING:
            details = await rejected(raw_call(channel, method, b"\xff\xff\xff", metadata=()))
            assert details.code == grpc.StatusCode.UNAUTHENTICATED, method
            assert details.reason == "MISSING_CREDENTIALS"


async def test_malformed_requests_log_a_short_rate_limited_line_and_no_traceback():
    with ServerProcess("--graphs", "hypergraph_grpc.demo.testing:GRAPHS") as server:
        async with grpc.aio.insecure_channel(server.target) as channel:
            for _ in range(50):
                await rejected(raw_call(channel, "Run", CORRUPT, metadata=()))
            stub = pb_grpc.RunnerServiceStub(channel)
            reply = await stub.Run(run_request("add", a=1, b=2))
    assert reply.result.values["sum"] == 3
    refused = [line for line in server.stderr if "malformed request refused" in line]
    assert 0 < len(refused) <= 2, server.log()  # one per 10 s window, not one per request
    assert all(len(line) < 400 for line in refused)
    assert "Traceback" not in server.log() and " ERROR " not in server.log(), server.log()


def huge_requests() -> dict[str, tuple[str, pb.RunRequest]]:
    unknown_keys = run_request("add", a=1, b=2)
    for i in range(100_000):
        unknown_keys.values.fields[f"unknown_{i}"].number_value = i
    wide_key = run_request("add", a=1)
    wide_key.values.fields["\u00e9" * 100_000].string_value = "x"
    return {
        "100,000 unknown keys": ("INVALID_INPUT", unknown_keys),
        "10,000 unknown select names": (
            "INVALID_INPUT",
            pb.RunRequest(graph="add", select=[f"out_{i}" for i in range(10_000)]),
        ),
        "a 1 MB graph name": ("GRAPH_NOT_FOUND", pb.RunRequest(graph="g" * 1_000_000)),
        "a 200 KB non-ASCII key": ("INVALID_INPUT", wide_key),
        "a 1 MB workflow id": (
            "INVALID_INPUT",
            run_request("add", workflow_id="\u20ac" * 300_000, a=1, b=2),
        ),
    }


@pytest.mark.parametrize("case", huge_requests().keys())
async def test_error_details_stay_bounded_whatever_the_request_holds(server, case):
    reason, request = huge_requests()[case]
    async with grpc.aio.insecure_channel(server.target) as channel:
        stub = pb_grpc.RunnerServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.Run(request, metadata=AUTH)
    details = Details(info.value)
    assert details.reason == reason, details.message
    assert metadata_size(info.value) < METADATA_LIMIT
    assert len(details.fields) <= MAX_VIOLATIONS + 1


@pytest.mark.parametrize("seconds", [2**63 - 1, -(2**63), 315_576_000_001, -1])
async def test_stop_grace_outside_a_duration_range_is_invalid_argument(server, seconds):
    request = pb.StopRequest(workflow_id="wf-1", grace=duration_pb2.Duration(seconds=seconds))
    async with grpc.aio.insecure_channel(server.target) as channel:
        stub = pb_grpc.RunnerServiceStub(channel)
        details = await rejected(stub.Stop(request, metadata=AUTH))
    assert details.code == grpc.StatusCode.INVALID_ARGUMENT
    assert details.fields == ["grace"]


async def test_the_deepest_accepted_value_comes_back_to_the_python_client(server):
    value = {"x": "leaf"}
    for _ in range(MAX_VALUE_DEPTH - 1):
        value = {"k": value}
    async with AsyncClient(server.target, metadata=AUTH) as client:
        result = await client.run("echo", {"value": value})
        assert result.values["echoed"] == value
        events = [event async for event in client.iter("echo", {"value": value})]
        assert events[-1].result.values["echoed"] == value


async def test_a_value_nested_deeper_than_clients_read_back_is_refused(server):
    async with grpc.aio.insecure_channel(server.target) as channel:
        stub = pb_grpc.RunnerServiceStub(channel)
        details = await rejected(stub.Run(echo_request(MAX_VALUE_DEPTH + 1), metadata=AUTH))
        assert details.code == grpc.StatusCode.INVALID_ARGUMENT
        assert details.fields == ["values.value"]
        stop = pb.StopRequest(workflow_id="wf-1")
        stop.info.fields["why"].CopyFrom(nested(MAX_VALUE_DEPTH + 1))
        details = await rejected(stub.Stop(stop, metadata=AUTH))
        assert details.code == grpc.StatusCode.INVALID_ARGUMENT
        assert details.fields == ["info"]


async def test_a_stop_info_over_64_kib_is_invalid_argument(server):
    request = pb.StopRequest(workflow_id="wf-1")
    request.info.update({"why": "x" * (64 * 1024)})
    async with grpc.aio.insecure_channel(server.target) as channel:
        stub = pb_grpc.RunnerServiceStub(channel)
        details = await rejected(stub.Stop(request, metadata=AUTH))
        assert details.code == grpc.StatusCode.INVALID_ARGUMENT
        assert details.fields == ["info"]
        request.info.update({"why": "x" * 1000})
        assert not (await stub.Stop(request, metadata=AUTH)).found


async def test_a_call_with_two_authorization_headers_is_refused(server):
    async with grpc.aio.insecure_channel(server.target) as channel:
        stub = pb_grpc.RunnerServiceStub(channel)
        for metadata in (AUTH + AUTH, AUTH + (("authorization", "Bearer other"),)):
            details = await rejected(stub.ListGraphs(pb.ListGraphsRequest(), metadata=metadata))
            assert details.code == grpc.StatusCode.UNAUTHENTICATED
            assert "2 'authorization' headers" in details.message
            streamed = await rejected(stub.Iter(pb.IterRequest(graph="add"), metadata=metadata))
            assert streamed.code == grpc.StatusCode.UNAUTHENTICATED
        assert len((await stub.ListGraphs(pb.ListGraphsRequest(), metadata=AUTH)).graphs) >= 5
