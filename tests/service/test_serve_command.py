"""`hypergraph-grpc serve` as a user runs it: the first stdout line is
``listening on HOST:PORT``; SIGTERM drains (a second signal skips the wait) and
exits 0; a bad ``--graphs`` spec exits 2 naming it."""

from __future__ import annotations

import asyncio
import signal
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from hypergraph_grpc.convert import struct_to_dict
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2_grpc as pb_grpc
from tests.service.conftest import collect, iter_request, run_request, text_of
from tests.support.server_process import ServerProcess, serve_refused


async def not_serving(health: health_pb2_grpc.HealthStub) -> bool:
    """Whether the server's health turns NOT_SERVING (polled, bounded)."""
    for _ in range(500):
        reply = await health.Check(health_pb2.HealthCheckRequest())
        if reply.status == health_pb2.HealthCheckResponse.NOT_SERVING:
            return True
        await asyncio.sleep(0.01)
    return False


@pytest.mark.asyncio
async def test_serve_prints_listening_then_serves_and_drains_on_sigterm():
    server = ServerProcess(
        "--graphs",
        "hypergraph_grpc.demo.testing:GRAPHS",
        "--drain-seconds",
        "1",
        "--log-format",
        "json",
    )
    with server:
        async with grpc.aio.insecure_channel(server.target) as channel:
            stub = pb_grpc.RunnerServiceStub(channel)
            health = health_pb2_grpc.HealthStub(channel)
            listing = await stub.ListGraphs(pb.ListGraphsRequest())
            assert {"tokens", "sleep", "add"} <= {g.name for g in listing.graphs}
            events = await collect(stub.Iter(iter_request("tokens", count=5, prefix="p")))
            assert text_of(events) == "p0 p1 p2 p3 p4 "
            calls = [stub.Iter(iter_request("tokens", count=100000, delay_ms=5)) for _ in range(3)]
            calls.append(stub.Iter(iter_request("sleep", seconds=60)))
            for call in calls:
                assert (await call.read()).WhichOneof("kind") == "run_started"
            server.popen.send_signal(signal.SIGTERM)
            # During the drain: NOT_SERVING, and new runs are refused with UNAVAILABLE.
            assert await not_serving(health)
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await stub.Run(run_request("add", a=1, b=1))
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
            for call in calls:
                events = await collect(call)
                result = events[-1].run_ended.result
                assert result.status == pb.RUN_STATUS_STOPPED
                assert struct_to_dict(result.stop_info) == {"kind": "server_shutdown"}
        assert server.popen.wait(timeout=20) == 0
        log = server.log()
        assert '"message": "run ended"' in log and '"workflow_id": "wf-' in log


@pytest.mark.asyncio
async def test_serve_rejects_a_bad_graphs_spec():
    popen = serve_refused("--graphs", "nope.mod:X")
    assert popen.returncode == 2
    assert "cannot import module 'nope.mod'" in popen.stderr


@pytest.mark.asyncio
async def test_second_signal_skips_the_drain():
    server = ServerProcess(
        "--graphs", "hypergraph_grpc.demo.testing:GRAPHS", "--drain-seconds", "600"
    )
    with server:
        async with grpc.aio.insecure_channel(server.target) as channel:
            stub = pb_grpc.RunnerServiceStub(channel)
            health = health_pb2_grpc.HealthStub(channel)
            call = stub.Iter(iter_request("sleep", seconds=600))
            assert (await call.read()).WhichOneof("kind") == "run_started"
            server.popen.send_signal(signal.SIGINT)
            assert await not_serving(health)
            server.popen.send_signal(signal.SIGTERM)  # do not wait the 600 s drain
            events = await collect(call)
            result = events[-1].run_ended.result
            assert result.status == pb.RUN_STATUS_STOPPED
            assert struct_to_dict(result.stop_info) == {"kind": "server_shutdown"}
        assert server.popen.wait(timeout=30) == 0


@pytest.mark.parametrize(("flags", "loop"), [((), "uvloop"), (("--loop", "asyncio"), "asyncio")])
def test_serve_runs_on_uvloop_by_default_and_names_the_loop(flags, loop):
    """`--loop auto` (the default) picks uvloop, which `make` installs; the serving line
    says which loop runs, and the server answers on it."""
    with ServerProcess("--graphs", "hypergraph_grpc.demo.testing:GRAPHS", *flags) as server:
        with grpc.insecure_channel(server.target) as channel:
            stub = pb_grpc.RunnerServiceStub(channel)
            assert stub.Run(run_request("add", a=1, b=2), timeout=10).result.values["sum"] == 3
        for _ in range(100):
            if "serving address=" in server.log():
                break
            time.sleep(0.05)
        serving = next(line for line in server.log().splitlines() if "serving address=" in line)
        assert f"loop={loop}" in serving
