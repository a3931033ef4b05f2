"""In-memory coordination for one process (the embedded default)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from hypergraph_grpc.coordination import (
    Coordination,
    LiveRun,
    StopOutcome,
    StopState,
    WorkflowBusy,
)

__all__ = ["InMemoryCoordination"]

# How many ended workflow ids Stop remembers, to answer RUN_STATE_ENDED.
_RECENT_ENDED = 4096


class InMemoryCoordination(Coordination):
    """Live runs in a dict; Stop calls the local runner directly.

    All methods run on the event loop thread, so claiming is atomic without a lock.
    """

    def __init__(self, runner: Any) -> None:
        self._runner = runner
        self._live: dict[str, LiveRun] = {}
        self._ended: OrderedDict[str, str] = OrderedDict()

    async def claim(self, workflow_id: str, graph: str) -> LiveRun:
        if workflow_id in self._live:
            raise WorkflowBusy(workflow_id)
        run = LiveRun(workflow_id=workflow_id, graph=graph)
        self._live[workflow_id] = run
        return run

    def started(self, run: LiveRun, run_id: str) -> None:
        run.run_id = run_id
        run.started = True
        if run.pending_stop is not None:
            info, grace = run.pending_stop
            self._runner.stop(run.workflow_id, info=info, grace=grace)

    def release(self, run: LiveRun) -> None:
        if self._live.get(run.workflow_id) is run:
            del self._live[run.workflow_id]
        self._ended[run.workflow_id] = run.run_id
        self._ended.move_to_end(run.workflow_id)
        while len(self._ended) > _RECENT_ENDED:
            self._ended.popitem(last=False)

    async def stop(self, workflow_id: str, info: Any, grace: float | None) -> StopOutcome:
        run = self._live.get(workflow_id)
        if run is None:
            if workflow_id in self._ended:
                return StopOutcome(False, "", StopState.ENDED)
            return StopOutcome(False)
        if not run.started:
            # Claimed but RunStartEvent not dispatched yet: the runtime does not know
            # the run; keep the first request (and the earliest grace) for `started`.
            if run.pending_stop is None:
                run.pending_stop = (info, grace)
            elif grace is not None:
                first_info, first_grace = run.pending_stop
                run.pending_stop = (
                    first_info,
                    grace if first_grace is None else min(grace, first_grace),
                )
            return StopOutcome(True, "", StopState.STOPPING)
        if self._runner.stop(workflow_id, info=info, grace=grace):
            return StopOutcome(True, run.run_id, StopState.STOPPING)
        return StopOutcome(False, "", StopState.ENDED)

    def live_runs(self) -> list[LiveRun]:
        return list(self._live.values())

    def live_run(self, workflow_id: str) -> LiveRun | None:
        return self._live.get(workflow_id)

    def live_count(self) -> int:
        return len(self._live)
