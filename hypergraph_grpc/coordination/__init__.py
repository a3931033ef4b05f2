"""Coordination: which workflows are live, where, and how their events are kept.

The service talks to one :class:`Coordination`. The in-memory one
(:mod:`.memory`) serves a single process; the Redis one (:mod:`.redis`, cluster
deployments, ``--coordination redis://...``) implements the same interface, and
one contract test suite runs against both. Everything that may touch the network
is async:

- ``claim`` makes a workflow id live on this replica (a lease carrying this
  replica's id and a fencing token), or raises :class:`WorkflowBusy` naming the
  owner when it is live anywhere (Redis: or :class:`TenantRunsFull` when the
  id's tenant already has its limit of live runs across the cluster);
- ``release`` frees the id; the service awaits it before any client sees
  RunEnded, so a client may reuse the id at once;
- ``stop`` reaches the run wherever it lives (routed to the owner, which applies
  it through the ``stop_receiver`` it was built with) and says whether it was found;
- ``lookup`` finds a live run by workflow id, wherever it lives;
- ``recorder`` gives the event processor that writes a run's events to its
  per-run event log, and ``watch`` reads that log: replay after a seq, then
  follow until RunEnded. Both implementations bound the log by length and keep
  a finished run's log for a TTL (:class:`EventLogLimits`).
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import dataclasses
import enum
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

__all__ = [
    "CallObserver",
    "Coordination",
    "CoordinationUnavailable",
    "EventFeed",
    "EventLogLimits",
    "LiveRun",
    "RunInfo",
    "StopOutcome",
    "StopReceiver",
    "StopState",
    "RunLimit",
    "TenantRunsFull",
    "UnknownWorkflow",
    "WorkflowBusy",
    "make_coordination",
]

# Applies a stop to a run of this replica's runner, called as
# receiver(workflow_id, info=..., grace=...) -> reached (AsyncRunner.stop).
StopReceiver = Callable[[str, Any, "float | None"], bool]

# Told of each round trip to a shared store as observer(operation, failed), for metrics.
CallObserver = Callable[[str, bool], None]

# The tenant a workflow id belongs to and that tenant's limit of live runs, or None
# when the id has no limited tenant (auth.tenant_run_limit reads the auth file).
RunLimit = Callable[[str], "tuple[str, int] | None"]


class WorkflowBusy(Exception):
    """The workflow id already has a live run (``owner``: the replica running it)."""

    def __init__(self, workflow_id: str, owner: str = "") -> None:
        where = f" on replica {owner!r}" if owner else ""
        super().__init__(f"workflow {workflow_id!r} already has a live run{where}")
        self.workflow_id = workflow_id
        self.owner = owner


class TenantRunsFull(Exception):
    """The workflow id's tenant already has ``used`` live runs across the cluster, its ``limit``."""

    def __init__(self, tenant: str, used: int, limit: int) -> None:
        super().__init__(f"tenant {tenant!r} already has {used} live runs (its limit is {limit})")
        self.tenant = tenant
        self.used = used
        self.limit = limit


class UnknownWorkflow(Exception):
    """No live run and no kept event log for this workflow id."""

    def __init__(self, workflow_id: str) -> None:
        super().__init__(f"workflow {workflow_id!r} has no live run and no kept events")
        self.workflow_id = workflow_id


class CoordinationUnavailable(Exception):
    """The shared store cannot be reached (or an owner did not answer) right now."""

    def __init__(self, message: str, retry_after_s: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


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


@dataclasses.dataclass(frozen=True, slots=True)
class EventLogLimits:
    """How much of each run's event log is kept: the newest ``max_events`` events,
    and a finished run's log for ``ttl_seconds`` after its RunEnded."""

    max_events: int = 10_000
    ttl_seconds: float = 300.0


@dataclasses.dataclass(frozen=True, slots=True)
class RunInfo:
    """A live run as any replica sees it."""

    workflow_id: str
    run_id: str
    graph: str
    owner: str
    started_at: float  # time.time() of the claim
    stopping: bool = False  # a Stop reached it


@dataclasses.dataclass(eq=False, slots=True)
class LiveRun:
    """A claimed workflow id on this replica and the run task serving it."""

    workflow_id: str
    graph: str
    owner: str = ""  # the replica id that claimed it
    token: int = 0  # fencing token: grows with every claim of the cluster
    started_at: float = dataclasses.field(default_factory=time.time)
    run_id: str = ""
    quota_key: str = ""  # Redis: the tenant's set of live runs the claim counted it in
    started: bool = False
    released: bool = False
    stopping: bool = False
    # A Stop received before RunStartEvent: (info, grace), applied on start.
    pending_stop: tuple[Any, float | None] | None = None
    task: asyncio.Task | None = None
    # Set at RunEndEvent: release, then the RunEnded entry of the event log.
    ending: asyncio.Task | None = None

    async def wait_ended(self) -> None:
        """Wait until the id is released and RunEnded is in the log (never raises)."""
        if self.ending is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.ending)

    def info(self) -> RunInfo:
        return RunInfo(
            self.workflow_id, self.run_id, self.graph, self.owner, self.started_at, self.stopping
        )


