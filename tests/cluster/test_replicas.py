"""Replica processes sharing Redis: ownership, Stop and Watch across replicas,
a killed replica, a Redis restart."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest

from hypergraph_grpc.client import (
    AlreadyExistsError,
    AsyncClient,
    RunEnded,
    RunStarted,
    StreamingChunk,
)
from tests.client.tcp_relay import Relay
from tests.cluster.conftest import LEASE_SECONDS, start_replica
from tests.support.server_process import wait_until_free_async

pytestmark = pytest.mark.asyncio


def steps_follow(events) -> bool:
    """seq = previous seq + merged: nothing lost, nothing repeated."""
    for before, event in zip(events, events[1:], strict=False):
        step = event.merged if isinstance(event, StreamingChunk) else 1
        if event.seq != before.seq + step:
            return False
    return True


async def start_detached(client: AsyncClient, workflow_id: str, **values):
    stream = client.iter("tokens", values, workflow_id=workflow_id, detach=True)
    first = await anext(stream)
    assert isinstance(first, RunStarted)
    await stream.aclose()
    return first


async def test_one_id_started_twenty_times_on_two_replicas_runs_once(pair):
    first, second = pair
    async with AsyncClient(first.target) as a, AsyncClient(second.target) as b:
        clients = [a, b] * 10
        calls = [c.run("sleep", {"seconds": 0.5}, workflow_id="wf-contended") for c in clients]
        results = await asyncio.gather(*calls, return_exceptions=True)
    done = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, AlreadyExistsError)]
    assert len(done) == 1 and len(refused) == 19, results
    owners = {r.metadata.get("owner") for r in refused}
    assert len(owners) == 1 and owners != {None}  # every refusal names the one owner


async def test_stop_on_the_other_replica_reaches_the_owner_every_time(pair):
    first, second = pair
    async with AsyncClient(first.target) as a, AsyncClient(second.target) as b:
        for i in range(100):
            workflow_id = f"wf-stop-{i}"
            stream = a.iter("tokens", {"count": 100000, "delay_ms": 5}, workflow_id=workflow_id)
            assert isinstance(await anext(stream), RunStarted)
            outcome = await b.stop(workflow_id, {"kind": "user_stop"}, grace=1.0)
            assert outcome.found, (i, outcome)
            async for _ in stream:  # to RunEnded: `result` is then the run's RunResult
                pass
            result = stream.result
            assert result.stopped and result.stop_info == {"kind": "user_stop"}


async def test_watch_from_the_other_replica_gets_every_event_and_resumes(pair):
    first, second = pair
    relay = await Relay(second.target).start()
    try:
        async with AsyncClient(first.target) as a, AsyncClient(relay.address) as b:
            await start_detached(a, "wf-watched", count=150, delay_ms=3)
            seen = []
            async for event in b.watch("wf-watched"):
                seen.append(event)
                if len(seen) == 40:
                    relay.cut()  # the watcher's connection drops mid-stream
        assert isinstance(seen[0], RunStarted) and isinstance(seen[-1], RunEnded)
        assert steps_follow(seen)
        text = "".join(e.chunk for e in seen if isinstance(e, StreamingChunk))
        assert text == "".join(f"tok{i} " for i in range(150))
    finally:
        await relay.close()


async def test_list_runs_on_any_replica_shows_every_replicas_runs(pair):
    first, second = pair
    async with AsyncClient(first.target) as a, AsyncClient(second.target) as b:
        await start_detached(a, "wf-on-a", count=100000, delay_ms=20)
        await start_detached(b, "wf-on-b", count=100000, delay_ms=20)
        try:
            listed = {r.workflow_id: r.owner for r in await b.list_runs(graph="tokens")}
            assert {"wf-on-a", "wf-on-b"} <= set(listed)
            assert listed["wf-on-a"] != listed["wf-on-b"]
        finally:
            await a.stop("wf-on-a", grace=0.5)
            await a.stop("wf-on-b", grace=0.5)


async def test_killed_owner_its_watchers_get_replica_lost_and_the_id_is_free(redis, pair):
    _, survivor = pair
    doomed = start_replica(redis)
    try:
        async with AsyncClient(doomed.target) as d, AsyncClient(survivor.target) as s:
            await start_detached(d, "wf-doomed", count=100000, delay_ms=5)
            watched = []

            async def watch():
                async for event in s.watch("wf-doomed"):
                    watched.append(event)

            watcher = asyncio.ensure_future(watch())
            while len(watched) < 10:
                await asyncio.sleep(0.02)
            doomed.popen.send_signal(signal.SIGKILL)
            killed_at = time.monotonic()
            await asyncio.wait_for(watcher, LEASE_SECONDS * 3 + 10)
            end = watched[-1]
            assert isinstance(end, RunEnded), end
            assert end.result.failed and end.result.error.type == "replica_lost"
            assert steps_follow(watched)
            assert time.monotonic() - killed_at < LEASE_SECONDS * 3 + 10
            await wait_until_free_async(s, "wf-doomed", within=10)
    finally:
        doomed.stop()


async def test_redis_restart_mid_run_the_stream_goes_on_and_the_cluster_recovers(redis):
    replica = start_replica(redis)
    try:
        async with AsyncClient(replica.target) as client:
            events = []
            stream = client.iter("tokens", {"count": 300, "delay_ms": 5}, workflow_id="wf-rr")
            async for event in stream:
                events.append(event)
                if len(events) == 20:
                    redis.stop()
                    await asyncio.sleep(0.3)
                    redis.start()
            assert isinstance(events[-1], RunEnded) and events[-1].result.completed
            text = "".join(e.chunk for e in events if isinstance(e, StreamingChunk))
            assert text == "".join(f"tok{i} " for i in range(300))
            result = await wait_until_free_async(client, "wf-after-restart", within=15)
            assert result.completed
    finally:
        replica.stop()


async def test_redis_down_streams_finish_new_runs_are_unavailable_then_it_recovers(redis):
    from hypergraph_grpc.client import UnavailableError

    replica = start_replica(redis)
    try:
        async with AsyncClient(replica.target) as client:
            events = []
            stream = client.iter("tokens", {"count": 200, "delay_ms": 5}, workflow_id="wf-down")
            async for event in stream:
                events.append(event)
                if len(events) == 10:
                    redis.stop()  # down for the rest of the run
            assert isinstance(events[-1], RunEnded) and events[-1].result.completed
            assert steps_follow(events)
            with pytest.raises(UnavailableError) as info:
                await client.run("add", {"a": 1, "b": 2})
            assert info.value.reason == "COORDINATION_UNAVAILABLE"
            redis.start()
            give_up = time.monotonic() + 20
            while True:  # recovers by itself: no restart of the replica
                try:
                    result = await client.run("add", {"a": 1, "b": 2})
                    break
                except UnavailableError:
                    assert time.monotonic() < give_up, "never recovered"
                    await asyncio.sleep(0.1)
            assert result.completed
    finally:
        if not redis.running:
            redis.start()
        replica.stop()
