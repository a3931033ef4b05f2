"""Admission control: may a new run start now? Refusals are counted and logged.

Every Run and Iter call either starts its run or ends with RESOURCE_EXHAUSTED,
an ``ErrorInfo`` reason and a ``google.rpc.RetryInfo`` retry hint (built in
:mod:`errors`). A start is refused when the server is at a configured limit
(``--max-streams``, ``--max-runs``) or overloaded: its event loop has run more
than ``--max-loop-lag-ms`` behind for a second or more, so every stream it serves
is already late and another one would make them later (a single stall is not
overload). The lag is read from a timer that fires every 25 ms and notes how
late it ran; no work is added per token.

gRPC core holds incoming calls until the loop accepts them, one per loop
iteration, and past ``grpc.server.max_pending_requests`` (default 1,000) it
cancels calls at random with a bare CANCELLED that the service never sees.
:func:`core_options` raises that limit so a burst of starts reaches this module,
which answers each call with a status that says what to do.

Refusals are counted per reason (:attr:`Admission.refused`) and logged at most
once per ``log_interval`` seconds, with the number refused since the last line.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import time

from hypergraph_grpc import errors
from hypergraph_grpc.config import ServiceConfig

__all__ = ["Admission", "CORE_PENDING_CALLS", "core_options"]

log = logging.getLogger("hypergraph_grpc.admission")

# Calls gRPC core may hold for the loop to accept before it cancels them. High, so
# that overload is answered here; each waiting call costs the core a few KiB.
CORE_PENDING_CALLS = 16384

# How often the lag timer fires; how long the loop must stay behind before new runs
# are refused (a single stall, e.g. an import or a long garbage collection, is not
# overload); how long refusals go on after the last late tick of such a stretch.
_TICK_S = 0.025
_SUSTAIN_S = 1.0
_HOLD_S = 1.0


def core_options() -> list[tuple[str, int]]:
    """grpc.aio.server options that let a burst of calls wait for the loop instead of
    being cancelled by the core."""
    return [
        ("grpc.server.max_pending_requests", CORE_PENDING_CALLS),
        ("grpc.server.max_pending_requests_hard_limit", CORE_PENDING_CALLS),
    ]


class _LoopLag:
    """Whether the running loop is overloaded: a timer notes how late each tick fires."""

    def __init__(
        self, limit_s: float, tick_s: float = _TICK_S, sustain_s: float = _SUSTAIN_S
    ) -> None:
        self._limit = limit_s
        self._tick = tick_s
        self._sustain = sustain_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._due = 0.0
        self._late_since: float | None = None  # when the first of the current late ticks fired
        self._lag = 0.0  # the latest late tick's lateness
        self._refuse_until = 0.0

    def overloaded(self) -> float:
        """The lag (seconds) while the loop has been more than the limit behind for a
        sustained stretch, or was until recently; 0.0 otherwise."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # first use on this loop: start ticking
            self.close()
            self._loop = loop
            self._schedule(loop.time())
        now = loop.time()
        overdue = now - self._due
        # One stall, however long (a node that streams without awaiting), is not
        # overload: a stretch of late ticks is.
        since = self._late_since
        if overdue > self._limit and since is not None and now - since >= self._sustain:
            return overdue
        return self._lag if now < self._refuse_until else 0.0

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._loop = None

    def _schedule(self, now: float) -> None:
        self._due = now + self._tick
        self._handle = self._loop.call_at(self._due, self._on_tick)

    def _on_tick(self) -> None:
        now = self._loop.time()
        late = now - self._due
        if late > self._limit:
            if self._late_since is None:
                self._late_since = now
            self._lag = late
            if now - self._late_since >= self._sustain:
                self._refuse_until = now + _HOLD_S
        else:
            self._late_since = None
        self._schedule(now)


class Admission:
    """Decides whether a run may start; counts and logs the refusals."""

    def __init__(self, config: ServiceConfig, *, log_interval: float = 10.0) -> None:
        self._max_runs = config.max_runs
        self._max_streams = config.max_streams
        self._max_lag_s = config.max_loop_lag_ms / 1000
        self._lag = _LoopLag(self._max_lag_s) if self._max_lag_s > 0 else None
        self._log_interval = log_interval
        self._next_log = 0.0
        self._unlogged = 0
        self.refused: collections.Counter[str] = collections.Counter()

    def check_streams(self, open_streams: int) -> None:
        """Raise when ``open_streams`` (this call included) is over ``--max-streams``."""
        limit = self._max_streams
        if limit and open_streams > limit:
            self._refuse(
                errors.resource_exhausted(
                    "TOO_MANY_STREAMS",
                    f"this server already has {open_streams - 1} open Iter and Watch streams "
                    f"(limit --max-streams {limit}). How to fix: retry after the RetryInfo "
                    "delay or on another replica, or raise --max-streams.",
                    retry_after_s=1.0,
                    limit=str(limit),
                )
            )

    def check_start(self, live_runs: int) -> None:
        """Raise when another run would exceed ``--max-runs`` or the loop is overloaded."""
        limit = self._max_runs
        if limit and live_runs >= limit:
            self._refuse(
                errors.resource_exhausted(
                    "TOO_MANY_RUNS",
                    f"this server already has {live_runs} live runs (limit --max-runs "
                    f"{limit}). How to fix: retry after the RetryInfo delay or on another "
                    "replica, or raise --max-runs.",
                    retry_after_s=1.0,
                    limit=str(limit),
                )
            )
        if self._lag is not None:
            lag = self._lag.overloaded()
            if lag:
                self._refuse(errors.overloaded(lag, self._max_lag_s, _retry_after(lag)))

    def close(self) -> None:
        """Stop the lag timer (the server is shutting down)."""
        if self._lag is not None:
            self._lag.close()

    def _refuse(self, error: errors.ServiceError) -> None:
        self.refused[error.reason] += 1
        self._unlogged += 1
        now = time.monotonic()
        if now >= self._next_log:
            log.warning(
                "refusing new runs",
                extra={
                    "reason": error.reason,
                    "refused_since_last_line": self._unlogged,
                    "refused_total": dict(self.refused),
                    **error.metadata,
                },
            )
            self._unlogged = 0
            self._next_log = now + self._log_interval
        raise error


def _retry_after(lag_s: float) -> float:
    """Twice the lag, in tenths of a second, between 1 and 30 s: time for the backlog to clear."""
    return min(30.0, max(1.0, math.ceil(lag_s * 20) / 10))
