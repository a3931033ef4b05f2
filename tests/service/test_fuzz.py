"""Every RPC driven with generated requests against a real server process.

Generated: malformed and odd Struct values (deep nesting, big strings and maps,
NaN/Infinity, odd keys), invalid ids, unknown fields and raw garbage bodies,
random option values, random cancellations and Stops in the middle of a stream.

Properties: no call ever answers INTERNAL or UNKNOWN; every refusal is a defined
status carrying google.rpc details; after each batch (test function) no run,
thread or memory is left behind and a normal Iter still works; on a server with
tenants, another tenant's run answers exactly like an id nobody uses, whatever
the id.

``make test`` runs the short profile (a fixed seed, a few dozen requests per
RPC); ``make fuzz`` runs the long one (HYPERGRAPH_FUZZ=long: random seeds, many
more requests; FUZZ_EXAMPLES=N sets how many per property).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import grpc
import psutil
import pytest
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2, status_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hypergraph_grpc.errors import DOMAIN
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2_grpc as pb_grpc
from tests.support.server_process import ServerProcess

_COMMON = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
    "database": None,
}
settings.register_profile("short", max_examples=25, derandomize=True, **_COMMON)
settings.register_profile(
    "long", max_examples=int(os.environ.get("HYPERGRAPH_FUZZ_EXAMPLES") or 1500), **_COMMON
)
PROFILE = settings.get_profile(os.environ.get("HYPERGRAPH_FUZZ", "short"))

SERVICE = "/hypergraph.v1.RunnerService/"
GRAPHS = ("tokens", "sleep", "fail", "add", "echo")
CALL_TIMEOUT = 5.0
# A client does not see these with details: they are its own deadline and cancel.
CLIENT_SIDE = {grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED}
# What a batch may leave behind (the server warms caches and pools as it serves).
THREAD_SLACK = 4
RSS_SLACK_BYTES = 96 * 1024 * 1024


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with ServerProcess("--graphs", "hypergraph_grpc.demo.testing:GRAPHS") as proc:
        yield proc


@pytest.fixture(scope="module")
def channel(server: ServerProcess) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(server.target) as chan:
        yield chan


@pytest.fixture(scope="module")
def stub(channel: grpc.Channel) -> pb_grpc.RunnerServiceStub:
    return pb_grpc.RunnerServiceStub(channel)


@pytest.fixture(scope="module")
def baseline(server: ServerProcess, stub) -> tuple[int, int]:
    """The server's threads and RSS once it has served a few ordinary calls."""
    for _ in range(3):
        assert_normal_iter_works(stub)
    process = psutil.Process(server.popen.pid)
    return process.num_threads(), process.memory_info().rss


@pytest.fixture(autouse=True)
def nothing_left_behind(server: ServerProcess, stub, baseline) -> Iterator[None]:
    """After each batch: no live run, no extra thread, bounded memory, Iter still works."""
    yield
    stop_every_live_run(stub)
    assert live_runs(stub) == [], "runs left behind"
    process = psutil.Process(server.popen.pid)
    threads, rss = baseline
    assert process.num_threads() <= threads + THREAD_SLACK
    assert process.memory_info().rss <= rss + RSS_SLACK_BYTES
    assert_normal_iter_works(stub)
    assert server.popen.poll() is None, server.log()


def assert_normal_iter_works(stub) -> None:
    request = pb.IterRequest(graph="tokens")
    request.values.update({"count": 3, "prefix": "ok"})
    events = list(stub.Iter(request, timeout=CALL_TIMEOUT))
    text = "".join(e.streaming_chunk.text for e in events if e.HasField("streaming_chunk"))
    assert text == "ok0 ok1 ok2 "
    assert events[-1].run_ended.result.status == pb.RUN_STATUS_COMPLETED


def live_runs(stub) -> list[str]:
    ids, token = [], ""
    while True:
        page = stub.ListRuns(pb.ListRunsRequest(page_token=token), timeout=CALL_TIMEOUT)
        ids += [run.workflow_id for run in page.runs]
        token = page.next_page_token
        if not token:
            return ids


def stop_every_live_run(stub, within: float = 10.0) -> None:
    """Stop (grace 0) whatever still runs, then wait until nothing does."""
    import time

    give_up = time.monotonic() + within
    while (ids := live_runs(stub)) and time.monotonic() < give_up:
        for workflow_id in ids:
            stub.Stop(
                pb.StopRequest(workflow_id=workflow_id, grace=duration_pb2.Duration()),
                timeout=CALL_TIMEOUT,
            )
        time.sleep(0.05)


def assert_defined(error: grpc.RpcError) -> None:
    """Never INTERNAL/UNKNOWN; a server refusal carries google.rpc details."""
    code = error.code()
    assert code not in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN), error.details()
    if code in CLIENT_SIDE:
        return
    packed = dict(error.trailing_metadata() or ()).get("grpc-status-details-bin")
    assert packed is not None, (code, error.details())
    status = status_pb2.Status.FromString(packed)
    assert status.code == code.value[0]
    infos = [d for d in status.details if d.Is(error_details_pb2.ErrorInfo.DESCRIPTOR)]
    assert infos, status
    info = error_details_pb2.ErrorInfo()
    infos[0].Unpack(info)
    assert info.domain == DOMAIN and info.reason


