"""Connection policing a balanced deployment relies on, against a real server process:
``--max-connection-age-seconds`` sends clients away (GOAWAY) so they reconnect, maybe to
another replica, while open streams finish; a client pinging too often is cut off
(GOAWAY too_many_pings), as gRPC core does."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest

from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2_grpc as pb_grpc
from tests.service.conftest import collect, iter_request, text_of
from tests.support.server_process import ServerProcess

pytestmark = pytest.mark.asyncio

GRAPHS = ("--graphs", "hypergraph_grpc.demo.testing:GRAPHS")


async def went_idle(channel: grpc.aio.Channel, within: float) -> bool:
    """Whether the channel's connection is closed under it (IDLE) within ``within`` s."""
    give_up = time.monotonic() + within
    while time.monotonic() < give_up:
        if channel.get_state() == grpc.ChannelConnectivity.IDLE:
            return True
        await asyncio.sleep(0.05)
    return False


@pytest.mark.parametrize("age", [0.5, 0])
async def test_max_connection_age_sends_clients_away_and_open_streams_finish(age):
    with ServerProcess(*GRAPHS, "--max-connection-age-seconds", str(age)) as server:
        async with grpc.aio.insecure_channel(server.target) as channel:
            stub = pb_grpc.RunnerServiceStub(channel)
            slow = iter_request("tokens", count=40, delay_ms=40, prefix="a")
            assert text_of(await collect(stub.Iter(slow))) == "".join(f"a{i} " for i in range(40))
            assert await went_idle(channel, within=3.0) == bool(age)
            reply = await stub.Run(pb.RunRequest(graph="add", values={"a": 1, "b": 2}))
            assert reply.result.values["sum"] == 3


async def test_a_client_pinging_too_often_is_cut_off():
    pings = [
        ("grpc.keepalive_time_ms", 100),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
    ]
    with ServerProcess(*GRAPHS) as server:
        async with grpc.aio.insecure_channel(server.target, options=pings) as channel:
            stub = pb_grpc.RunnerServiceStub(channel)
            call = stub.Iter(iter_request("sleep", seconds=20))
            assert (await call.read()).HasField("run_started")
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await asyncio.wait_for(collect(call), timeout=15)
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        assert server.popen.poll() is None
