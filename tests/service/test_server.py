"""``start_server``: health and reflection can be turned off, an unknown
coordination or a busy port is refused with a fix, ``max_request_bytes=0``
lifts the gRPC core's receive limit too, and each run logs its workflow id."""

from __future__ import annotations

import logging

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from hypergraph_grpc.config import ServiceConfig
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb
from hypergraph_grpc.server import start_server
from tests.service.conftest import (
    ALL_GRAPHS,
    close_harness,
    make_harness,
    run_request,
)


@pytest.mark.asyncio
async def test_health_and_reflection_can_be_turned_off():
    from tests.service.conftest import close_harness, make_harness

    h = await make_harness(health=False, reflection_enabled=False)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await health_pb2_grpc.HealthStub(h.channel).Check(health_pb2.HealthCheckRequest())
        assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
        assert (
            await h.stub.Run(run_request("add", a=1, b=1))
        ).result.status == pb.RUN_STATUS_COMPLETED
    finally:
        await close_harness(h)


@pytest.mark.asyncio
async def test_unknown_coordination_is_refused_with_a_fix():
    from hypergraph_grpc.server import start_server
    from tests.service.conftest import ALL_GRAPHS

    with pytest.raises(RuntimeError, match="not understood"):
        await start_server(ALL_GRAPHS, port=0, coordination="zookeeper")


@pytest.mark.asyncio
async def test_unreachable_redis_makes_new_runs_unavailable_with_a_retry_hint():
    from google.rpc import error_details_pb2

    from tests.service.conftest import close_harness, make_harness
    from tests.service.helpers import Details
    from tests.support.redis_server import free_port

    h = await make_harness(coordination=f"redis://127.0.0.1:{free_port()}/0")
    try:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await h.stub.Run(run_request("add", a=1, b=2))
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        details = Details(info.value)
        assert details.reason == "COORDINATION_UNAVAILABLE"
        retry = [d for d in details.status.details if d.Is(error_details_pb2.RetryInfo.DESCRIPTOR)]
        assert retry, "a RetryInfo tells the client when to retry"
    finally:
        await close_harness(h)


@pytest.mark.asyncio
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


@pytest.mark.asyncio
async def test_max_request_bytes_zero_means_no_limit():
    """Zero is "no limit" in the service's check, and the gRPC core's receive limit
    agrees: a 3 MiB request (under the 4 MiB default, over a 1 MiB core limit) runs."""
    h = await make_harness(ServiceConfig(max_request_bytes=0))
    try:
        big = "x" * (3 * 1024 * 1024)
        response = await h.stub.Run(run_request("echo", value=big))
        assert response.result.status == pb.RUN_STATUS_COMPLETED
        assert response.result.values.fields["echoed"].string_value == big
    finally:
        await close_harness(h)


@pytest.mark.asyncio
async def test_run_log_lines_carry_the_workflow_id(caplog, harness):
    caplog.set_level(logging.DEBUG, logger="hypergraph_grpc")
    response = await harness.stub.Run(run_request("add", "wf-logs", a=1, b=2))
    assert response.result.status == pb.RUN_STATUS_COMPLETED
    mine = [r for r in caplog.records if getattr(r, "workflow_id", "") == "wf-logs"]
    levels = {r.getMessage(): r.levelno for r in mine}
    assert levels["run started"] == logging.DEBUG and levels["run ended"] == logging.INFO
    assert all(r.run_id.startswith("run-") for r in mine)
    ended = next(r for r in mine if r.getMessage() == "run ended")
    assert ended.status == "COMPLETED" and ended.graph == "add"
