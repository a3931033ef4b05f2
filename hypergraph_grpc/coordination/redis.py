"""Redis coordination: many replicas, one Redis (``--coordination redis://HOST:PORT/DB``).

Keys (``hg:`` prefix; docs/deployment.md has the full layout):

- ``hg:lease:<wf>``: ``<replica>|<token>``, ``SET NX PX``: one live run per
  workflow id in the cluster. The owner renews it every third of the lease and
  deletes it (compare-and-delete) when the run ends.
- ``hg:fence``: ``INCR`` gives every claim a fencing token, larger than all before.
- ``hg:run:<wf>`` (hash) and ``hg:runs`` (sorted set by start time): what
  Stop, Watch and ListRuns see of a live run on any replica.
- ``hg:watch:<wf>`` (hash: token, graph, ended) and ``hg:log:<wf>:<token>``
  (stream): the latest run's event log (:mod:`.redis_log`).
- ``hg:stop:<replica>`` / ``hg:ack:<replica>``: pub/sub channels. A Stop for a
  run of another replica is published to its owner, which applies it and
  acknowledges (:mod:`.redis_stops`); ``found`` is only ever reported from that
  acknowledgement. :mod:`.redis_keys` names every key.

A replica that dies stops renewing: its leases expire, and any replica's reaper
then appends a RunEnded (FAILED, ``replica_lost``) to each of its runs' logs and
frees the id (a ``hg:reaped:<wf>:<token>`` tombstone makes a replica that was
only stalled stop its run when it comes back).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Iterator
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from hypergraph_grpc import convert
from hypergraph_grpc.coordination import (
    CallObserver,
    Coordination,
    CoordinationUnavailable,
    EventFeed,
    EventLogLimits,
    LiveRun,
    RunInfo,
    RunLimit,
    StopOutcome,
    StopReceiver,
    StopState,
    TenantRunsFull,
    UnknownWorkflow,
    WorkflowBusy,
)
from hypergraph_grpc.coordination.local import LocalRuns
from hypergraph_grpc.coordination.memory import default_replica_id
from hypergraph_grpc.coordination.recorder import SharedRunRecorder
from hypergraph_grpc.coordination.redis_keys import RedisKeys
from hypergraph_grpc.coordination.redis_log import (
    LogFlusher,
    RedisEventFeed,
    RedisRunLog,
    append_end,
    last_seq,
)
from hypergraph_grpc.coordination.redis_stops import StopRouter

__all__ = ["RedisCoordination"]

log = logging.getLogger("hypergraph_grpc.coordination")

# Redis's own clock in ms, the same for every replica (lease expiries of a tenant's
# runs); read only by a script that counts a tenant's runs.
_NOW_MS = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
"""
# SET NX PX the lease; on success hand back the previous run record (a run whose
# replica died and that no reaper has ended yet), else the current owner. With a
# tenant limit (KEYS[3] the tenant's live runs, ARGV[3] the limit, ARGV[4] the id),
# runs whose lease lapsed drop out first, and a tenant at its limit gets {2, used}.
_CLAIM = (
    _NOW_MS
    + """
local now = KEYS[3] and now_ms()
if KEYS[3] then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
  local used = redis.call('ZCARD', KEYS[3])
  if used >= tonumber(ARGV[3]) and not redis.call('ZSCORE', KEYS[3], ARGV[4]) then
    return {2, used}
  end
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  if KEYS[3] then
    redis.call('ZADD', KEYS[3], now + tonumber(ARGV[2]), ARGV[4])
  end
  return {1, redis.call('HGETALL', KEYS[2])}
end
return {0, redis.call('GET', KEYS[1]) or ''}
"""
)
# 1: renewed; 2: the key had vanished (Redis restarted empty) and is ours again;
# 0: lost (another owner, or a reaper already ended this run). A run counted in its
# tenant's live runs (KEYS[3], member ARGV[3]) is counted on until the new expiry.
_RENEW = (
    _NOW_MS
    + """
local current = redis.call('GET', KEYS[1])
local state = 0
if current == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  state = 1
elseif not current and redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  state = 2
end
if state > 0 and KEYS[3] then
  redis.call('ZADD', KEYS[3], now_ms() + tonumber(ARGV[2]), ARGV[3])
end
return state
"""
)
# Compare-and-delete: the lease and the run record go together, only if still ours;
# the run leaves its tenant's live runs (KEYS[4]) with its lease.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  if KEYS[4] then
    redis.call('ZREM', KEYS[4], ARGV[3])
  end
