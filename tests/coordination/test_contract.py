"""The coordination contract, run against every implementation (see conftest.py).

Runs use the real runtime and are wired the way the service wires them: the
coordination's recorder first among the run's processors, the id released
before RunEnded is visible.
"""

from __future__ import annotations

import asyncio

import pytest

from hypergraph import AsyncRunner, RunStatus
from hypergraph_grpc.coordination import (
    EventLogLimits,
    StopState,
    UnknownWorkflow,
    WorkflowBusy,
)
from hypergraph_grpc.demo.testing import GRAPHS
from hypergraph_grpc.streams import RunHooks
from tests.service.sequence import assert_seq_counts_calls

pytestmark = pytest.mark.asyncio


async def run_claimed(runner, coord, live, graph, values, *processors):
    """Run ``graph`` for a claimed id as the service does; returns the result."""
    result = await runner.run(
        GRAPHS[graph],
        values,
        workflow_id=live.workflow_id,
        event_processors=[coord.recorder(live, graph), *processors],
        error_handling="continue",
    )
    await live.wait_ended()
    await coord.release(live)
    return result


async def start_tokens(runner, coord, workflow_id, count=100000, delay_ms=5):
    """Claim and start a long token run in a task; returns (live, task)."""
    live = await coord.claim(workflow_id, "tokens")
    values = {"count": count, "delay_ms": delay_ms}
    task = asyncio.ensure_future(run_claimed(runner, coord, live, "tokens", values))
    live.task = task
    return live, task


async def collect(feed, limit=100000):
    events = []
    async for message in feed:
        events.append(as_event(message))
        if len(events) >= limit:
            break
    return events


def as_event(message):
    from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb

    return pb.Event.FromString(message) if isinstance(message, bytes) else message


def text_of(events) -> str:
    return "".join(e.streaming_chunk.text for e in events if e.HasField("streaming_chunk"))


