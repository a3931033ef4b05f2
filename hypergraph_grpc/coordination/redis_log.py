"""A run's event log in a Redis Stream, and a Watch feed over it.

One stream per run (its key names the workflow id and the claim's fencing
token). Each entry's id is ``<seq>-0``, so ``XREAD`` after ``<after_seq>-0`` is
exactly "the events after after_seq", and a hole in the ids is a gap the feed
reports. The writer side is called by the run's recorder on the loop thread: it
only appends the runtime event to a local deque; a flusher task converts a batch
to protobuf and one :class:`LogFlusher` per replica writes what every run has
pending with one pipelined round trip (``XADD ... MAXLEN ~``), so Redis is never
on the token's critical path. Text chunks of one node
execution that are next to each other in a batch become one entry, as a stream
merges them: its id is the last call's seq and its ``p`` field lists each
call's UTF-8 length, so a Watch resuming after a seq inside it gets exactly the
calls after that seq. While Redis cannot be reached
the batch waits and is retried; past the length bound the oldest waiting events
are dropped (the feed then reports them lost).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager
from typing import Any

from redis.exceptions import RedisError

from hypergraph import RunEndEvent, StreamingChunkEvent
from hypergraph_grpc import convert
from hypergraph_grpc.coordination import EventFeed, EventLogLimits
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb

__all__ = ["LogFlusher", "RedisEventFeed", "RedisRunLog", "append_end", "entry_seq", "last_seq"]

log = logging.getLogger("hypergraph_grpc.coordination")

_BATCH = 512  # entries a watcher reads per round trip
_RETRY_S = 0.5  # wait before retrying a batch Redis refused
_END_FIELD = b"end"
_EVENT_FIELD = b"e"
_PARTS_FIELD = b"p"  # a merged entry: the UTF-8 length of each call it holds, comma-separated
_MERGE_BYTES = 65536  # the most text one merged entry holds


def entry_seq(entry_id: bytes | str) -> int:
    """The seq of a stream entry id ``<seq>-0``."""
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.partition("-")[0])


class LogFlusher:
    """Writes the pending events of every run of this replica: one pipelined round
    trip per turn for all of them, while new events queue up for the next turn."""

    def __init__(self, client: Any, counted: Callable[[str], AbstractContextManager]) -> None:
        """``counted(operation)``: a context that counts the Redis calls made in it."""
        self._client = client
        self._counted = counted
        self._waiting: dict[RedisRunLog, None] = {}  # runs with pending events, in order
        self._task: asyncio.Task | None = None

    def wake(self, run_log: RedisRunLog) -> None:
        self._waiting[run_log] = None
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        try:
            while self._waiting:
                logs = list(self._waiting)
                self._waiting.clear()
                pipe = self._client.pipeline(transaction=False)
                taken = [(run_log, run_log.take(pipe)) for run_log in logs]
                try:
                    with self._counted("append_events"):
                        await pipe.execute()
                except RedisError as exc:
                    log.warning("event log write failed; retrying", extra={"error": str(exc)})
                    for run_log, batch in taken:
                        run_log.give_back(batch)
                    await asyncio.sleep(_RETRY_S)
        finally:
            self._task = None

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait((self._task,), timeout=2.0)


class RedisRunLog:
    """The write side of one run's stream (see the module doc)."""

    def __init__(
        self,
        flusher: LogFlusher,
        key: str,
        meta_key: str,
        graph: str,
        workflow_id: str,
        limits: EventLogLimits,
    ) -> None:
        self._flusher = flusher
        self._key = key
        self._meta_key = meta_key
        self._encoder = convert.EventEncoder(graph, workflow_id)
        self._max_events = max(1, limits.max_events)
        self._ttl_ms = max(1, round(limits.ttl_seconds * 1000))
        self._pending: deque[Any] = deque()
        self._queued = False  # the flusher knows this log has pending events

    def append(self, event: Any) -> None:
        self._pending.append(event)
        if not self._queued:
            self._queued = True
            self._flusher.wake(self)

    def finish(self, end_event: Any, error_node: str) -> None:
        self._encoder.error_node = error_node
        self.append(end_event)

    def take(self, pipe: Any) -> list:
        """Move every pending event into ``pipe``'s commands; the events taken."""
        self._queued = False
        batch = list(self._pending)
        self._pending.clear()
        if not batch:
            return batch
        for seq, fields in self._entries(batch):
            pipe.xadd(self._key, fields, id=f"{seq}-0", maxlen=self._max_events, approximate=True)
        pipe.pexpire(self._key, self._ttl_ms)
        if batch[-1].__class__ is RunEndEvent:
            pipe.hset(self._meta_key, "ended", "1")
            pipe.pexpire(self._meta_key, self._ttl_ms)
        return batch

    def give_back(self, batch: list) -> None:
        """A write failed: the batch goes first again; past the bound the oldest go
        (a Watch is then told which seqs were lost)."""
        self._pending.extendleft(reversed(batch))
        while len(self._pending) > self._max_events:
            self._pending.popleft()
        if self._pending and not self._queued:
            self._queued = True
            self._flusher.wake(self)

    def _entries(self, batch: list):
        """(seq, fields) of each entry: neighbouring text chunks of one span merged."""
        encoder = self._encoder
        index, size = 0, len(batch)
        while index < size:
            event = batch[index]
            if event.__class__ is StreamingChunkEvent and event.chunk.__class__ is str:
                parts = [_utf8(event.chunk)]
                total = len(parts[0])
                after = index + 1
                while after < size:
                    other = batch[after]
                    if not convert.joins_text(event, other):
                        break
                    data = _utf8(other.chunk)
                    if total + len(data) > _MERGE_BYTES:
                        break
                    parts.append(data)
                    total += len(data)
                    after += 1
                if len(parts) > 1:
                    last = batch[after - 1].seq
                    text = b"".join(parts).decode()
                    message = encoder.merged_chunk(event, text, len(parts), last)
                    lengths = b",".join(b"%d" % len(part) for part in parts)
                    yield last, {_EVENT_FIELD: message.SerializeToString(), _PARTS_FIELD: lengths}
                    index = after
                    continue
            fields = {_EVENT_FIELD: encoder.event(event, event.seq).SerializeToString()}
            if event.__class__ is RunEndEvent:
                fields[_END_FIELD] = b"1"
            yield event.seq, fields
            index += 1


