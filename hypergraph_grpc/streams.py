"""Per-stream delivery: a sync event processor feeding a bounded queue, one writer.

The hot path of the service. The runtime calls :meth:`StreamSink.on_streaming_chunk`
(and the lifecycle hooks) synchronously on the loop thread for every event of the run, chunks included;
it appends the event to the stream's deque (no conversion, no allocation) and
wakes the writer if it sleeps. :func:`pump` is the one writer coroutine: it
pops, converts to protobuf and writes. ``seq`` is the runtime event's own number,
so every stream (and Watch) of a run numbers its events alike.

Bounded memory under a slow consumer (docs/protocol.md, "Merging"): once
``max_queued_events`` events wait, a text chunk merges into the newest waiting
text chunk of its node execution (span) instead of adding an entry; bytes chunks
likewise. Lifecycle events and other chunks are always appended, and they close
their span's open merge so per-node order is kept. A merged message carries
``merged`` = the number of ``ctx.stream()`` calls it holds and the seq of the
last one, so seq advances by ``merged``.
With ``disable_merge`` nothing merges, and value chunks never do; a queue that
reaches ``max_queued_events * unmerged_queue_factor`` stops the run
(``{"kind": "slow_consumer"}``) so memory stays bounded.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from hypergraph import RunEndEvent, StreamingChunkEvent, TypedEventProcessor
from hypergraph_grpc.convert import EventEncoder, clean_text, first_failing_node

__all__ = ["RunHooks", "RunNotStarted", "StreamSink", "pump"]


class RunNotStarted(Exception):
    """The run task ended before its RunEndEvent (a rejection or a bug); ``error`` says why."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


class RunHooks(TypedEventProcessor):
    """The processor of a unary Run: the first failing node and the end event.

    It overrides no chunk hook, so the runtime never calls it for chunks.
    """

    def __init__(self) -> None:
        self.error_node = ""
        self.end: Any = None

    def on_node_error(self, event: Any) -> None:
        self.error_node = first_failing_node(self.error_node, event)

    def on_run_end(self, event: Any) -> None:
        self.end = event


class _Merge:
    """Text (or bytes) chunks of one span merged while they waited.

    Kept as one growing UTF-8 ``bytearray`` rather than a list of chunks, so a
    slow consumer costs the text's bytes, not an object per ``ctx.stream()`` call.
    """

    __slots__ = ("first", "buf", "count", "seq", "kind", "sent")

    def __init__(self, first: Any, data: bytes, kind: type) -> None:
        self.first = first
        self.buf = bytearray(data)
        self.count = 1
        self.seq = first.seq  # the last merged call's seq
        self.kind = kind
        self.sent = False

    def payload(self) -> Any:
        if self.kind is str:
            return self.buf.decode()
        return bytes(self.buf)


def _utf8(chunk: str) -> bytes:
    try:
        return chunk.encode()
    except UnicodeEncodeError:  # a lone surrogate: sent as U+FFFD (docs/protocol.md)
        return clean_text(chunk).encode()


