"""In-memory coordination for one process (the embedded default)."""

from __future__ import annotations

import itertools
import os
import socket
import time
from collections import OrderedDict
from typing import Any

from hypergraph_grpc.coordination import (
    Coordination,
    EventFeed,
    EventLogLimits,
    LiveRun,
    RunInfo,
    StopOutcome,
    StopReceiver,
    StopState,
    UnknownWorkflow,
    WorkflowBusy,
)
from hypergraph_grpc.coordination.local import LocalRuns
from hypergraph_grpc.coordination.memory_log import MemoryEventFeed, MemoryRunLog
from hypergraph_grpc.coordination.recorder import RunRecorder

__all__ = ["InMemoryCoordination", "default_replica_id"]

# How many ended workflow ids Stop remembers (to answer RUN_STATE_ENDED), and how
# many finished runs' logs are kept at most, whatever their TTL.
_RECENT_ENDED = 4096


def default_replica_id() -> str:
    """host-pid: unique among live processes, readable in logs and ListRuns."""
    return f"{socket.gethostname()}-{os.getpid()}"


class InMemoryCoordination(Coordination):
    """Live runs and their event logs in dicts; Stop calls ``stop_receiver`` directly.

    All methods run on the event loop thread, so claiming is atomic without a lock.
    """

    def __init__(
        self,
        stop_receiver: StopReceiver,
        limits: EventLogLimits | None = None,
        replica_id: str = "",
    ) -> None:
        self.replica_id = replica_id or default_replica_id()
        self.limits = limits or EventLogLimits()
        self._local = LocalRuns(stop_receiver)
        self._ended: OrderedDict[str, str] = OrderedDict()
        # The latest run's log per workflow id; finished ones in the order they ended.
        self._logs: dict[str, MemoryRunLog] = {}
        self._finished: OrderedDict[str, MemoryRunLog] = OrderedDict()
        self._tokens = itertools.count(1)

    async def claim(self, workflow_id: str, graph: str) -> LiveRun:
        self._expire_logs()
        if self._local.get(workflow_id) is not None:
            raise WorkflowBusy(workflow_id, self.replica_id)
        run = LiveRun(
            workflow_id=workflow_id, graph=graph, owner=self.replica_id, token=next(self._tokens)
        )
        self._local.add(run)
        self._finished.pop(workflow_id, None)
        self._logs[workflow_id] = MemoryRunLog(workflow_id, graph, self.limits)
        return run

    async def release(self, run: LiveRun) -> None:
        self.release_now(run)

    def release_now(self, run: LiveRun) -> None:
        """``release`` without a coroutine: the bookkeeping is dicts on this thread."""
        if run.released:
            return
        run.released = True
        self._local.remove(run)
        self._ended[run.workflow_id] = run.run_id
        self._ended.move_to_end(run.workflow_id)
        while len(self._ended) > _RECENT_ENDED:
            self._ended.popitem(last=False)
        log = self._logs.get(run.workflow_id)
        if log is not None:
            # A run that never started leaves nothing to watch; a started one is kept
            # (its RunEnded comes next) until the TTL.
            if log.events:
                self._finished[run.workflow_id] = log
                while len(self._finished) > _RECENT_ENDED:
                    workflow_id, oldest = self._finished.popitem(last=False)
                    if self._logs.get(workflow_id) is oldest:
                        del self._logs[workflow_id]
            else:
                del self._logs[run.workflow_id]
                log.abandon()

    async def stop(self, workflow_id: str, info: Any, grace: float | None) -> StopOutcome:
        run = self._local.get(workflow_id)
        if run is not None:
            return self._local.stop(run, info, grace)
        if workflow_id in self._ended:
            return StopOutcome(False, "", StopState.ENDED)
        return StopOutcome(False)

    async def lookup(self, workflow_id: str) -> RunInfo | None:
        run = self._local.get(workflow_id)
        return None if run is None else run.info()

    async def graph_of(self, workflow_id: str) -> str | None:
        run = self._local.get(workflow_id)
        if run is not None:
            return run.graph
        self._expire_logs()
        log = self._logs.get(workflow_id)
        return None if log is None else log.graph

    async def list_runs(self) -> list[RunInfo]:
        return [run.info() for run in self._local.runs()]

    def recorder(self, run: LiveRun, graph: str) -> RunRecorder:
        return RunRecorder(
            run, self._logs[run.workflow_id], self._local.receive_stop, release=self.release_now
        )

    async def watch(self, workflow_id: str, after_seq: int) -> EventFeed:
        self._expire_logs()
        log = self._logs.get(workflow_id)
        if log is None:
            raise UnknownWorkflow(workflow_id)
        return MemoryEventFeed(log, after_seq)

    def live_runs(self) -> list[LiveRun]:
        return self._local.runs()

    def live_run(self, workflow_id: str) -> LiveRun | None:
        return self._live.get(workflow_id)

    def live_count(self) -> int:
        return len(self._local)

    def _expire_logs(self) -> None:
        """Drop finished logs past their TTL (they end in order, so from the front)."""
        now = time.monotonic()
        finished = self._finished
        while finished:
            workflow_id, log = next(iter(finished.items()))
            if log.expires_at > now:
                break
            del finished[workflow_id]
            if self._logs.get(workflow_id) is log:
                del self._logs[workflow_id]
