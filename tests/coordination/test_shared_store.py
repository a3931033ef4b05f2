"""Two replicas sharing one Redis: what only a shared store can do.

Ownership across replicas, Stop routed to the owner with an acknowledgement, a
silent owner answering UNAVAILABLE within a bounded wait, Watch and ListRuns
from another replica, and a dead replica's runs ended as replica_lost.
"""

from __future__ import annotations

import asyncio

import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from hypergraph import AsyncRunner, RunStatus
from hypergraph_grpc.coordination import (
    CoordinationUnavailable,
    EventLogLimits,
    StopState,
    WorkflowBusy,
)
from hypergraph_grpc.coordination.redis import RedisCoordination
from tests.coordination.test_contract import collect, start_tokens, wait_for
from tests.service.sequence import assert_seq_counts_calls
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.asyncio

LEASE_S = 1.0


@pytest.fixture(scope="module")
def redis_server():
    server = RedisServer()
    yield server
    server.close()


@pytest_asyncio.fixture
async def replicas(redis_server):
    """make(name) -> (coordination, runner) on the shared Redis; all closed after."""
    admin = aioredis.from_url(redis_server.url)
    await admin.flushall()
    built = []

    async def make(name: str, **kw):
        runner = AsyncRunner()
        coordination = RedisCoordination.from_url(
            redis_server.url,
            runner.stop,
            EventLogLimits(ttl_seconds=30),
            replica_id=name,
            lease_seconds=LEASE_S,
            **kw,
        )
        await coordination.start()
        built.append(coordination)
        return coordination, runner

    yield make
    for coordination in built:
        await coordination.close()
    await admin.flushall()
    await admin.aclose()


async def test_a_second_replica_cannot_claim_a_live_id_and_learns_the_owner(replicas):
    a, _ = await replicas("replica-a")
    b, _ = await replicas("replica-b")
    run = await a.claim("wf-x", "tokens")
    with pytest.raises(WorkflowBusy) as busy:
        await b.claim("wf-x", "tokens")
    assert busy.value.owner == "replica-a"
    await a.release(run)
    assert (await b.claim("wf-x", "tokens")).token > run.token


async def test_concurrent_claims_of_one_id_have_one_winner(replicas):
    members = [await replicas(f"replica-{i}") for i in range(3)]
    attempts = [c.claim("wf-race", "tokens") for c, _ in members for _ in range(7)]
    results = await asyncio.gather(*attempts, return_exceptions=True)
    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(r, WorkflowBusy) for r in results if r not in winners)


async def test_stop_on_another_replica_reaches_the_owner_and_is_acknowledged(replicas):
    a, runner_a = await replicas("replica-a")
    b, _ = await replicas("replica-b")
    live, task = await start_tokens(runner_a, a, "wf-routed")
    await wait_for(lambda: live.started)
    info = await b.lookup("wf-routed")
    assert info.owner == "replica-a" and info.run_id == live.run_id
    outcome = await b.stop("wf-routed", {"kind": "user_stop"}, 1.0)
    result = await task
    assert outcome.found and outcome.run_id == result.run_id
    assert outcome.state is StopState.STOPPING
    assert result.status is RunStatus.STOPPED and result.stop_info == {"kind": "user_stop"}
    again = await b.stop("wf-routed", None, None)
    assert not again.found and again.state is StopState.ENDED


async def test_stop_for_an_owner_that_never_answers_is_unavailable_in_bounded_time(
    replicas, redis_server
):
    b, _ = await replicas("replica-b", stop_timeout_seconds=0.3)
    admin = aioredis.from_url(redis_server.url)
    silent = admin.pubsub()
    await silent.subscribe("hg:stop:replica-silent")  # listens, never acknowledges
    await admin.set("hg:lease:wf-silent", "replica-silent|1", px=60_000)
    try:
        with pytest.raises(CoordinationUnavailable) as info:
            await asyncio.wait_for(b.stop("wf-silent", None, None), 5)
        assert info.value.retry_after_s > 0
        await admin.set("hg:lease:wf-gone", "replica-gone|2", px=60_000)
        with pytest.raises(CoordinationUnavailable):  # nobody listens for it at all
            await asyncio.wait_for(b.stop("wf-gone", None, None), 5)
    finally:
        await silent.aclose()
        await admin.aclose()


async def test_watch_and_list_runs_from_another_replica(replicas):
    a, runner_a = await replicas("replica-a")
    b, _ = await replicas("replica-b")
    live, task = await start_tokens(runner_a, a, "wf-seen", count=60, delay_ms=2)
    await wait_for(lambda: live.started)
    listed = await b.list_runs()
    assert [(r.workflow_id, r.owner) for r in listed] == [("wf-seen", "replica-a")]
    events = await collect(await b.watch("wf-seen", 0))
    result = await task
    assert events[-1].WhichOneof("kind") == "run_ended"
    assert_seq_counts_calls(events)
    text = "".join(e.streaming_chunk.text for e in events if e.HasField("streaming_chunk"))
    assert text == result.values["text"]
    assert await b.list_runs() == []


async def test_a_dead_replicas_runs_end_as_replica_lost_and_free_the_id(replicas):
    a, runner_a = await replicas("replica-a")
    b, _ = await replicas("replica-b")
    live, task = await start_tokens(runner_a, a, "wf-orphan", delay_ms=5)
    await wait_for(lambda: live.started)
    await a.close()  # stops renewing: as if the process were gone
    watch = asyncio.ensure_future(collect(await b.watch("wf-orphan", 0)))
    try:
        await wait_for(lambda: watch.done(), timeout=LEASE_S * 30)  # generous: a busy CI machine
        events = watch.result()
        end = events[-1]
        assert end.WhichOneof("kind") == "run_ended"
        assert end.run_ended.result.status == 2  # RUN_STATUS_FAILED
        assert end.run_ended.result.error.type == "replica_lost"
        assert end.seq == events[-2].seq + 1
        run = await b.claim("wf-orphan", "tokens")  # the id is free again
        await b.release(run)
    finally:
        runner_a.stop("wf-orphan", grace=0)
        await asyncio.wait((task,), timeout=5)


async def test_watch_resuming_inside_a_merged_entry_gets_exactly_the_calls_after(replicas):
    a, runner_a = await replicas("replica-a")
    live = await a.claim("wf-merged", "tokens")
    # Unpaced: the log writer finds many chunks waiting and keeps them as merged entries.
    from tests.coordination.test_contract import run_claimed

    result = await run_claimed(runner_a, a, live, "tokens", {"count": 3000})
    whole = await collect(await a.watch("wf-merged", 0))
    assert any(e.streaming_chunk.merged > 1 for e in whole if e.HasField("streaming_chunk"))
    for after in (3, 4, 100, 1500, 2999):
        rest = await collect(await a.watch("wf-merged", after))
        assert_seq_counts_calls(rest, after_seq=after)
        text = "".join(e.streaming_chunk.text for e in rest if e.HasField("streaming_chunk"))
        assert text == "".join(f"tok{i} " for i in range(after - 3, 3000))  # seq 4 = tok0
    assert result.values["text"].startswith("tok0 ")
