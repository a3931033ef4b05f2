"""The Redis key layout of cluster coordination (docs/deployment.md, "Redis key layout").

One place names every key and channel, so the lease, the stop routing, the event
logs and the reaper agree on them.
"""

from __future__ import annotations

__all__ = ["RedisKeys"]


class RedisKeys:
    """Every key and channel, under one prefix (``hg:`` by default)."""

    def __init__(self, prefix: str = "hg:") -> None:
        self.prefix = prefix
        self.fence = f"{prefix}fence"  # INCR: the fencing token of each claim
        self.runs = f"{prefix}runs"  # sorted set: live workflow ids by start time

    def lease(self, workflow_id: str) -> str:
        return f"{self.prefix}lease:{workflow_id}"

    def run(self, workflow_id: str) -> str:
        return f"{self.prefix}run:{workflow_id}"

    def tenant_runs(self, tenant: str) -> str:
        """A tenant's live runs across the cluster (sorted set: workflow id -> lease expiry)."""
        return f"{self.prefix}tenant-runs:{tenant}"

    def watch(self, workflow_id: str) -> str:
        """The pointer to the workflow's latest run log (token, graph, ended)."""
        return f"{self.prefix}watch:{workflow_id}"

    def log(self, workflow_id: str, token: int | str) -> str:
        return f"{self.prefix}log:{workflow_id}:{token}"

    def reaped(self, workflow_id: str, token: int | str) -> str:
        return f"{self.prefix}reaped:{workflow_id}:{token}"

    def stop_channel(self, replica: str) -> str:
        return f"{self.prefix}stop:{replica}"

    def ack_channel(self, replica: str) -> str:
        return f"{self.prefix}ack:{replica}"