class EventFeed(abc.ABC):
    """One Watch: the kept events of a workflow's latest run after a seq, then live ones.

    Iterating yields ``Event`` messages (or their wire bytes) in seq order and ends
    after RunEnded. When events after ``after_seq`` are no longer kept, the first
    message is an ``events_lost`` event naming the missing seq range.
    """

    graph: str  # the run's graph (the service checks the caller may use it)

    @abc.abstractmethod
    def __aiter__(self) -> AsyncIterator[Any]: ...


class Coordination(abc.ABC):
    """The seam between the service and where live-run state and events are kept."""

    replica_id: str

    @abc.abstractmethod
    async def claim(self, workflow_id: str, graph: str) -> LiveRun:
        """Make ``workflow_id`` live here; raise WorkflowBusy if it is live anywhere."""

    @abc.abstractmethod
    async def release(self, run: LiveRun) -> None:
        """The run has ended: free its workflow id (idempotent, never raises)."""

    @abc.abstractmethod
    async def stop(self, workflow_id: str, info: Any, grace: float | None) -> StopOutcome:
        """Ask the live run of ``workflow_id`` to stop, wherever it runs."""

    @abc.abstractmethod
    async def lookup(self, workflow_id: str) -> RunInfo | None:
        """The live run of ``workflow_id`` wherever it runs, or None."""

    @abc.abstractmethod
    async def list_runs(self) -> list[RunInfo]:
        """Every live run of the deployment, oldest first."""

    @abc.abstractmethod
    def recorder(self, run: LiveRun, graph: str) -> Any:
        """The event processor that writes ``run``'s events to its event log.

        The service passes it to the runtime first among the run's processors: it
        also reports RunStartEvent (``started``) and, at RunEndEvent, sets
        ``run.ending`` (release, then RunEnded into the log)."""

    @abc.abstractmethod
    async def watch(self, workflow_id: str, after_seq: int) -> EventFeed:
        """The feed of ``workflow_id``'s latest run; raise UnknownWorkflow when none is kept."""

    @abc.abstractmethod
    def live_runs(self) -> list[LiveRun]:
        """The runs live on this replica."""

    @abc.abstractmethod
    async def graph_of(self, workflow_id: str) -> str | None:
        """The graph of ``workflow_id``'s live run (any replica) or kept events, or None."""

    def live_count(self) -> int:
        """How many runs are live on this replica."""
        return len(self.live_runs())

    async def start(self) -> None:  # noqa: B027 - optional hook, not abstract
        """Start background work (listening for routed stops, renewing leases)."""

    async def close(self) -> None:  # noqa: B027 - optional hook, not abstract
        """Stop background work and release connections (nothing to do in memory)."""


def make_coordination(
    url: str,
    stop_receiver: StopReceiver,
    limits: EventLogLimits | None = None,
    lease_seconds: float = 10.0,
    on_call: CallObserver | None = None,
    run_limit: RunLimit | None = None,
) -> Coordination:
    """``memory`` (one process), or ``redis://...`` (a cluster: every replica on one Redis).

    ``stop_receiver`` applies a stop routed to this replica (the runner's ``stop``);
    ``lease_seconds`` is how long a claim lasts unrenewed (Redis only); ``on_call`` is
    told of every Redis round trip (memory makes none); ``run_limit`` gives a workflow
    id's tenant and its limit of live runs, which Redis enforces across the cluster at
    claim (in one process the auth policy's own count is exact)."""
    if url in ("", "memory"):
        from hypergraph_grpc.coordination.memory import InMemoryCoordination

        return InMemoryCoordination(stop_receiver, limits)
    if url.startswith(("redis://", "rediss://", "unix://")):
        try:
            from hypergraph_grpc.coordination.redis import RedisCoordination
        except ImportError as exc:
            raise RuntimeError(
                f"--coordination {url!r}: Redis coordination is not available in this build "
                f"({exc}). How to fix: install the cluster extra (make install), or use "
                "--coordination memory (one process)."
            ) from exc
        return RedisCoordination.from_url(
            url,
            stop_receiver,
            limits,
            lease_seconds=lease_seconds,
            on_call=on_call,
            run_limit=run_limit,
        )
    raise RuntimeError(
        f"--coordination {url!r} is not understood. How to fix: use 'memory' or a redis:// URL."
    )
