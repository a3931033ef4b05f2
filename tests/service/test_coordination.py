"""In-memory coordination with the real runner: claims, pending stops, Stop states."""

from __future__ import annotations

import pytest

from hypergraph import AsyncRunner, RunStatus
from hypergraph_grpc.coordination import StopState, WorkflowBusy
from hypergraph_grpc.coordination.memory import InMemoryCoordination
from hypergraph_grpc.demo.testing import GRAPHS
from hypergraph_grpc.streams import RunHooks

pytestmark = pytest.mark.asyncio


async def test_claim_is_exclusive_until_release():
    coord = InMemoryCoordination(AsyncRunner())
    run = await coord.claim("wf-a", "tokens")
    with pytest.raises(WorkflowBusy):
        await coord.claim("wf-a", "tokens")
    assert coord.live_count() == 1
    coord.release(run)
    assert (await coord.stop("wf-a", None, None)).state is StopState.ENDED
    await coord.claim("wf-a", "tokens")  # free again


async def test_stop_before_run_start_is_applied_when_it_starts():
    runner = AsyncRunner()
    coord = InMemoryCoordination(runner)
    live = await coord.claim("wf-early", "tokens")
    first = await coord.stop("wf-early", {"kind": "early"}, None)
    second = await coord.stop("wf-early", {"kind": "later"}, 0.5)
    assert first.found and second.found and first.state is StopState.STOPPING
    hooks = RunHooks(on_start=lambda event: coord.started(live, event.run_id))
    result = await runner.run(
        GRAPHS["tokens"],
        {"count": 100000, "delay_ms": 5},
        workflow_id="wf-early",
        event_processors=[hooks],
        error_handling="continue",
    )
    coord.release(live)
    assert result.status is RunStatus.STOPPED
    assert result.stop_info == {"kind": "early"}  # the first request's info wins
    assert result.values.get("text", "") == ""  # stopped before any node ran


async def test_stop_after_the_status_is_decided_is_not_found():
    runner = AsyncRunner()
    coord = InMemoryCoordination(runner)
    live = await coord.claim("wf-done", "add")
    hooks = RunHooks(on_start=lambda event: coord.started(live, event.run_id))
    result = await runner.run(
        GRAPHS["add"], {"a": 1, "b": 2}, workflow_id="wf-done", event_processors=[hooks]
    )
    outcome = await coord.stop("wf-done", None, None)  # still claimed, but the run is over
    coord.release(live)
    assert result.status is RunStatus.COMPLETED
    assert outcome.found is False and outcome.state is StopState.ENDED
