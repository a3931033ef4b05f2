"""Draining a server (SIGTERM, ``RunningServer.shutdown``): health turns
NOT_SERVING, new runs get UNAVAILABLE / SERVER_DRAINING, live runs are stopped
with ``{"kind": "server_shutdown"}`` (each one, even when stopping another
fails) and every open stream receives its RunEnded."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from hypergraph import AsyncRunner
from hypergraph_grpc.config import ServiceConfig
from hypergraph_grpc.convert import struct_to_dict
from hypergraph_grpc.coordination import LiveRun, StopOutcome
from hypergraph_grpc.coordination.memory import InMemoryCoordination
from hypergraph_grpc.demo.testing import GRAPHS
from hypergraph_grpc.errors import DOMAIN
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb
from hypergraph_grpc.registry import GraphRegistry
from hypergraph_grpc.service import RunnerService
from tests.service.conftest import (
    collect,
    eventually,
    iter_request,
    make_harness,
    run_request,
)
from tests.service.helpers import Details, rejected


@pytest.mark.asyncio
async def test_draining_server_answers_unavailable(harness):
    harness.service.draining = True
    details = await rejected(harness.stub.Run(run_request("add", a=1, b=1)))
    assert details.code == grpc.StatusCode.UNAVAILABLE and details.reason == "SERVER_DRAINING"
    stop = await harness.stub.Stop(pb.StopRequest(workflow_id="x"))  # Stop still served
    assert not stop.found
    harness.service.draining = False


@pytest.mark.asyncio
async def test_drain_refuses_new_iter_with_details_and_every_service_is_not_serving():
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    h = await make_harness()
    health = health_pb2_grpc.HealthStub(h.channel)
    live = h.stub.Iter(iter_request("sleep", "wf-drain", seconds=30))
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
        stop = await h.stub.Stop(pb.StopRequest(workflow_id="wf-drain"))
        assert stop.found
        ended = (await collect(live))[-1].run_ended.result
        assert ended.status == pb.RUN_STATUS_STOPPED
        await shutdown
    finally:
        shutdown.cancel()
        await h.channel.close()


@pytest.mark.asyncio
async def test_drain_stops_live_runs_and_every_stream_gets_run_ended():
    h = await make_harness(ServiceConfig(shutdown_grace=0.3))
    health = health_pb2_grpc.HealthStub(h.channel)
    calls = [
        h.stub.Iter(iter_request("tokens", count=100000, delay_ms=5)),
        h.stub.Iter(iter_request("sleep", seconds=30)),
        h.stub.Iter(iter_request("stubborn", seconds=30)),
        h.stub.Iter(iter_request("sync_sleep", seconds=30)),
    ]
    for call in calls:
        assert (await call.read()).WhichOneof("kind") == "run_started"
    shutdown = asyncio.ensure_future(h.running.shutdown(drain_seconds=0.5))
    try:
        await asyncio.sleep(0.1)
        reply = await health.Check(health_pb2.HealthCheckRequest(service=""))
        assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await h.stub.Run(run_request("add", a=1, b=1))
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        endings = [(await collect(call))[-1] for call in calls]
        await shutdown
    finally:
        await h.channel.close()
    for ending in endings:
        result = ending.run_ended.result
        assert result.status == pb.RUN_STATUS_STOPPED
        assert struct_to_dict(result.stop_info) == {"kind": "server_shutdown"}
    assert endings[2].run_ended.result.forced  # stubborn ignores stop: grace cancels it


class _FailingFirstStop(InMemoryCoordination):
    """Two live runs; stopping the first raises (a broken coordination backend)."""

    def __init__(self, runner):
        super().__init__(runner)
        self.stopped: list[str] = []

    def live_runs(self) -> list[LiveRun]:
        return [LiveRun("wf-broken", "tokens"), LiveRun("wf-fine", "tokens")]

    async def stop(self, workflow_id, info, grace) -> StopOutcome:
        self.stopped.append(workflow_id)
        if workflow_id == "wf-broken":
            raise RuntimeError("backend down")
        return StopOutcome(found=True)


@pytest.mark.asyncio
async def test_drain_stops_every_run_even_when_one_stop_raises():
    runner = AsyncRunner()
    coord = _FailingFirstStop(runner)
    service = RunnerService(GraphRegistry(GRAPHS), runner, coord)
    await service.drain(0.0)
    assert coord.stopped == ["wf-broken", "wf-fine"]
    assert service.draining