# --- strategies ---------------------------------------------------------------------

# protobuf strings are UTF-8: a lone surrogate cannot even be put in a request.
texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
scalars = (
    st.none()
    | st.booleans()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.integers(-(2**63), 2**63)
    | texts
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=20,
)


def _nest(depth: int) -> object:
    value: object = "leaf"
    for _ in range(depth):
        value = {"k": value}
    return value


odd_values = (
    json_values
    | st.integers(0, 40).map(_nest)
    | st.integers(0, 100_000).map(lambda n: "x" * n)
    | st.integers(0, 2_000).map(lambda n: {f"k{i}": i for i in range(n)})
)
sensible_values = {
    "tokens": st.fixed_dictionaries(
        {"count": st.integers(0, 200)},
        optional={"prefix": texts, "delay_ms": st.floats(0, 3), "burst": st.integers(-3, 8)},
    ),
    "sleep": st.fixed_dictionaries({"seconds": st.floats(0, 0.3)}),
    "fail": st.fixed_dictionaries({"message": texts}),
    "add": st.fixed_dictionaries({"a": st.integers(-(2**60), 2**60), "b": scalars}),
    "echo": st.fixed_dictionaries({"value": odd_values}),
}
graph_names = st.sampled_from(GRAPHS) | texts
workflow_ids = (
    st.just("")
    | st.from_regex(r"[A-Za-z0-9._:-]{1,24}", fullmatch=True)
    | texts
    | st.integers(120, 300).map(lambda n: "w" * n)
)
uint32 = st.integers(0, 2**32 - 1)
stream_options = st.builds(
    pb.StreamOptions,
    detach=st.booleans(),
    disable_merge=st.booleans(),
    max_queued_events=uint32,
    max_chunk_bytes=uint32,
)
durations = st.builds(
    duration_pb2.Duration,
    seconds=st.integers(-(2**63), 2**63 - 1) | st.integers(0, 2),
    nanos=st.integers(-(2**31), 2**31 - 1) | st.integers(0, 999_999_999),
)


@st.composite
def run_fields(draw) -> dict:
    graph = draw(graph_names)
    if graph in sensible_values and draw(st.booleans()):
        values = draw(sensible_values[graph])
        if draw(st.booleans()):
            values.update(draw(st.dictionaries(texts, odd_values, max_size=3)))
    else:
        values = draw(st.dictionaries(texts, odd_values, max_size=5))
    return {
        "graph": graph,
        "values": values,
        "workflow_id": draw(workflow_ids),
        "select": draw(st.lists(st.sampled_from(["text", "sum", "echoed"]) | texts, max_size=3)),
        "max_iterations": draw(uint32),
    }


def build(message_type, fields: dict):
    values = fields.pop("values", None)
    message = message_type(**fields)
    if values is not None:
        message.values.update(values)
    return message


# --- properties -------------------------------------------------------------------------


@PROFILE
@given(fields=run_fields())
def test_run_with_generated_requests_answers_a_defined_status(stub, fields):
    try:
        stub.Run(build(pb.RunRequest, fields), timeout=CALL_TIMEOUT)
    except grpc.RpcError as error:
        assert_defined(error)


@PROFILE
@given(
    fields=run_fields(),
    options=stream_options,
    cancel_at=st.none() | st.integers(0, 6),
    stop_at=st.none() | st.integers(0, 6),
    stop_info=st.none() | st.dictionaries(texts, odd_values, max_size=3),
    grace=st.none() | durations,
)
def test_iter_with_generated_requests_cancels_and_stops_answers_defined_statuses(
    stub, fields, options, cancel_at, stop_at, stop_info, grace
):
    request = build(pb.IterRequest, fields)
    request.options.CopyFrom(options)
    call = stub.Iter(request, timeout=CALL_TIMEOUT)
    try:
        for index, event in enumerate(call):
            if index == stop_at:
                stop = pb.StopRequest(workflow_id=event.workflow_id, grace=grace)
                if stop_info is not None:
                    stop.info.update(stop_info)
                try:
                    stub.Stop(stop, timeout=CALL_TIMEOUT)
                except grpc.RpcError as error:
                    assert_defined(error)
            if index == cancel_at:
                call.cancel()
                break
    except grpc.RpcError as error:
        assert_defined(error)


@PROFILE
@given(
    workflow_id=workflow_ids,
    info=st.none() | st.dictionaries(texts, odd_values, max_size=4),
    grace=st.none() | durations,
)
def test_stop_with_generated_requests_answers_a_defined_status(stub, workflow_id, info, grace):
    request = pb.StopRequest(workflow_id=workflow_id, grace=grace)
    if info is not None:
        request.info.update(info)
    try:
        stub.Stop(request, timeout=CALL_TIMEOUT)
    except grpc.RpcError as error:
        assert_defined(error)


