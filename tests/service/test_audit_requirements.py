"""Requirements audit (issue 4, DESIGN.md 4): what the other service tests left implicit.

- a sync node blocked in its worker thread never blocks the loop: another stream
  flows meanwhile (the node waits for a signal only the other stream's end gives);
- a client that cancels after the first event, or whose deadline passes, ends its
  run STOPPED with the documented ``stop_info`` kind (seen through the runner);
- a server bug outside a run (here: in Stop) is INTERNAL with google.rpc details
  and a log line carrying the workflow id, never a bare UNKNOWN;
- the run log lines carry the workflow id (structured logs).

No test asserts a timing: waits are bounded guards, never measurements.
"""

from __future__ import annotations

import asyncio
import logging
import threading

import grpc
import pytest

from hypergraph import AsyncRunner, Graph, NodeContext, node
from hypergraph_grpc.config import ServiceConfig
from hypergraph_grpc.errors import DOMAIN
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb
from hypergraph_grpc.server import start_server
from tests.service.conftest import (
    ALL_GRAPHS,
    Harness,
    close_harness,
    collect,
    eventually,
    iter_request,
    make_harness,
    run_request,
    text_of,
)
from tests.service.helpers import Details

pytestmark = pytest.mark.asyncio

ENTERED = threading.Event()
RELEASE = threading.Event()


@node(output_name="released")
def wait_for_release(limit: float, ctx: NodeContext) -> bool:
    """A sync node that blocks its thread until the test releases it (or `limit` passes)."""
    ENTERED.set()
    return RELEASE.wait(limit)


BLOCKER = Graph([wait_for_release], name="blocker")


class RecordingRunner(AsyncRunner):
    """An AsyncRunner that keeps every RunResult by workflow id (the server's own view)."""

    def __init__(self) -> None:
        super().__init__()
        self.results: dict[str, object] = {}

    async def run(self, graph, values=None, **kw):
        result = await super().run(graph, values, **kw)
        self.results[result.workflow_id] = result
        return result


class StopBugRunner(AsyncRunner):
    """A runner whose stop() has a plain bug while ``broken`` is set."""

    broken = True

    def stop(self, workflow_id, **kw):
        if self.broken:
            raise ZeroDivisionError("bug in stop")
        return super().stop(workflow_id, **kw)


async def test_sync_node_blocking_its_thread_never_blocks_another_stream():
    ENTERED.clear()
    RELEASE.clear()
    running = await start_server({**ALL_GRAPHS, "blocker": BLOCKER}, port=0)
    h = Harness(running, grpc.aio.insecure_channel(running.address))
    try:
        blocked = h.stub.Iter(iter_request("blocker", "audit-blocker", limit=30.0))
        assert await asyncio.to_thread(ENTERED.wait, 10)
        # The sync node now holds its worker thread; a loop it blocked could not serve this.
        events = await collect(h.stub.Iter(iter_request("tokens", count=50)))
        assert events[-1].run_ended.result.status == pb.RUN_STATUS_COMPLETED
        assert text_of(events) == "".join(f"tok{i} " for i in range(50))
        RELEASE.set()
        ended = (await collect(blocked))[-1].run_ended.result
        assert ended.status == pb.RUN_STATUS_COMPLETED
        assert ended.values.fields["released"].bool_value  # released by us, not by the limit
    finally:
        RELEASE.set()
        await close_harness(h)


async def test_cancel_after_first_event_ends_the_run_stopped_client_cancelled():
    runner = RecordingRunner()
    h = await make_harness(runner=runner)
    try:
        call = h.stub.Iter(iter_request("tokens", "audit-cancel", count=100000, delay_ms=5))
        assert (await call.read()).WhichOneof("kind") == "run_started"
        call.cancel()
        assert await eventually(lambda: "audit-cancel" in runner.results, timeout=10)
        result = runner.results["audit-cancel"]
        assert result.stopped
        assert result.stop_info == {"kind": "client_cancelled"}
    finally:
        await close_harness(h)


async def test_deadline_ends_the_run_stopped_deadline_exceeded():
    runner = RecordingRunner()
    h = await make_harness(runner=runner)
    try:
        call = h.stub.Iter(iter_request("sleep", "audit-deadline", seconds=30), timeout=0.3)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await collect(call)
        assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert await eventually(lambda: "audit-deadline" in runner.results, timeout=10)
        result = runner.results["audit-deadline"]
        assert result.stopped and result.stop_info == {"kind": "deadline_exceeded"}
    finally:
        await close_harness(h)


async def test_server_bug_in_stop_is_internal_with_details_and_logged(caplog):
    runner = StopBugRunner()
    h = await make_harness(runner=runner)
    try:
        call = h.stub.Iter(iter_request("sleep", "audit-bug", seconds=30))
        assert (await call.read()).WhichOneof("kind") == "run_started"
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await h.stub.Stop(pb.StopRequest(workflow_id="audit-bug"))
        details = Details(info.value)
        assert details.code == grpc.StatusCode.INTERNAL
        assert (details.reason, details.domain) == ("INTERNAL_ERROR", DOMAIN)
        assert "audit-bug" in details.message and "ZeroDivisionError" in details.message
        assert any(
            getattr(r, "workflow_id", "") == "audit-bug" and r.levelno >= logging.ERROR
            for r in caplog.records
        )
    finally:
        runner.broken = False  # let the drain stop the run
        await close_harness(h)