def _utf8(text: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError:  # a lone surrogate: sent as U+FFFD (docs/protocol.md)
        return convert.clean_text(text).encode()


def _calls_after(data: bytes, lengths: bytes, skip: int) -> pb.Event:
    """A merged entry without its first ``skip`` calls (a Watch resuming inside it)."""
    message = pb.Event.FromString(data)
    sizes = [int(n) for n in lengths.split(b",")]
    chunk = message.streaming_chunk
    chunk.text = chunk.text.encode()[sum(sizes[:skip]) :].decode()
    chunk.merged = len(sizes) - skip
    return message


async def append_end(
    client: Any, key: str, meta_key: str | None, event: pb.Event, ttl_ms: int
) -> None:
    """Write a RunEnded that the run itself could not write (its replica is gone)."""
    pipe = client.pipeline(transaction=False)
    pipe.xadd(key, {_EVENT_FIELD: event.SerializeToString(), _END_FIELD: b"1"}, id=f"{event.seq}-0")
    pipe.pexpire(key, ttl_ms)
    if meta_key is not None:
        pipe.hset(meta_key, "ended", "1")
        pipe.pexpire(meta_key, ttl_ms)
    await pipe.execute()


async def last_seq(client: Any, key: str) -> int:
    """The seq of the newest entry of a stream (0 when empty or missing)."""
    newest = await client.xrevrange(key, count=1)
    return entry_seq(newest[0][0]) if newest else 0


class RedisEventFeed(EventFeed):
    """Entries of one run's stream after ``after_seq``, then new ones until RunEnded."""

    def __init__(
        self,
        client: Any,
        key: str,
        meta_key: str,
        graph: str,
        workflow_id: str,
        after_seq: int,
        block_ms: int = 1000,
    ) -> None:
        self._client = client
        self._key = key
        self._meta_key = meta_key
        self.graph = graph
        self._workflow_id = workflow_id
        self._after = after_seq
        self._block_ms = block_ms

    async def __aiter__(self) -> AsyncIterator[Any]:
        client = self._client
        last = self._after
        while True:
            replies = await client.xread(
                {self._key: f"{last}-0"}, count=_BATCH, block=self._block_ms
            )
            if not replies:
                # Nothing new: the run is still going, unless its log is gone (TTL) or
                # it ended without logging anything (refused before its first event).
                ended = await client.hget(self._meta_key, "ended")
                if ended is None and not await client.exists(self._meta_key):
                    return
                if ended and not await client.exists(self._key):
                    return
                continue
            for entry_id, fields in replies[0][1]:
                seq = entry_seq(entry_id)
                data = fields[_EVENT_FIELD]
                lengths = fields.get(_PARTS_FIELD)
                first = seq - lengths.count(b",") if lengths else seq
                if first > last + 1:  # trimmed before we read it: say so, never skip silently
                    run_id = pb.Event.FromString(data).run_id
                    yield convert.events_lost(self._workflow_id, run_id, last + 1, first - 1)
                elif first <= last:  # resuming inside a merged entry
                    data = _calls_after(data, lengths, last - first + 1)
                last = seq
                yield data
                if _END_FIELD in fields:
                    return