@PROFILE
@given(
    workflow_id=workflow_ids,
    after_seq=st.integers(0, 2**64 - 1),
    options=stream_options,
    graph=graph_names,
    page_size=st.integers(-(2**31), 2**31 - 1),
    page_token=texts,
)
def test_watch_and_listing_with_generated_requests_answer_defined_statuses(
    stub, workflow_id, after_seq, options, graph, page_size, page_token
):
    watch = pb.WatchRequest(workflow_id=workflow_id, after_seq=after_seq, options=options)
    try:
        for _ in stub.Watch(watch, timeout=1.0):
            pass
    except grpc.RpcError as error:
        assert_defined(error)
    listing = pb.ListRunsRequest(graph=graph, page_size=page_size, page_token=page_token)
    try:
        stub.ListRuns(listing, timeout=CALL_TIMEOUT)
    except grpc.RpcError as error:
        assert_defined(error)


METHODS = ("ListGraphs", "Run", "Iter", "Stop", "Watch", "ListRuns")


@PROFILE
@given(
    method=st.sampled_from(METHODS),
    prefix=st.none() | run_fields(),
    tail=st.binary(max_size=300),
)
def test_raw_bodies_and_unknown_fields_answer_defined_statuses(channel, method, prefix, tail):
    """Garbage bytes, or a valid request followed by random (often unknown) fields."""
    body = tail
    if prefix is not None and method in ("Run", "Iter"):
        message = pb.RunRequest if method == "Run" else pb.IterRequest
        prefix["values"] = {}  # a parseable head; the generated tail follows it
        body = build(message, prefix).SerializeToString() + tail
    streaming = method in ("Iter", "Watch")
    kind = channel.unary_stream if streaming else channel.unary_unary
    call = kind(SERVICE + method, request_serializer=bytes, response_deserializer=bytes)
    try:
        reply = call(body, timeout=CALL_TIMEOUT)
        if streaming:
            list(reply)
    except grpc.RpcError as error:
        assert_defined(error)


TENANTS = """
[[token]]
token = "acme-secret"
scopes = ["run", "watch", "stop"]
tenant = "acme"

[[token]]
token = "globex-secret"
scopes = ["run", "watch", "stop"]
tenant = "globex"
"""


@pytest.fixture(scope="module")
def tenant_stub(tmp_path_factory) -> Iterator[pb_grpc.RunnerServiceStub]:
    path = tmp_path_factory.mktemp("tenants") / "auth.toml"
    path.write_text(TENANTS)
    with (
        ServerProcess(
            "--graphs", "hypergraph_grpc.demo.testing:GRAPHS", "--auth-file", str(path)
        ) as proc,
        grpc.insecure_channel(proc.target) as chan,
    ):
        yield pb_grpc.RunnerServiceStub(chan)


@PROFILE
@given(
    workflow_id=st.from_regex(r"[A-Za-z0-9._:-]{1,60}", fullmatch=True),
    probe=st.sampled_from(["same", "prefixed", "doubly"]),
)
def test_another_tenants_run_answers_like_an_unknown_id(tenant_stub, workflow_id, probe):
    acme = (("authorization", "Bearer acme-secret"),)
    globex = (("authorization", "Bearer globex-secret"),)
    request = pb.IterRequest(graph="sleep", workflow_id=workflow_id, values={"seconds": 30})
    request.options.detach = True
    call = tenant_stub.Iter(request, metadata=acme, timeout=CALL_TIMEOUT)
    try:
        full_id = next(iter(call)).workflow_id
    except grpc.RpcError as error:  # e.g. ALREADY_EXISTS for a repeated id: still defined
        assert_defined(error)
        return
    finally:
        call.cancel()
    asked = {"same": workflow_id, "prefixed": full_id, "doubly": f"globex:{full_id}"}[probe]
    unknown = f"never-{workflow_id}"[:120]
    try:
        for target in (asked, unknown):
            reply = tenant_stub.Stop(
                pb.StopRequest(workflow_id=target), metadata=globex, timeout=CALL_TIMEOUT
            )
            assert reply == pb.StopResponse(), (target, reply)
            with pytest.raises(grpc.RpcError) as info:
                list(
                    tenant_stub.Watch(
                        pb.WatchRequest(workflow_id=target), metadata=globex, timeout=CALL_TIMEOUT
                    )
                )
            assert info.value.code() == grpc.StatusCode.NOT_FOUND
        listed = tenant_stub.ListRuns(pb.ListRunsRequest(), metadata=globex, timeout=CALL_TIMEOUT)
        assert full_id not in {run.workflow_id for run in listed.runs}
    finally:
        stop = pb.StopRequest(workflow_id=full_id, grace=duration_pb2.Duration())
        assert tenant_stub.Stop(stop, metadata=acme, timeout=CALL_TIMEOUT).found