async def test_run_log_lines_carry_the_workflow_id(caplog, harness):
    caplog.set_level(logging.INFO, logger="hypergraph_grpc")
    response = await harness.stub.Run(run_request("add", "audit-logs", a=1, b=2))
    assert response.result.status == pb.RUN_STATUS_COMPLETED
    mine = [r for r in caplog.records if getattr(r, "workflow_id", "") == "audit-logs"]
    messages = {r.getMessage() for r in mine}
    assert {"run started", "run ended"} <= messages
    ended = next(r for r in mine if r.getMessage() == "run ended")
    assert ended.status == "COMPLETED" and ended.graph == "add"


async def test_reflection_serves_the_contract_file(harness):
    """What grpcurl needs: the file that defines RunnerService, by symbol."""
    from google.protobuf import descriptor_pb2
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    stub = reflection_pb2_grpc.ServerReflectionStub(harness.channel)

    async def requests():
        yield reflection_pb2.ServerReflectionRequest(
            file_containing_symbol="hypergraph.v1.RunnerService"
        )

    replies = [reply async for reply in stub.ServerReflectionInfo(requests())]
    protos = replies[0].file_descriptor_response.file_descriptor_proto
    files = [descriptor_pb2.FileDescriptorProto.FromString(raw) for raw in protos]
    services = {s.name: s for f in files for s in f.service}
    methods = {m.name for m in services["RunnerService"].method}
    assert methods == {"ListGraphs", "Run", "Iter", "Stop", "Watch", "ListRuns"}


async def test_drain_refuses_new_iter_with_details_and_every_service_is_not_serving():
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    h = await make_harness()
    health = health_pb2_grpc.HealthStub(h.channel)
    live = h.stub.Iter(iter_request("sleep", "audit-drain", seconds=30))
    assert (await live.read()).WhichOneof("kind") == "run_started"
    shutdown = asyncio.ensure_future(h.running.shutdown(drain_seconds=30))
    try:
        assert await eventually(lambda: h.service.draining)
        for service in ("", "hypergraph.v1.RunnerService"):
            reply = await health.Check(health_pb2.HealthCheckRequest(service=service))
            assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING, service
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await collect(h.stub.Iter(iter_request("tokens", count=1)))
        details = Details(info.value)
        assert details.code == grpc.StatusCode.UNAVAILABLE
        assert (details.reason, details.domain) == ("SERVER_DRAINING", DOMAIN)
        # The live run may still finish on its own during the drain: stop it ourselves.
        stop = await h.stub.Stop(pb.StopRequest(workflow_id="audit-drain"))
        assert stop.found
        ended = (await collect(live))[-1].run_ended.result
        assert ended.status == pb.RUN_STATUS_STOPPED
        await shutdown
    finally:
        shutdown.cancel()
        await h.channel.close()


async def test_max_request_bytes_zero_means_no_limit():
    """Zero is "no limit" in the service's check; the gRPC core limit must agree
    (it was max(0, 0 + 1 MiB) = 1 MiB, below even the 4 MiB default)."""
    h = await make_harness(ServiceConfig(max_request_bytes=0))
    try:
        big = "x" * (3 * 1024 * 1024)
        response = await h.stub.Run(run_request("echo", value=big))
        assert response.result.status == pb.RUN_STATUS_COMPLETED
        assert response.result.values.fields["echoed"].string_value == big
    finally:
        await close_harness(h)


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


async def test_busy_port_is_refused_with_a_fix():
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(
            OSError, match=f"cannot bind 127.0.0.1:{port}.*How to fix: pick another"
        ):
            await start_server(ALL_GRAPHS, port=port)


CLIENT_SCRIPT = """
import sys, time, grpc
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb, runner_pb2_grpc as pbg
channel = grpc.insecure_channel(sys.argv[1])
request = pb.IterRequest(graph="tokens", workflow_id="audit-killed")
request.values.update({"count": 100000, "delay_ms": 5})
stream = pbg.RunnerServiceStub(channel).Iter(request)
next(stream)
print("ready", flush=True)
time.sleep(600)
"""


async def test_a_client_process_killed_mid_stream_stops_its_run():
    """A real disconnect (the client process dies), not a polite cancel."""
    import subprocess
    import sys
    from pathlib import Path

    runner = RecordingRunner()
    h = await make_harness(runner=runner)
    client = subprocess.Popen(
        [sys.executable, "-c", CLIENT_SCRIPT, h.running.address],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
    )
    try:
        assert await asyncio.to_thread(client.stdout.readline) == b"ready\n"
        client.kill()
        await asyncio.to_thread(client.wait)
        assert await eventually(lambda: "audit-killed" in runner.results, timeout=15)
        result = runner.results["audit-killed"]
        assert result.stopped and result.stop_info == {"kind": "client_cancelled"}
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
        await close_harness(h)
