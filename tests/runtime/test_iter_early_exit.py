"""Leaving an iter() block early (C49): the run is stopped and its workflow id freed, whatever state the run is in."""

from __future__ import annotations

import asyncio

import pytest

from hypergraph import (
    AsyncRunner,
    Graph,
    RunStatus,
    node,
)

from .helpers import Recorder, quick
from .test_events import check_run_events


@pytest.mark.asyncio
async def test_c49_block_cancelled_before_run_task_started_frees_id_and_ends():
    """C49: cancelling the block before the run's task ran once still frees the workflow
    id (it can be reused at once) and ends the run, so ``handle.result()`` returns."""
    runner = AsyncRunner()
    box = {}

    async def consume():
        async with runner.iter(Graph([quick]), x=1, workflow_id="pre") as handle:
            box["h"] = handle
            raise asyncio.CancelledError  # e.g. awaiting an already-cancelled future

    with pytest.raises(asyncio.CancelledError):
        await asyncio.ensure_future(consume())
    assert not runner.is_running("pre") and runner.live_workflows() == ()
    result = await asyncio.wait_for(box["h"].result(), 5)
    assert result.status is RunStatus.STOPPED and result.forced and result.stop_info is None
    assert box["h"].stop() is False
    async with runner.iter(Graph([quick]), x=2, workflow_id="pre") as again:
        events = [e async for e in again]
    assert events[-1].status is RunStatus.COMPLETED and events[-1].result["o"] == 2


@pytest.mark.asyncio
async def test_c49_leaving_block_of_failed_run_does_not_wait_forever_for_a_stubborn_sibling():
    """C49: leaving the block of a run already decided FAILED (so the stop is refused)
    while a sibling ignores the cooperative stop is bounded by the close grace: the
    sibling (here one that would run an hour) is cancelled, the run ends FAILED with the
    first error and ``forced``, and no task is left."""

    @node(output_name="a")
    async def boom(x):
        raise ValueError("first cause")

    @node(output_name="b")
    async def stubborn(x):
        await asyncio.sleep(3600)
        return "late"

    runner = AsyncRunner()
    rec = Recorder()
    before = asyncio.all_tasks()
    async with runner.iter(Graph([boom, stubborn]), x=1, event_processors=[rec]) as handle:
        async for event in handle:
            if type(event).__name__ == "NodeErrorEvent":
                break  # the run is decided FAILED; stubborn still runs
    result = await handle.result(raise_on_failure=False)
    assert result.status is RunStatus.FAILED and str(result.error) == "first cause"
    assert result.forced and result.stop_info is None and "b" not in result.values
    errors = [
        (e.node_name, e.error_type) for e in rec.events if type(e).__name__ == "NodeErrorEvent"
    ]
    assert errors == [("boom", "ValueError"), ("stubborn", "asyncio.CancelledError")]
    assert "StopRequestedEvent" not in rec.kinds()
    check_run_events(rec.events)
    assert asyncio.all_tasks() == before
