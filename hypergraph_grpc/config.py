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
    # Bearer tokens accepted on RunnerService calls; empty = no authentication.
    # (Health and reflection stay open, for load balancers and tools.)
    auth_tokens: frozenset[str] = frozenset()
    # Per-token graph allowlists: (token, graphs) pairs. A token in auth_tokens with
    # no entry here may run every graph; one with an entry only those graphs
    # (others answer PERMISSION_DENIED, and ListGraphs hides them).
    token_graphs: tuple[tuple[str, frozenset[str]], ...] = ()
    # Each run's event log (what Watch replays): newest events kept, and how long a
    # finished run's log is kept.
    event_log: EventLogLimits = EventLogLimits()

    def graphs_for(self, token: str) -> frozenset[str] | None:
        """The graphs ``token`` may run, or None for every graph."""
        for known, graphs in self.token_graphs:
            if known == token:
                return graphs
        return None
