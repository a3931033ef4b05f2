"""Two replicas behind a real nginx (deploy/nginx/hypergraph-grpc.conf): every call
goes through the balancer, so Stop and Watch land on either replica."""

from __future__ import annotations

import pytest

from hypergraph_grpc.client import AsyncClient, RunEnded, RunStarted, StreamingChunk
from tests.cluster.conftest import start_replica
from tests.cluster.test_replicas import start_detached, steps_follow
from tests.support.nginx_server import NginxServer, render

pytestmark = pytest.mark.asyncio


@pytest.fixture(scope="module")
def balancer(redis):
    replicas = [start_replica(redis), start_replica(redis)]
    try:
        nginx = NginxServer([r.target for r in replicas])
        try:
            yield nginx, replicas
        finally:
            nginx.close()
    finally:
        for replica in replicas:
            replica.stop()


async def test_the_shipped_config_keeps_streams_open_and_passes_grpc():
    text = render(["127.0.0.1:1", "127.0.0.1:2"], 9)
    assert "grpc_pass grpc://hypergraph_grpc;" in text
    assert "listen 127.0.0.1:9 http2;" in text
    assert "grpc_read_timeout 3600s;" in text
    assert text.count("server 127.0.0.1:") == 2


async def test_runs_through_the_balancer_use_both_replicas(balancer):
    nginx, _ = balancer
    async with AsyncClient(nginx.target) as client:
        for i in range(8):
            await start_detached(client, f"wf-spread-{i}", count=100000, delay_ms=20)
        try:
            owners = {r.owner for r in await client.list_runs(graph="tokens")}
        finally:
            for i in range(8):
                await client.stop(f"wf-spread-{i}", grace=0.5)
    assert len(owners) == 2


async def test_stop_through_the_balancer_is_found_every_time(balancer):
    nginx, _ = balancer
    async with AsyncClient(nginx.target) as starter, AsyncClient(nginx.target) as stopper:
        for i in range(100):
            workflow_id = f"wf-lb-stop-{i}"
            stream = starter.iter(
                "tokens", {"count": 100000, "delay_ms": 5}, workflow_id=workflow_id
            )
            assert isinstance(await anext(stream), RunStarted)
            outcome = await stopper.stop(workflow_id, {"kind": "user_stop"}, grace=1.0)
            assert outcome.found, (i, outcome)
            async for _ in stream:  # to RunEnded: `result` is then the run's RunResult
                pass
            result = stream.result
            assert result.stopped


async def test_watch_through_the_balancer_gets_every_event_in_order(balancer):
    nginx, _ = balancer
    async with AsyncClient(nginx.target) as client:
        await start_detached(client, "wf-lb-watch", count=200, delay_ms=2)
        seen = [event async for event in client.watch("wf-lb-watch")]
        again = [event async for event in client.watch("wf-lb-watch", after_seq=seen[50].seq)]
    assert isinstance(seen[0], RunStarted) and isinstance(seen[-1], RunEnded)
    assert steps_follow(seen)
    assert [e.seq for e in again] == [e.seq for e in seen[51:]]
    text = "".join(e.chunk for e in seen if isinstance(e, StreamingChunk))
    assert text == "".join(f"tok{i} " for i in range(200))