end
if redis.call('HGET', KEYS[2], 'token') == ARGV[2] then
  redis.call('DEL', KEYS[2])
  redis.call('ZREM', KEYS[3], ARGV[3])
end
return 1
"""
# The run record of an expired lease goes, if it is still the one the reaper read.
_FORGET = """
if redis.call('EXISTS', KEYS[1]) == 0 and redis.call('HGET', KEYS[2], 'token') == ARGV[1] then
  redis.call('DEL', KEYS[2])
  redis.call('ZREM', KEYS[3], ARGV[2])
end
return 1
"""

_ERRORS = (RedisError, OSError)
_CLOSE_WAIT_S = 2.0
_MAX_CONNECTIONS = 4096
_END_ATTEMPTS = 5
_RELEASE_WAIT_S = 1.0


class RedisCoordination(Coordination):
    """Coordination through one Redis shared by every replica (see the module doc)."""

    def __init__(
        self,
        client: Any,
        stop_receiver: StopReceiver,
        limits: EventLogLimits | None = None,
        *,
        replica_id: str = "",
        lease_seconds: float = 10.0,
        stop_timeout_seconds: float = 2.0,
        prefix: str = "hg:",
        on_call: CallObserver | None = None,
        run_limit: RunLimit | None = None,
    ) -> None:
        """``on_call(operation, failed)``: told of every Redis round trip the coordination
        makes, by operation (a fixed set of names), for metrics. ``run_limit``: a
        workflow id's tenant and its limit of live runs, checked at claim across the
        cluster."""
        self.replica_id = replica_id or f"{default_replica_id()}-{secrets.token_hex(3)}"
        self.limits = limits or EventLogLimits()
        self.lease_seconds = lease_seconds
        self.stop_timeout_seconds = stop_timeout_seconds
        self._client = client
        self._on_call = on_call or _not_observed
        self._run_limit = run_limit
        self._local = LocalRuns(stop_receiver)
        self._keys = RedisKeys(prefix)
        self._lease_ms = max(1, round(lease_seconds * 1000))
        self._ttl_ms = max(1, round(self.limits.ttl_seconds * 1000))
        self._claim = client.register_script(_CLAIM)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)
        self._forget = client.register_script(_FORGET)
        self._logs: dict[str, RedisRunLog] = {}
        self._flusher = LogFlusher(client, self._counted)
        self._tasks: list[asyncio.Task] = []
        self._stops = StopRouter(
            client,
            self._keys,
            self.replica_id,
            self._local,
            timeout_s=stop_timeout_seconds,
            owner_gone_retry_s=lease_seconds,
            on_stopping=self._mark_stopping,
            counted=self._counted,
        )
        self._closing = False

    @classmethod
    def from_url(
        cls, url: str, stop_receiver: StopReceiver, limits: EventLogLimits | None = None, **kw
    ) -> RedisCoordination:
        # Short connect timeouts: an unreachable Redis must answer UNAVAILABLE quickly.
        # Each open Watch holds a connection while it waits for new events, so the pool
        # is sized for many (the service's --max-streams bounds them).
        client = aioredis.from_url(
            url, socket_connect_timeout=1.0, socket_timeout=5.0, max_connections=_MAX_CONNECTIONS
        )
        return cls(client, stop_receiver, limits, **kw)

    @contextlib.contextmanager
    def _counted(self, operation: str) -> Iterator[None]:
        """Count the Redis calls made inside as one ``operation``, failed if Redis raised."""
        failed = False
        try:
            yield
        except (TimeoutError, *_ERRORS):
            failed = True
            raise
        finally:
            self._on_call(operation, failed)

    def _lease_value(self, run: LiveRun) -> str:
        return f"{run.owner}|{run.token}"

    # --- lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        """Listen for routed stops; start renewing and reaping.

        Never fails: while Redis is away the listener keeps trying to subscribe."""
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._stops.listen()),
            loop.create_task(self._renew_loop()),
            loop.create_task(self._reap_loop()),
        ]

    async def close(self) -> None:
        self._closing = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            # Bounded: a task that swallowed its cancellation must not hold shutdown.
            await asyncio.wait(tasks, timeout=_CLOSE_WAIT_S)
        await self._flusher.close()
        await self._stops.close(_CLOSE_WAIT_S)
        with contextlib.suppress(TimeoutError, *_ERRORS):
            await asyncio.wait_for(self._client.aclose(), _CLOSE_WAIT_S)

    # --- the interface -------------------------------------------------------------

    async def claim(self, workflow_id: str, graph: str) -> LiveRun:
        if self._local.get(workflow_id) is not None:
            raise WorkflowBusy(workflow_id, self.replica_id)
        try:
            with self._counted("claim"):
                token = await self._client.incr(self._keys.fence)
                run = LiveRun(
                    workflow_id=workflow_id, graph=graph, owner=self.replica_id, token=token
                )
                keys = [self._keys.lease(workflow_id), self._keys.run(workflow_id)]
                args: list[Any] = [self._lease_value(run), self._lease_ms]
                quota = self._run_limit(workflow_id) if self._run_limit is not None else None
                if quota is not None:
                    tenant, limit = quota
                    run.quota_key = self._keys.tenant_runs(tenant)
                    keys.append(run.quota_key)
                    args += [limit, workflow_id]
                won, detail = await self._claim(keys=keys, args=args)
                if won == 2:
                    raise TenantRunsFull(tenant, int(detail), limit)
                if not won:
                    owner = detail.decode().partition("|")[0] if detail else ""
                    raise WorkflowBusy(workflow_id, owner)
                if detail:  # a run whose replica died, not yet ended by a reaper
                    await self._end_lost(workflow_id, _record(detail))
                await self._register(run)
        except _ERRORS as exc:
            raise _unavailable("claim the workflow id", exc) from None
        self._local.add(run)
        self._logs[workflow_id] = RedisRunLog(
            self._flusher,
            self._keys.log(workflow_id, run.token),
            self._keys.watch(workflow_id),
            graph,
            workflow_id,
            self.limits,
        )
        return run

    async def _register(self, run: LiveRun) -> None:
        """The run record, the runs index and the watch pointer of a claimed run."""
        workflow_id = run.workflow_id
        pipe = self._client.pipeline(transaction=True)
        pipe.hset(
            self._keys.run(workflow_id),
            mapping={
                "run_id": run.run_id,
                "graph": run.graph,
                "owner": run.owner,
                "token": run.token,
                "started_at": repr(run.started_at),
                "stopping": "1" if run.stopping else "",
            },
        )
        pipe.zadd(self._keys.runs, {workflow_id: run.started_at})
        meta = self._keys.watch(workflow_id)
        pipe.delete(meta)
        pipe.hset(meta, mapping={"token": run.token, "graph": run.graph, "ended": ""})
        pipe.pexpire(meta, self._ttl_ms + self._lease_ms)
        await pipe.execute()

    async def started(self, run: LiveRun, run_id: str) -> None:
        """The run's RunStartEvent was dispatched: record its run id (for ListRuns)."""
        try:
            with self._counted("record_run_id"):
                await self._client.hset(self._keys.run(run.workflow_id), "run_id", run_id)
        except _ERRORS as exc:  # ListRuns shows the run id once Redis is back (renewal)
            log.warning("could not record the run id", extra=_fields(run, exc))

    async def release(self, run: LiveRun) -> None:
        if run.released:
            return
        run.released = True
        self._local.remove(run)
        self._logs.pop(run.workflow_id, None)  # the recorder still holds it for RunEnded
        try:
            with self._counted("release"):
                # Bounded: the run's streams write RunEnded after this, Redis or not.
                await asyncio.wait_for(
                    self._release(
                        keys=[
                            self._keys.lease(run.workflow_id),
                            self._keys.run(run.workflow_id),
                            self._keys.runs,
                            *([run.quota_key] if run.quota_key else []),
                        ],
                        args=[self._lease_value(run), run.token, run.workflow_id],
                    ),
                    _RELEASE_WAIT_S,
                )
                if not run.started:  # refused before its first event: nothing will be logged
                    meta = self._keys.watch(run.workflow_id)
                    pipe = self._client.pipeline(transaction=False)
                    pipe.hset(meta, "ended", "1")
                    pipe.pexpire(meta, self._ttl_ms)
                    await pipe.execute()
        except (TimeoutError, *_ERRORS) as exc:
            # The lease expires by itself within lease_seconds; the id is free then.
            log.warning("could not release the workflow id", extra=_fields(run, exc))

    async def stop(self, workflow_id: str, info: Any, grace: float | None) -> StopOutcome:
        run = self._local.get(workflow_id)
        if run is not None:
            outcome = self._local.stop(run, info, grace)
            if outcome.found:
                self._mark_stopping(workflow_id)
            return outcome
        try:
            with self._counted("find_owner"):
                lease = await self._client.get(self._keys.lease(workflow_id))
                recent = lease is None and await self._client.exists(self._keys.watch(workflow_id))
            if lease is None:  # a run of this id ended within the log's TTL: ENDED
                return StopOutcome(False, "", StopState.ENDED if recent else StopState.UNKNOWN)
            owner = lease.decode().partition("|")[0]
            if owner == self.replica_id:  # ended here between the two lookups
                return StopOutcome(False, "", StopState.ENDED)
            return await self._stops.route(owner, workflow_id, info, grace)
        except _ERRORS as exc:
            raise _unavailable("reach the run's owner", exc) from None

    async def lookup(self, workflow_id: str) -> RunInfo | None:
        run = self._local.get(workflow_id)
        if run is not None:
            return run.info()
        try:
            with self._counted("lookup"):
                record = await self._client.hgetall(self._keys.run(workflow_id))
        except _ERRORS as exc:
            raise _unavailable("look the workflow up", exc) from None
        return _info(workflow_id, record) if record else None

    async def graph_of(self, workflow_id: str) -> str | None:
        run = self._local.get(workflow_id)
        if run is not None:
            return run.graph
        try:
            with self._counted("lookup"):
                pipe = self._client.pipeline(transaction=False)
                pipe.hget(self._keys.run(workflow_id), "graph")
                pipe.hget(self._keys.watch(workflow_id), "graph")
                live, kept = await pipe.execute()
        except _ERRORS as exc:
            raise _unavailable("look the workflow up", exc) from None
        graph = live or kept
        return None if graph is None else graph.decode()

    async def list_runs(self) -> list[RunInfo]:
        try:
            with self._counted("list_runs"):
                ids = [w.decode() for w in await self._client.zrange(self._keys.runs, 0, -1)]
                pipe = self._client.pipeline(transaction=False)
                for workflow_id in ids:
                    pipe.hgetall(self._keys.run(workflow_id))
                records = await pipe.execute()
        except _ERRORS as exc:
            raise _unavailable("list the runs", exc) from None
        return [_info(w, r) for w, r in zip(ids, records, strict=True) if r]

    def recorder(self, run: LiveRun, graph: str) -> SharedRunRecorder:
        return SharedRunRecorder(
            run,
            self._logs[run.workflow_id],
            self._local.receive_stop,
            started=self.started,
            release=self.release,
        )

    async def watch(self, workflow_id: str, after_seq: int) -> EventFeed:
        try:
            with self._counted("watch"):
                meta = await self._client.hgetall(self._keys.watch(workflow_id))
        except _ERRORS as exc:
            raise _unavailable("read the event log", exc) from None
        if not meta:
            raise UnknownWorkflow(workflow_id)
        token = meta[b"token"].decode()
        return RedisEventFeed(
            self._client,
            self._keys.log(workflow_id, token),
            self._keys.watch(workflow_id),
            meta[b"graph"].decode(),
            workflow_id,
            after_seq,
        )

    def live_runs(self) -> list[LiveRun]:
        return self._local.runs()

    def live_count(self) -> int:
        return len(self._local)

    # --- background work ------------------------------------------------------------

    def _mark_stopping(self, workflow_id: str) -> None:
        task = asyncio.get_running_loop().create_task(self._write_stopping(workflow_id))
        self._tasks.append(task)
        task.add_done_callback(self._tasks.remove)

    async def _write_stopping(self, workflow_id: str) -> None:
        with contextlib.suppress(*_ERRORS):
            await self._client.hset(self._keys.run(workflow_id), "stopping", "1")

    async def _renew_loop(self) -> None:
        """Renew this replica's leases; stop a run whose lease another replica holds."""
        while not self._closing:
            await asyncio.sleep(self.lease_seconds / 3)
            for run in self._local.runs():
                try:
                    with self._counted("renew_lease"):
                        state = await self._renew(
                            keys=[
                                self._keys.lease(run.workflow_id),
                                self._keys.reaped(run.workflow_id, run.token),
                                *([run.quota_key] if run.quota_key else []),
                            ],
                            args=[self._lease_value(run), self._lease_ms, run.workflow_id],
                        )
                        if state == 2:  # Redis came back empty: the run is ours again
                            await self._register(run)
                        elif state == 1:  # the log outlives a quiet run by the TTL
                            keep = self._ttl_ms + self._lease_ms
                            pipe = self._client.pipeline(transaction=False)
                            pipe.pexpire(self._keys.watch(run.workflow_id), keep)
                            pipe.pexpire(self._keys.log(run.workflow_id, run.token), keep)
                            await pipe.execute()
                except _ERRORS as exc:
                    # Nobody can claim while Redis is away; the run goes on (docs).
                    log.warning("lease renewal failed", extra=_fields(run, exc))
                    continue
                if state == 0 and not run.released:
                    log.error("lease lost: stopping the run", extra=_fields(run, None))
                    self._local.stop(run, {"kind": "lease_lost"}, 0.0)

    async def _reap_loop(self) -> None:
        """End the runs of replicas that died: their lease expired, their record is left."""
        while not self._closing:
            await asyncio.sleep(self.lease_seconds / 2)
            try:
                with self._counted("reap"):
                    await self.reap()
            except _ERRORS as exc:
                log.warning("reaping failed", extra={"error": str(exc)})

    async def reap(self) -> int:
        """One pass of the reaper; returns how many lost runs it ended."""
        ids = [w.decode() for w in await self._client.zrange(self._keys.runs, 0, -1)]
        ended = 0
        for workflow_id in ids:
            if self._local.get(workflow_id) is not None:
                continue
            pipe = self._client.pipeline(transaction=False)
            pipe.exists(self._keys.lease(workflow_id))
            pipe.hgetall(self._keys.run(workflow_id))
            alive, record = await pipe.execute()
            if alive or not record:
                continue
            if await self._end_lost(workflow_id, record):
                ended += 1
        return ended

    async def _append_lost_end(self, workflow_id: str, token: str, record: dict) -> None:
        """RunEnded(replica_lost) after the newest entry of the run's log. A replica that
        was only stalled may still be writing: then the seq is taken again, a few times."""
        key = self._keys.log(workflow_id, token)
        meta = self._keys.watch(workflow_id)
        current = await self._client.hget(meta, "token")
        if current is not None and current.decode() != token:
            meta = None  # the id was claimed again: its pointer is the new run's
        for attempt in range(_END_ATTEMPTS):
            end = convert.replica_lost_end(
                workflow_id,
                record.get(b"run_id", b"").decode(),
                await last_seq(self._client, key) + 1,
                record.get(b"owner", b"").decode(),
            )
            try:
                await append_end(self._client, key, meta, end, self._ttl_ms)
                return
            except ResponseError:  # the seq was taken meanwhile
                if attempt == _END_ATTEMPTS - 1:
                    raise

    async def _end_lost(self, workflow_id: str, record: dict) -> bool:
        """Append replica_lost to a dead replica's run (once, whoever gets here first)."""
        token = record[b"token"].decode()
        won = await self._client.set(
            self._keys.reaped(workflow_id, token), self.replica_id, nx=True, px=self._ttl_ms
        )
        if won:
            try:
                await self._append_lost_end(workflow_id, token, record)
            except _ERRORS:
                # Let a later pass (this replica's or another's) try again.
                with contextlib.suppress(*_ERRORS):
                    await self._client.delete(self._keys.reaped(workflow_id, token))
                raise
            log.warning(
                "replica lost: run ended",
                extra={"workflow_id": workflow_id, "owner": record.get(b"owner", b"").decode()},
            )
        await self._forget(
            keys=[self._keys.lease(workflow_id), self._keys.run(workflow_id), self._keys.runs],
            args=[token, workflow_id],
        )
        return bool(won)


def _record(flat: list) -> dict:
    """HGETALL's flat [key, value, ...] reply from a script, as a dict."""
    return {flat[i]: flat[i + 1] for i in range(0, len(flat), 2)}


def _info(workflow_id: str, record: dict) -> RunInfo:
    return RunInfo(
        workflow_id=workflow_id,
        run_id=record.get(b"run_id", b"").decode(),
        graph=record.get(b"graph", b"").decode(),
        owner=record.get(b"owner", b"").decode(),
        started_at=float(record.get(b"started_at", b"0") or 0),
        stopping=bool(record.get(b"stopping")),
    )


def _not_observed(operation: str, failed: bool) -> None:
    return None


def _unavailable(what: str, exc: BaseException) -> CoordinationUnavailable:
    return CoordinationUnavailable(
        f"could not {what}: the coordination store did not answer ({type(exc).__name__})",
        retry_after_s=1.0,
    )


def _fields(run: LiveRun, exc: BaseException | None) -> dict:
    fields = {"workflow_id": run.workflow_id, "token": run.token}
    if exc is not None:
        fields["error"] = str(exc)
    return fields
