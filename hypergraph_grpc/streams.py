"""Per-stream delivery: a sync event processor feeding a bounded queue and its writer.

The hot path of the service. The runtime calls :meth:`StreamSink.on_streaming_chunk`
(and the lifecycle hooks) synchronously on the loop thread for every event of the run,
chunks included; it appends the event to the stream's deque (no conversion) and, when
no write is in flight, schedules a flush: a plain loop callback (no task) that runs as
soon as the node's step yields, converts what queued to protobuf and hands it to
``context.write``. A write's completion writes what queued meanwhile. A text chunk is
joined by the text of its span queued right behind it (never waiting for more), so the
tokens a node streams in one step (a burst a provider's read delivered) leave as one
message, and a consumer that keeps up gets one message per ``ctx.stream()`` call when
the node streams one token per step. :func:`pump` is
what the RPC awaits; it writes RunEnded. ``seq`` is the runtime event's own number,
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
from time import time
from typing import Any

from hypergraph import RunEndEvent, StreamingChunkEvent, TypedEventProcessor
from hypergraph_grpc.convert import EventEncoder, clean_text, first_failing_node, joins_text

__all__ = ["RunHooks", "RunNotStarted", "StreamSink", "TextStreamSink", "pump"]


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
        on_write_delay: Callable[[float], None] | None = None,
    ) -> None:
        """``on_write_delay``: called with the seconds from ``ctx.stream()`` to the write,
        for the first chunk message and then one in 64 (metrics)."""
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
        self._write: Callable[[Any], Awaitable[None]] | None = None
        self._done: asyncio.Future | None = None  # set by attach(): RunEnded is next
        self._writing: Any = None  # the write in flight (a coroutine), if any
        self._call_soon: Callable[..., Any] | None = None  # the loop's, once attached
        self._flush_due = False  # a _flush is scheduled
        self._on_overflow = on_overflow
        self._overflowed = False
        # Counted for metrics as each chunk message is written (two integer additions),
        # read when Prometheus scrapes.
        self.tokens_sent = 0  # ctx.stream() calls written (a merged message holds several)
        self.messages_sent = 0  # chunk messages written
        self.run_started_at = 0.0  # RunStartEvent's timestamp
        self.first_token_at = 0.0  # when the first chunk message was written (time.time())
        self._on_write_delay = on_write_delay

    # --- runtime side (loop thread, synchronous) ---------------------------------

    def on_streaming_chunk(self, event: Any) -> None:
        """The hot path: one deque append (a merge under pressure); a flush is scheduled
        when no write is in flight."""
        if self.closed:
            return
        queue = self.queue
        if len(queue) >= self.max_queued and self._absorb(event):
            return
        if self._open:
            self._open.pop(event.span_id, None)
        queue.append(event)
        if self._writing is None and not self._flush_due:
            self._schedule_flush()

    def _lifecycle(self, event: Any) -> None:
        if self.closed:
            return
        if self._open:
            self._open.pop(event.span_id, None)
        self.queue.append(event)
        if self._writing is None and not self._flush_due:
            self._schedule_flush()

    def on_run_start(self, event: Any) -> None:
        self.encoder.run_id = event.run_id
        self.run_started_at = event.timestamp
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
    #
    # The writer is driven by callbacks, not by a task of its own: an event that finds
    # it idle schedules one flush callback, which runs once the node's step yields (so
    # a step's tokens are joined) and writes; the write's completion writes whatever
    # queued meanwhile. A token therefore costs no task wake-up besides the node's own.
    # RunEnded is left to pump(), which has a coroutine to await before_end in.

    def attach(self, write: Callable[[Any], Awaitable[None]]) -> asyncio.Future:
        """Start writing with ``write`` (``context.write``). The returned future ends once
        every event before RunEnded is written (RunEnded is then first in the queue), or
        with the error that ended the stream."""
        self._write = write
        loop = asyncio.get_running_loop()
        self._call_soon = loop.call_soon
        self._done = loop.create_future()
        self._drive()
        return self._done

    def _schedule_flush(self) -> None:
        """Write what queued once the step that queued it yields: every token a node
        streams in one step (a burst a provider's read delivered) leaves as one message."""
        call_soon = self._call_soon
        if call_soon is not None:
            self._flush_due = True
            call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_due = False
        if self._writing is None:
            self._drive()

    def close(self) -> None:
        """The stream is gone: drop what waits, abandon a write in flight, queue nothing more."""
        self.closed = True
        self.queue.clear()
        self._open.clear()
        writing, self._writing = self._writing, None
        if writing is not None:
            writing.close()

    def task_done(self, task: asyncio.Task) -> None:
        """Done callback of the run task: report a run that died without its RunEnd."""
        if self.ended:
            return
        if task.cancelled():
            self.failure = RuntimeError("the run task was cancelled before its RunEndEvent")
        else:
            self.failure = task.exception() or RuntimeError(
                "the run task returned without a RunEndEvent"
            )
        if self._writing is None:
            self._drive()

    def _drive(self) -> None:
        """Write queued events until one write is in flight, the queue is empty or
        RunEnded is next (called with no write in flight)."""
        done = self._done
        if done is None or done.done():
            return  # not attached yet (attach drives), or over
        queue = self.queue
        while queue and not self.closed:
            if queue[0].__class__ is RunEndEvent:
                done.set_result(None)
                return
            writing = self._write(self._message(queue.popleft()))
            try:
                pending = writing.send(None)
            except StopIteration:  # written at once (no await left in the write)
                continue
            except BaseException as exc:
                done.set_exception(exc)
                return
            self._writing = writing
            self._wait_for(pending)
            return
        if self.failure is not None and not queue:
            done.set_exception(RunNotStarted(self.failure))

    def _wait_for(self, pending: Any) -> None:
        if pending is None:  # a bare yield: resume on the next loop iteration
            asyncio.get_running_loop().call_soon(self._resume, None)
        else:
            pending.add_done_callback(self._resume)

    def _resume(self, _completed: Any) -> None:
        """The write in flight made progress: run it on; when it is finished, write on."""
        writing = self._writing
        if writing is None:
            return  # abandoned by close()
        try:
            pending = writing.send(None)
        except StopIteration:
            self._writing = None
            self._drive()
            return
        except BaseException as exc:
            self._writing = None
            if not self._done.done():
                self._done.set_exception(exc)
            return
        self._wait_for(pending)

    def _message(self, item: Any) -> Any:
        """``item`` as the message to write: a text chunk joins the text of its span
        queued right behind it (never waiting for more)."""
        kind = item.__class__
        encoder = self.encoder
        if kind is StreamingChunkEvent:
            joined = self._coalesce(item) if self.merge and self.queue else None
            sent = self.messages_sent = self.messages_sent + 1
            if sent & 63 == 1:  # the first chunk message, then one in 64
                self._timed(item.timestamp)
            if joined is None:
                self.tokens_sent += 1
                return encoder.chunk_wire(item, item.seq)
            self.tokens_sent += joined.count
            return encoder.merged_chunk(item, joined.payload(), joined.count, joined.seq)
        if kind is _Merge:
            item.sent = True
            self.tokens_sent += item.count
            sent = self.messages_sent = self.messages_sent + 1
            if sent & 63 == 1:
                self._timed(item.first.timestamp)
            return encoder.merged_chunk(item.first, item.payload(), item.count, item.seq)
        return encoder.event(item, item.seq)

    def _timed(self, chunk_timestamp: float) -> None:
        """A sampled chunk is written: note the first token's time, report the delay."""
        now = time()
        if not self.first_token_at:
            self.first_token_at = now
        if self._on_write_delay is not None:
            self._on_write_delay(max(0.0, now - chunk_timestamp))

    def _coalesce(self, first: Any) -> _Merge | None:
        """``first`` (a text chunk just popped) joined by the text chunks of its span
        queued right behind it, within ``max_chunk_bytes``; None when nothing joins.

        Whatever queued while the previous message was written leaves as one message:
        a burst of tokens, or the backlog of a consumer that fell behind (arrivals past
        ``max_queued_events`` merge as they come, :meth:`_absorb`).
        """
        queue = self.queue
        if first.chunk.__class__ is not str or not joins_text(first, queue[0]):
            return None
        entry = _Merge(first, _utf8(first.chunk), str)
        limit = self.max_chunk_bytes
        popleft = queue.popleft
        while queue:
            head = queue[0]
            if not joins_text(first, head):
                break
            data = _utf8(head.chunk)
            if len(entry.buf) + len(data) > limit:
                break
            entry.buf += data
            entry.count += 1
            entry.seq = head.seq
            popleft()
        return entry if entry.count > 1 else None


class TextStreamSink(StreamSink):
    """A :class:`StreamSink` for ``EVENT_VIEW_TEXT``: it does not override the node
    lifecycle hooks, so the runtime never calls it for SuperstepStarted, NodeStarted,
    NodeEnded or RouteDecision and the stream writes (and pays for) none of them."""

    on_superstep_start = TypedEventProcessor.on_superstep_start
    on_node_start = TypedEventProcessor.on_node_start
    on_route_decision = TypedEventProcessor.on_route_decision
    on_node_end = TypedEventProcessor.on_node_end


async def pump(
    sink: StreamSink,
    write: Callable[[Any], Awaitable[None]],
    before_end: Callable[[], Awaitable[None]] | None = None,
) -> int:
    """Write the run's events with ``write`` until RunEnded; returns RunEnded's seq.

    ``before_end`` is awaited before RunEnded is written (the service releases the
    workflow id there, so a client that sees RunEnded may reuse the id at once).
    Raises :class:`RunNotStarted` when the run task ended without a RunEndEvent, and
    whatever a write raised. Cancelling it abandons the stream (:meth:`StreamSink.close`
    is the caller's).
    """
    await sink.attach(write)
    end = sink.queue.popleft()
    if before_end is not None:
        await before_end()
    await write(sink.encoder.event(end, end.seq))
    return end.seq
