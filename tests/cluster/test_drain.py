"""SIGTERM on one replica of a cluster with 50 open streams: nobody is left without an end."""

from __future__ import annotations

import asyncio

import pytest

from hypergraph_grpc.client import AsyncClient, RunEnded, RunStarted
from tests.cluster.conftest import start_replica
from tests.cluster.test_replicas import steps_follow
from tests.support.nginx_server import NginxServer

pytestmark = pytest.mark.asyncio

STREAMS = 50
WATCHERS = 10


async def test_drain_with_fifty_streams_every_client_gets_its_run_ended(redis):
    draining = start_replica(redis)
    staying = start_replica(redis)
    nginx = None
    try:
        nginx = NginxServer([draining.target, staying.target])
        async with AsyncClient(draining.target) as direct, AsyncClient(nginx.target) as balanced:
            streams = [
                direct.iter("tokens", {"count": 100000, "delay_ms": 10}, workflow_id=f"wf-d-{i}")
                for i in range(STREAMS)
            ]
            for stream in streams:
                assert isinstance(await anext(stream), RunStarted)

            async def watch(workflow_id: str) -> list:
                return [event async for event in balanced.watch(workflow_id)]

            watchers = [asyncio.ensure_future(watch(f"wf-d-{i}")) for i in range(0, STREAMS, 5)]
            await asyncio.sleep(0.3)
            stopped = asyncio.get_running_loop().run_in_executor(None, draining.stop)

            async def run_ended(stream):
                async for _ in stream:  # to RunEnded: `result` is then the run's RunResult
                    pass
                return stream.result

            results = await asyncio.gather(*(run_ended(s) for s in streams))
            assert all(r is not None for r in results), "a stream ended without RunEnded"
            assert {r.status for r in results} <= {"STOPPED", "COMPLETED"}
            watched = await asyncio.wait_for(asyncio.gather(*watchers), 60)
            for events in watched:
                assert isinstance(events[-1], RunEnded)  # resumed elsewhere if cut
                assert steps_follow(events)
            assert await stopped == 0
    finally:
        if nginx is not None:
            nginx.close()
        draining.stop()
        staying.stop()


async def test_a_watch_on_a_replica_that_shuts_down_ends_unavailable_to_resume_elsewhere(redis):
    from hypergraph_grpc.client import UnavailableError

    leaving = start_replica(redis)
    owner = start_replica(redis)
    try:
        async with AsyncClient(owner.target) as o, AsyncClient(leaving.target) as w:
            stream = o.iter("tokens", {"count": 100000, "delay_ms": 10}, workflow_id="wf-away")
            assert isinstance(await anext(stream), RunStarted)
            seen = []

            async def watch():
                async for event in w.watch("wf-away", resume=False):
                    seen.append(event)

            watcher = asyncio.ensure_future(watch())
            while len(seen) < 3:
                await asyncio.sleep(0.02)
            stopped = asyncio.get_running_loop().run_in_executor(None, leaving.stop)
            with pytest.raises(UnavailableError) as info:
                await asyncio.wait_for(watcher, 30)
            assert info.value.reason == "SERVER_DRAINING"
            assert await stopped == 0
            async with AsyncClient(owner.target) as again:  # resumes on the owner
                rest = again.watch("wf-away", after_seq=seen[-1].seq)
                await o.stop("wf-away", grace=0.5)
                events = seen + [event async for event in rest]
            assert isinstance(events[-1], RunEnded) and steps_follow(events)
            await stream.aclose()
    finally:
        leaving.stop()
        owner.stop()
