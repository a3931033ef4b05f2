"""Coordination: which workflows are live, and how a Stop reaches them.

The service talks to one :class:`Coordination`. The in-memory one
(:mod:`.memory`) serves a single process; a Redis one (cluster deployments,
``--coordination redis://...``) plugs in behind the same small interface:

- ``claim`` makes a workflow id live on this replica, or raises
  :class:`WorkflowBusy` when it is live anywhere;
- ``started`` is told the run id once the run's RunStartEvent is dispatched
  (a Stop that arrived before it is applied then);
- ``release`` frees the id once the run has ended (sync: it is called from the
  run task's ``finally``);
- ``stop`` reaches the run wherever it lives and says whether it was found.
"""

from __future__ import annotations

import abc
import asyncio
import dataclasses
import enum
from typing import Any

__all__ = [
    "Coordination",
    "LiveRun",
    "StopOutcome",
    "StopState",
    "WorkflowBusy",
    "make_coordination",
]


class WorkflowBusy(Exception):
    """The workflow id already has a live run."""

    def __init__(self, workflow_id: str) -> None:
        super().__init__(f"workflow {workflow_id!r} already has a live run")
        self.workflow_id = workflow_id


class StopState(enum.Enum):
    """What Stop saw: mirrors the contract's RunState."""

    UNKNOWN = 0
    STOPPING = 1
    ENDED = 2


@dataclasses.dataclass(frozen=True, slots=True)
class StopOutcome:
    found: bool
    run_id: str = ""
    state: StopState = StopState.UNKNOWN


@dataclasses.dataclass(eq=False, slots=True)
class LiveRun:
    """A claimed workflow id on this replica and the run task serving it."""

    workflow_id: str
    graph: str
    run_id: str = ""
    started: bool = False
    # A Stop received before RunStartEvent: (info, grace), applied on start.
    pending_stop: tuple[Any, float | None] | None = None
    task: asyncio.Task | None = None


class Coordination(abc.ABC):
    """The seam between the service and where live-run state is kept."""

    @abc.abstractmethod
    async def claim(self, workflow_id: str, graph: str) -> LiveRun:
        """Make ``workflow_id`` live here; raise WorkflowBusy if it is live anywhere."""

    @abc.abstractmethod
    def started(self, run: LiveRun, run_id: str) -> None:
        """The run's RunStartEvent was dispatched (apply any Stop that came first)."""

    @abc.abstractmethod
    def release(self, run: LiveRun) -> None:
        """The run has ended: free its workflow id."""

    @abc.abstractmethod
    async def stop(self, workflow_id: str, info: Any, grace: float | None) -> StopOutcome:
        """Ask the live run of ``workflow_id`` to stop, wherever it runs."""

    @abc.abstractmethod
    def live_runs(self) -> list[LiveRun]:
        """The runs live on this replica."""

    def live_run(self, workflow_id: str) -> LiveRun | None:
        """The run of ``workflow_id`` live on this replica, if any."""
        for run in self.live_runs():
            if run.workflow_id == workflow_id:
                return run
        return None

    def live_count(self) -> int:
        """How many runs are live on this replica."""
        return len(self.live_runs())

    async def close(self) -> None:  # noqa: B027 - optional hook, not abstract
        """Release connections (nothing to do in memory)."""


def make_coordination(url: str, runner: Any) -> Coordination:
    """``memory`` (one process), or ``redis://...`` when a Redis implementation is installed
    as ``hypergraph_grpc.coordination.redis`` (``RedisCoordination.from_url(url, runner)``)."""
    if url in ("", "memory"):
        from hypergraph_grpc.coordination.memory import InMemoryCoordination

        return InMemoryCoordination(runner)
    if url.startswith(("redis://", "rediss://", "unix://")):
        try:
            from hypergraph_grpc.coordination.redis import RedisCoordination
        except ImportError as exc:
            raise RuntimeError(
                f"--coordination {url!r}: Redis coordination is not available in this build "
                f"({exc}). How to fix: use --coordination memory (one process)."
            ) from exc
        return RedisCoordination.from_url(url, runner)
    raise RuntimeError(
        f"--coordination {url!r} is not understood. How to fix: use 'memory' or a redis:// URL."
    )
