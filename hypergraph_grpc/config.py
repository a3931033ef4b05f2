"""Service limits and defaults (one frozen object, built by server.py from flags)."""

from __future__ import annotations

import dataclasses

from hypergraph_grpc.coordination import EventLogLimits

__all__ = ["ServiceConfig"]


@dataclasses.dataclass(frozen=True, slots=True)
class ServiceConfig:
    """What a server allows and how it stops runs.

    Zero means "no limit" for ``max_runs`` and ``max_streams``.
    """

    max_runs: int = 0
    max_streams: int = 0
    # New runs are refused (RESOURCE_EXHAUSTED, SERVER_OVERLOADED) while the event loop
    # runs more than this many milliseconds behind; 0 turns load shedding off.
    max_loop_lag_ms: float = 0.0  # off: a busy machine's stalls must not refuse runs unasked
    max_request_bytes: int = 4 * 1024 * 1024
    # Seconds live runs get to finish on SIGTERM before they are stopped.
    drain_seconds: float = 10.0
    # Grace given to runner.stop() when the server stops runs after the drain.
    shutdown_grace: float = 2.0
    # Grace given to runner.stop() when a client cancels, disconnects or times out.
    cancel_grace: float = 2.0
    # StreamOptions defaults (0 in a request means these).
    max_queued_events: int = 256
    max_chunk_bytes: int = 65536
    # With disable_merge, a stream whose queue reaches max_queued_events times this
    # factor stops its run (info {"kind": "slow_consumer"}) instead of growing forever.
    unmerged_queue_factor: int = 1024
    max_iterations: int = 1000
    # Each run's event log (what Watch replays): newest events kept, and how long a
    # finished run's log is kept.
    event_log: EventLogLimits = EventLogLimits()
    # Cluster coordination: how long a replica's claim on a workflow id lasts without
    # renewal (a replica that dies frees its ids, and its runs end, after about this).
    lease_seconds: float = 10.0
    # Seconds after which a client connection is told to go away (GOAWAY) so a balancer
    # spreads long-lived clients again; its open streams go on. 0: never.
    max_connection_age_s: float = 0.0
