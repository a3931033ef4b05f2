"""The runs live on this replica, and how a Stop is applied to one of them.

Every coordination keeps its own replica's runs here; a Stop that reaches the
owning replica (directly or routed through the shared store) ends in
:meth:`LocalRuns.stop`, so the rule is written once.
"""

from __future__ import annotations

from typing import Any

from hypergraph_grpc.coordination import LiveRun, StopOutcome, StopReceiver, StopState

__all__ = ["LocalRuns"]


class LocalRuns:
    """Live runs of this replica by workflow id (loop thread only, so no lock)."""

    def __init__(self, stop_receiver: StopReceiver) -> None:
        self.receive_stop = stop_receiver
        self._live: dict[str, LiveRun] = {}

    def get(self, workflow_id: str) -> LiveRun | None:
        return self._live.get(workflow_id)

    def add(self, run: LiveRun) -> None:
        self._live[run.workflow_id] = run

    def remove(self, run: LiveRun) -> None:
        if self._live.get(run.workflow_id) is run:
            del self._live[run.workflow_id]

    def runs(self) -> list[LiveRun]:
        return list(self._live.values())

    def __len__(self) -> int:
        return len(self._live)

    def stop(self, run: LiveRun, info: Any, grace: float | None) -> StopOutcome:
        """Stop a run of this replica: now, or when it starts if it has not yet."""
        if not run.started:
            # Claimed but RunStartEvent not dispatched yet: the runtime does not know
            # the run; keep the first request (and the earliest grace) for the recorder.
            if run.pending_stop is None:
                run.pending_stop = (info, grace)
            elif grace is not None:
                first_info, first_grace = run.pending_stop
                run.pending_stop = (
                    first_info,
                    grace if first_grace is None else min(grace, first_grace),
                )
            run.stopping = True
            return StopOutcome(True, "", StopState.STOPPING)
        if self.receive_stop(run.workflow_id, info=info, grace=grace):
            run.stopping = True
            return StopOutcome(True, run.run_id, StopState.STOPPING)
        return StopOutcome(False, "", StopState.ENDED)