async def wait_for(predicate, timeout=30.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


async def test_claim_is_exclusive_until_release_and_names_the_owner(make_coordination):
    coord = await make_coordination(AsyncRunner().stop, replica_id="replica-a")
    run = await coord.claim("wf-a", "tokens")
    assert run.owner == "replica-a"
    with pytest.raises(WorkflowBusy) as busy:
        await coord.claim("wf-a", "tokens")
    assert busy.value.owner == "replica-a"
    assert coord.live_count() == 1
    await coord.release(run)
    await coord.release(run)  # idempotent
    assert (await coord.stop("wf-a", None, None)).state is StopState.ENDED
    again = await coord.claim("wf-a", "tokens")  # free again
    assert again.token > run.token  # fencing tokens grow with every claim


async def test_stop_of_an_unknown_id_is_not_found(make_coordination):
    coord = await make_coordination(AsyncRunner().stop)
    outcome = await coord.stop("wf-nobody", None, None)
    assert outcome.found is False and outcome.state is StopState.UNKNOWN


async def test_stop_before_run_start_is_applied_when_it_starts(make_coordination):
    runner = AsyncRunner()
    coord = await make_coordination(runner.stop)
    live = await coord.claim("wf-early", "tokens")
    first = await coord.stop("wf-early", {"kind": "early"}, None)
    second = await coord.stop("wf-early", {"kind": "later"}, 0.5)
    assert first.found and second.found and first.state is StopState.STOPPING
    result = await run_claimed(
        runner, coord, live, "tokens", {"count": 100000, "delay_ms": 5}, RunHooks()
    )
    assert result.status is RunStatus.STOPPED
    assert result.stop_info == {"kind": "early"}  # the first request's info wins
    assert result.values.get("text", "") == ""  # stopped before any node ran


async def test_stop_reaches_a_live_run_and_reports_its_run_id(make_coordination):
    runner = AsyncRunner()
    coord = await make_coordination(runner.stop)
    live, task = await start_tokens(runner, coord, "wf-live")
    await wait_for(lambda: live.started)
    outcome = await coord.stop("wf-live", {"kind": "user_stop"}, 1.0)
    result = await task
    assert outcome.found and outcome.state is StopState.STOPPING
    assert outcome.run_id == result.run_id != ""
    assert result.status is RunStatus.STOPPED and result.stop_info == {"kind": "user_stop"}


async def test_stop_after_the_status_is_decided_is_not_found(make_coordination):
    runner = AsyncRunner()
    coord = await make_coordination(runner.stop)
    live = await coord.claim("wf-done", "add")
    result = await runner.run(
        GRAPHS["add"],
        {"a": 1, "b": 2},
        workflow_id="wf-done",
        event_processors=[coord.recorder(live, "add")],
    )
    outcome = await coord.stop("wf-done", None, None)  # ended: found is false
    await live.wait_ended()
    assert result.status is RunStatus.COMPLETED
    assert outcome.found is False


async def test_lookup_and_list_runs_see_live_runs_only(make_coordination):
    runner = AsyncRunner()
    coord = await make_coordination(runner.stop, replica_id="replica-l")
    live, task = await start_tokens(runner, coord, "wf-listed")
    await wait_for(lambda: live.started)
    info = await coord.lookup("wf-listed")
    assert (info.workflow_id, info.graph, info.owner) == ("wf-listed", "tokens", "replica-l")
    assert info.run_id == live.run_id != ""
    assert [r.workflow_id for r in await coord.list_runs()] == ["wf-listed"]
    await coord.stop("wf-listed", None, 0.5)
    await task
    assert await coord.lookup("wf-listed") is None
    assert await coord.list_runs() == []


async def test_release_comes_before_run_ended_is_watchable(make_coordination):
    runner = AsyncRunner()
    coord = await make_coordination(runner.stop)
    live = await coord.claim("wf-reuse", "add")
    seen_free = []

    class AtEnd(RunHooks):
        def on_run_end(self, event):
            super().on_run_end(event)

    await runner.run(
        GRAPHS["add"],
        {"a": 1, "b": 2},
        workflow_id="wf-reuse",
        event_processors=[coord.recorder(live, "add"), AtEnd()],
    )
    events = await collect(await coord.watch("wf-reuse", 0))
    seen_free.append(await coord.lookup("wf-reuse"))
    assert events[-1].WhichOneof("kind") == "run_ended"
    assert seen_free == [None]  # whoever saw RunEnded may reuse the id
    await coord.claim("wf-reuse", "add")


async def test_watch_of_an_unknown_id_raises(make_coordination):
    coord = await make_coordination(AsyncRunner().stop)
    with pytest.raises(UnknownWorkflow):
        await coord.watch("wf-never", 0)


async def test_watch_replays_then_follows_live_until_run_ended(make_coordination):
    runner = AsyncRunner()
    coord = await make_coordination(runner.stop)
    live, task = await start_tokens(runner, coord, "wf-watch", count=60, delay_ms=2)
    await wait_for(lambda: live.started)
    events = await collect(await coord.watch("wf-watch", 0))
    result = await task
    kinds = [e.WhichOneof("kind") for e in events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_ended"
    assert_seq_counts_calls(events)
    assert text_of(events) == result.values["text"]
    assert events[-1].run_ended.result.status == 1  # RUN_STATUS_COMPLETED
    assert {e.run_id for e in events} == {result.run_id}


async def test_watch_resumes_exactly_after_a_seq(make_coordination):
    runner = AsyncRunner()
    coord = await make_coordination(runner.stop)
    live, task = await start_tokens(runner, coord, "wf-resume", count=40, delay_ms=1)
    first_part = await collect(await coord.watch("wf-resume", 0), limit=10)
    rest = await collect(await coord.watch("wf-resume", first_part[-1].seq))
    result = await task
    assert_seq_counts_calls(first_part + rest)  # nothing lost, nothing repeated
    assert text_of(first_part + rest) == result.values["text"]
    assert rest[-1].WhichOneof("kind") == "run_ended"


async def test_watch_after_a_trimmed_seq_names_the_lost_range_first(make_coordination):
    runner = AsyncRunner()
    coord = await make_coordination(runner.stop, EventLogLimits(max_events=10, ttl_seconds=60))
    live = await coord.claim("wf-trim", "tokens")
    # Paced and long, so even on a loaded machine (where a log may keep chunks that
    # waited together as one entry) far more than 10 entries are written.
    await run_claimed(runner, coord, live, "tokens", {"count": 300, "delay_ms": 2})
    events = await collect(await coord.watch("wf-trim", 3))
    lost = events[0]
    assert lost.WhichOneof("kind") == "events_lost"
    assert lost.events_lost.first_seq == 4
    assert_seq_counts_calls(events, after_seq=3)  # the next event follows the lost range
    # At least the newest 10 are kept (Redis trims in whole blocks, so maybe more).
    assert events[-1].seq - lost.events_lost.last_seq >= 10
    assert events[-1].WhichOneof("kind") == "run_ended"


async def test_finished_run_is_watchable_until_its_ttl(make_coordination):
    runner = AsyncRunner()
    coord = await make_coordination(runner.stop, EventLogLimits(max_events=100, ttl_seconds=0.3))
    live = await coord.claim("wf-ttl", "add")
    await run_claimed(runner, coord, live, "add", {"a": 1, "b": 2})
    events = await collect(await coord.watch("wf-ttl", 0))
    assert events[-1].WhichOneof("kind") == "run_ended"
    await asyncio.sleep(0.5)
    with pytest.raises(UnknownWorkflow):
        await coord.watch("wf-ttl", 0)


async def test_watch_of_a_reused_id_follows_the_latest_run(make_coordination):
    runner = AsyncRunner()
    coord = await make_coordination(runner.stop)
    first = await coord.claim("wf-twice", "add")
    one = await run_claimed(runner, coord, first, "add", {"a": 1, "b": 2})
    second = await coord.claim("wf-twice", "add")
    two = await run_claimed(runner, coord, second, "add", {"a": 3, "b": 4})
    events = await collect(await coord.watch("wf-twice", 0))
    assert {e.run_id for e in events} == {two.run_id} != {one.run_id}
