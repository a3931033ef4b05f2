"""How stop() and the end of a run decide the status together (C29, C43, C44, C46, C47): stop() is True only for a run that will end STOPPED, the id is free once RunEnd is emitted, and grace cancels only stubborn nodes."""

from __future__ import annotations

import asyncio

import pytest

from hypergraph import (
    AsyncEventProcessor,
    AsyncRunner,
    EventProcessor,
    Graph,
    NodeContext,
    NodeErrorEvent,
    NodeStartEvent,
    RunEndEvent,
    RunStatus,
    StopRequestedEvent,
    node,
)

from .helpers import Recorder, quick
from .test_events import check_run_events


@pytest.mark.asyncio
async def test_c43_c47_stop_on_live_run_already_decided_failed_returns_false():
    """C47: a run decided FAILED (a node raised) but still live (a sibling is finishing)
    refuses a stop: False, no StopRequestedEvent, no stop_info, ends FAILED."""
    runner = AsyncRunner()
    answers = []

    @node(output_name="a")
    async def boom(x):
        raise ValueError("first cause")

    @node(output_name="b")
    async def sibling(x, ctx: NodeContext):
        while not ctx.stop_requested:  # the failure asks siblings to stop, quietly
            await asyncio.sleep(0)
        answers.append((runner.is_running(ctx.workflow_id), runner.stop(ctx.workflow_id, "late")))
        return "kept"

    rec = Recorder()
    result = await runner.run(
        Graph([boom, sibling]), x=1, workflow_id="dec", event_processors=[rec],
        error_handling="continue",
    )  # fmt: skip
    assert answers == [(True, False)]
    assert result.status is RunStatus.FAILED and str(result.error) == "first cause"
    assert result.stop_info is None and result.values == {"b": "kept"}
    assert "StopRequestedEvent" not in rec.kinds()
    check_run_events(rec.events)


@pytest.mark.asyncio
async def test_c29_c43_id_free_and_stop_false_once_run_end_is_emitted():
    """C29/C43: from the RunEndEvent on (a sync processor's on_run_end, an async
    processor still busy with it, the iter() consumer that just read it) the id is no
    longer live, stop() returns False, and a new run with the same id starts at once."""
    runner = AsyncRunner()
    seen = {}
    release = asyncio.Event()

    class AtEnd(EventProcessor):
        def on_event(self, event):
            if isinstance(event, RunEndEvent):
                wid = event.workflow_id
                seen["sync"] = (runner.is_running(wid), runner.stop(wid))

    class SlowAtEnd(AsyncEventProcessor):
        async def on_event_async(self, event):
            if isinstance(event, RunEndEvent):
                seen["async"] = (runner.is_running(event.workflow_id), runner.stop("reuse"))
                await release.wait()

    task = asyncio.ensure_future(
        runner.run(
            Graph([quick]), x=1, workflow_id="reuse", event_processors=[AtEnd(), SlowAtEnd()]
        )
    )
    while "async" not in seen:
        await asyncio.sleep(0)
    # the first run is still delivering its RunEndEvent; its id is already free
    second = await runner.run(Graph([quick]), x=2, workflow_id="reuse")
    assert second["o"] == 2
    release.set()
    first = await task
    assert first.status is RunStatus.COMPLETED
    assert seen == {"sync": (False, False), "async": (False, False)}

    async with runner.iter(Graph([quick]), x=3, workflow_id="turns") as handle:
        async for event in handle:
            if isinstance(event, RunEndEvent):
                assert not runner.is_running("turns") and handle.stop() is False
                # the next turn of a chat, started while the old block is still open
                async with runner.iter(Graph([quick]), x=4, workflow_id="turns") as nxt:
                    assert handle.stop() is False  # never touches the new run
                    events = [e async for e in nxt]
    assert events[-1].result["o"] == 4


@pytest.mark.asyncio
async def test_c44_handle_stop_before_the_run_task_started():
    """C44/C47: a stop inside the block before the first superstep: STOPPED, no node ran."""

    @node(output_name="o")
    async def never(x):
        raise AssertionError("ran")

    runner = AsyncRunner()
    async with runner.iter(Graph([never]), x=1) as handle:
        assert handle.stop({"kind": "now"}) is True
        events = [e async for e in handle]
    assert [type(e).__name__ for e in events] == [
        "RunStartEvent",
        "StopRequestedEvent",
        "RunEndEvent",
    ]
    assert events[-1].result.stop_info == {"kind": "now"}


@pytest.mark.asyncio
async def test_c46_grace_on_concurrent_nodes_cancels_only_the_stubborn_one():
    @node(output_name="a")
    async def polite(x, ctx):
        return x

    @node(output_name="b")
    async def stubborn(x):
        await asyncio.sleep(3600)

    @node(output_name="c")
    async def cooperative(x, ctx: NodeContext):
        while not ctx.stop_requested:
            await asyncio.sleep(0.001)
        return "stopped"

    runner = AsyncRunner()
    rec = Recorder()
    task = asyncio.ensure_future(
        runner.run(Graph([stubborn, cooperative]), x=1, workflow_id="mix", event_processors=[rec])
    )
    while len(rec.of(NodeStartEvent)) < 2:
        await asyncio.sleep(0.001)
    assert runner.stop("mix", grace=0.05) is True
    result = await task
    assert result.status is RunStatus.STOPPED and result.forced
    assert result.values == {"c": "stopped"}
    assert [e.node_name for e in rec.of(NodeErrorEvent)] == ["stubborn"]
    assert len(rec.of(StopRequestedEvent)) == 1
    check_run_events(rec.events)
    assert polite.inputs == ("x", "ctx")