class StreamSink(TypedEventProcessor):
    """One Iter stream's processor and queue (see the module doc)."""

    def __init__(
        self,
        encoder: EventEncoder,
        *,
        on_overflow: Callable[[], None],
        max_queued_events: int,
        max_chunk_bytes: int,
        merge: bool,
        hard_cap: int,
    ) -> None:
        self.encoder = encoder
        self.queue: deque[Any] = deque()
        self.max_queued = max(1, max_queued_events)
        self.max_chunk_bytes = max(1, max_chunk_bytes)
        self.merge = merge
        self.hard_cap = max(self.max_queued, hard_cap)
        self.closed = False  # the client went away: keep hooks, queue nothing
        self.ended = False  # RunEndEvent was queued
        self.failure: BaseException | None = None
        self._open: dict[str, _Merge] = {}
        self._waiter: asyncio.Future | None = None
        self._on_overflow = on_overflow
        self._overflowed = False

    # --- runtime side (loop thread, synchronous) ---------------------------------

    def on_streaming_chunk(self, event: Any) -> None:
        """The hot path: one deque append (a merge under pressure), maybe a wake-up."""
        if self.closed:
            return
        queue = self.queue
        if len(queue) >= self.max_queued and self._absorb(event):
            return
        if self._open:
            self._open.pop(event.span_id, None)
        queue.append(event)
        if self._waiter is not None:
            self._wake()

    def _lifecycle(self, event: Any) -> None:
        if self.closed:
            return
        if self._open:
            self._open.pop(event.span_id, None)
        self.queue.append(event)
        if self._waiter is not None:
            self._wake()

    def on_run_start(self, event: Any) -> None:
        self.encoder.run_id = event.run_id
        self._lifecycle(event)

    def on_run_end(self, event: Any) -> None:
        self.ended = True
        self._lifecycle(event)

    on_superstep_start = _lifecycle
    on_node_start = _lifecycle
    on_route_decision = _lifecycle
    on_node_end = _lifecycle
    on_node_error = _lifecycle  # the encoder finds the failing node as it writes
    on_stop_requested = _lifecycle

    def _absorb(self, event: Any) -> bool:
        """Under pressure: merge a text/bytes chunk; True when no raw append is needed."""
        chunk = event.chunk
        kind = chunk.__class__
        if not self.merge or (kind is not str and kind is not bytes):
            # Not mergeable: appended; past the hard cap the run is stopped instead.
            if len(self.queue) >= self.hard_cap and not self._overflowed:
                self._overflowed = True
                self._on_overflow()
            return False
        data = _utf8(chunk) if kind is str else chunk
        span = event.span_id
        entry = self._open.get(span)
        if (
            entry is not None
            and not entry.sent
            and entry.kind is kind
            and len(entry.buf) + len(data) <= self.max_chunk_bytes
        ):
            entry.buf += data
            entry.count += 1
            entry.seq = event.seq
            return True
        entry = _Merge(event, data, kind)
        self._open[span] = entry
        self.queue.append(entry)
        return True

    # --- writer side ------------------------------------------------------------------

    def close(self) -> None:
        """The stream is gone: drop what waits and queue nothing more."""
        self.closed = True
        self.queue.clear()
        self._open.clear()

    def task_done(self, task: asyncio.Task) -> None:
        """Done callback of the run task: wake the writer if the run died without RunEnd."""
        if self.ended:
            return
        if task.cancelled():
            self.failure = RuntimeError("the run task was cancelled before its RunEndEvent")
        else:
            self.failure = task.exception() or RuntimeError(
                "the run task returned without a RunEndEvent"
            )
        if self._waiter is not None:
            self._wake()

    def _wake(self) -> None:
        """Wake the writer sleeping in :meth:`wait` (callers check ``_waiter`` first:
        the hot path pays for no call while the writer is busy)."""
        waiter = self._waiter
        self._waiter = None
        if not waiter.done():
            waiter.set_result(None)

    def coalesce(self, first: Any) -> _Merge | None:
        """Under pressure, at dequeue: ``first`` (a raw text chunk just popped) joined by
        the raw text chunks of its span queued right behind it, within ``max_chunk_bytes``.

        Arrivals past ``max_queued_events`` merge as they come (:meth:`_absorb`); this
        merges the backlog that was queued before the pressure began, so a consumer
        that fell behind catches up in a few messages instead of one per chunk.
        None when there is no pressure or nothing to join.
        """
        queue = self.queue
        if not self.merge or len(queue) + 1 < self.max_queued or not queue:
            return None
        head = queue[0]
        span = first.span_id
        if head.__class__ is not StreamingChunkEvent or head.span_id != span:
            return None
        if head.chunk.__class__ is not str or first.chunk.__class__ is not str:
            return None
        entry = _Merge(first, _utf8(first.chunk), str)
        limit = self.max_chunk_bytes
        popleft = queue.popleft
        while queue:
            head = queue[0]
            if head.__class__ is not StreamingChunkEvent or head.span_id != span:
                break
            chunk = head.chunk
            if chunk.__class__ is not str:
                break
            data = _utf8(chunk)
            if len(entry.buf) + len(data) > limit:
                break
            entry.buf += data
            entry.count += 1
            entry.seq = head.seq
            popleft()
        return entry if entry.count > 1 else None

    async def wait(self) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        try:
            await waiter
        finally:
            self._waiter = None


async def pump(
    sink: StreamSink,
    write: Callable[[Any], Awaitable[None]],
    before_end: Callable[[], Awaitable[None]] | None = None,
) -> int:
    """Write the run's events until RunEnded; returns the last seq sent.

    ``before_end`` is awaited before RunEnded is written (the service releases the
    workflow id there, so a client that sees RunEnded may reuse the id at once).
    Raises :class:`RunNotStarted` when the run task ended without a RunEndEvent.
    """
    queue = sink.queue
    encoder = sink.encoder
    encode_chunk = encoder.chunk_wire
    encode_event = encoder.event
    chunk_kind = StreamingChunkEvent
    merge_kind = _Merge
    end_kind = RunEndEvent
    coalesce = sink.coalesce
    pressure = sink.max_queued - 1 if sink.merge else 1 << 62  # queue length after the pop
    while True:
        if not queue:
            if sink.failure is not None:
                raise RunNotStarted(sink.failure)
            await sink.wait()
            continue
        item = queue.popleft()
        kind = item.__class__
        if kind is chunk_kind:
            merged = coalesce(item) if len(queue) >= pressure else None
            if merged is None:
                await write(encode_chunk(item, item.seq))
            else:
                await write(encoder.merged_chunk(item, merged.payload(), merged.count, merged.seq))
        elif kind is merge_kind:
            item.sent = True
            await write(encoder.merged_chunk(item.first, item.payload(), item.count, item.seq))
        else:
            if kind is end_kind and before_end is not None:
                await before_end()
            await write(encode_event(item, item.seq))
            if kind is end_kind:
                return item.seq
