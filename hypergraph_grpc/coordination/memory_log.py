"""A run's event log in memory: the newest events, and a Watch feed over them.

The writer side is called by the run's recorder on the loop thread for every
event: one deque append (the deque drops the oldest event past the length
bound) and, when a watcher sleeps, a wake-up. Conversion to protobuf happens in
the feed, on the watcher's time, never on the token's critical path.

A text chunk is kept as a plain tuple of its strings and numbers rather than the
event object. Python's garbage collector stops tracking such tuples after their
first collection, so the thousands of tokens a run keeps cost its collections
nothing; kept as objects, they made every full collection of a server holding
hundreds of streams walk all of them (a pause of ~100 ms at 700 streams).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from hypergraph import RunEndEvent, StreamingChunkEvent
from hypergraph_grpc import convert
from hypergraph_grpc.coordination import EventFeed, EventLogLimits

__all__ = ["MemoryEventFeed", "MemoryRunLog"]

_MERGE_CHARS = 65536  # the most text one merged Watch message holds


class MemoryRunLog:
    """The kept events of one run (newest ``max_events``) and who waits for more."""

    __slots__ = (
        "workflow_id",
        "graph",
        "events",
        "ended",
        "error_node",
        "expires_at",
        "_ttl",
        "_waiters",
    )

    def __init__(self, workflow_id: str, graph: str, limits: EventLogLimits) -> None:
        self.workflow_id = workflow_id
        self.graph = graph
        self.events: deque[Any] = deque(maxlen=max(1, limits.max_events))
        self.ended = False
        self.error_node = ""
        self._ttl = limits.ttl_seconds
        self.expires_at = float("inf")  # time.monotonic() after which it is dropped
        self._waiters: list[asyncio.Future] | tuple[()] = ()  # a list once someone waits

    def append(self, event: Any) -> None:
        if event.__class__ is StreamingChunkEvent and event.chunk.__class__ is str:
            event = (
                event.seq,
                event.run_id,
                event.workflow_id,
                event.timestamp,
                event.span_id,
                event.parent_span_id,
                event.node_name,
                event.chunk,
                event.merged,
            )
        self.events.append(event)
        if self._waiters:
            self._wake()

    def finish(self, end_event: Any, error_node: str) -> None:
        self.ended = True
        self.error_node = error_node
        self.expires_at = time.monotonic() + self._ttl
        self.append(end_event)

    def abandon(self) -> None:
        """The run ended before its first event (it was refused): watchers end too."""
        self.ended = True
        self.expires_at = time.monotonic()
        self._wake()

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, ()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def wait(self) -> None:
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters:
            self._waiters.append(waiter)
        else:
            self._waiters = [waiter]
        try:
            await waiter
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)


def _seq(kept: Any) -> int:
    return kept[0] if kept.__class__ is tuple else kept.seq


def _event(kept: Any) -> Any:
    """A kept entry as the runtime event it was (:meth:`MemoryRunLog.append`)."""
    if kept.__class__ is not tuple:
        return kept
    seq, run_id, workflow_id, timestamp, span_id, parent_span_id, node, chunk, merged = kept
    return StreamingChunkEvent(
        run_id=run_id,
        workflow_id=workflow_id,
        seq=seq,
        timestamp=timestamp,
        span_id=span_id,
        parent_span_id=parent_span_id,
        node_name=node,
        chunk=chunk,
        merged=merged,
    )


class MemoryEventFeed(EventFeed):
    """Events of one in-memory log after ``after_seq``, then live ones until RunEnded."""

    def __init__(self, log: MemoryRunLog, after_seq: int) -> None:
        self._log = log
        self._after = after_seq
        self.graph = log.graph

    async def __aiter__(self) -> AsyncIterator[Any]:
        log = self._log
        encoder = convert.EventEncoder(log.graph, log.workflow_id)
        next_seq = self._after + 1
        while True:
            events = log.events
            if events:
                first = _seq(events[0])
                if next_seq < first:
                    yield convert.events_lost(
                        log.workflow_id, _event(events[0]).run_id, next_seq, first - 1
                    )
                    next_seq = first
                    continue
                if next_seq <= _seq(events[-1]):
                    # A copy of what is new: the deque moves while we write.
                    kept = itertools.islice(events, next_seq - first, None)
                    batch = [_event(entry) for entry in kept]
                    next_seq = batch[-1].seq + 1
                    for message, ended in _messages(batch, encoder, log.error_node):
                        yield message
                        if ended:
                            return
                    continue
            if log.ended:
                return
            await log.wait()


def _messages(batch: list, encoder: Any, error_node: str):
    """(message, is RunEnded) for ``batch``; neighbouring text chunks of one node
    execution become one merged message (seq = the last call's), as a stream under
    pressure merges them, so a watcher catching up gets few large messages."""
    index, size = 0, len(batch)
    while index < size:
        event = batch[index]
        encoder.run_id = event.run_id  # also when RunStarted was trimmed
        kind = event.__class__
        if kind is StreamingChunkEvent:
            after = index + 1
            if event.chunk.__class__ is str:
                total = len(event.chunk)
                while after < size and total < _MERGE_CHARS:
                    other = batch[after]
                    if not convert.joins_text(event, other):
                        break
                    total += len(other.chunk)
                    after += 1
            if after - index > 1:
                text = "".join(e.chunk for e in batch[index:after])
                last = batch[after - 1].seq
                yield encoder.merged_chunk(event, text, after - index, last), False
            else:
                yield encoder.chunk_wire(event, event.seq), False
            index = after
            continue
        if kind is RunEndEvent:
            encoder.error_node = error_node
        yield encoder.event(event, event.seq), kind is RunEndEvent
        index += 1
