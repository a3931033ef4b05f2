"""``iter()``: the async context manager, ``RunHandle`` and its bounded event buffer.

The buffer never makes emission wait. Up to ``buffer_size`` events wait for the
consumer; past that, a text chunk (``str`` or ``bytes``) merges into the newest
waiting chunk of its span and type, which moves to the tail and takes the new
``seq``, so delivered ``seq`` strictly increases and the last ``seq`` equals the
sum of ``merged``. Merged text is kept as a two-level list of parts and joined
once, when the consumer takes it: merging stays O(1) per chunk.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any

from ._events import FAST, RunEndEvent, StreamingChunkEvent

__all__ = ["EventBuffer", "RunHandle", "IterContext", "CLOSE_GRACE"]

CLOSE_GRACE = 1.0  # seconds a run gets to stop when its iter() block is left early
_PARTS = 256  # small parts joined into one block every this many merges


class _Merged:
    """A waiting chunk event that absorbed later chunks of its span and type."""

    __slots__ = ("first", "parts", "blocks", "count", "seq", "ts", "empty")

    def __init__(self, first: StreamingChunkEvent) -> None:
        self.first = first
        self.parts = [first.chunk]
        self.blocks: list = []
        self.count = first.merged
        self.seq = first.seq
        self.ts = first.timestamp
        self.empty = first.chunk[:0]

    def add(self, ev: StreamingChunkEvent) -> None:
        parts = self.parts
        parts.append(ev.chunk)
        if len(parts) >= _PARTS:
            self.blocks.append(self.empty.join(parts))
            parts.clear()
        self.count += 1
        self.seq = ev.seq
        self.ts = ev.timestamp

    def event(self) -> StreamingChunkEvent:
        f = self.first
        text = self.empty.join(self.blocks + [self.empty.join(self.parts)])
        return FAST[StreamingChunkEvent](
            f.run_id,
            f.workflow_id,
            self.seq,
            self.ts,
            f.span_id,
            f.parent_span_id,
            f.node_name,
            text,
            self.count,
        )


class EventBuffer:
    """Events waiting for one ``iter()`` consumer (loop thread only)."""

    __slots__ = ("_q", "_index", "_size", "_key", "_waiter", "ended")

    def __init__(self, size: int) -> None:
        self._q: OrderedDict = OrderedDict()
        self._index: dict[tuple, int] = {}  # (span, type) -> key of newest waiting text chunk
        self._size = size
        self._key = 0
        self._waiter: asyncio.Future | None = None
        self.ended = False

    def __len__(self) -> int:
        return len(self._q)

    def push(self, ev: Any) -> None:
        q = self._q
        if ev.__class__ is StreamingChunkEvent:
            chunk = ev.chunk
            kind = chunk.__class__
            if kind is str or kind is bytes:
                ikey = (ev.span_id, kind)
                if len(q) >= self._size:
                    k = self._index.get(ikey)
                    if k is not None:
                        entry = q[k]
                        if entry.__class__ is not _Merged:
                            entry = q[k] = _Merged(entry)
                        entry.add(ev)
                        q.move_to_end(k)
                        return
                self._key = k = self._key + 1
                q[k] = ev
                self._index[ikey] = k
                self._wake()
                return
        self._key = k = self._key + 1
        q[k] = ev
        self._wake()

    def push_end(self, ev: RunEndEvent) -> None:
        self.push(ev)
        self.ended = True
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def pop(self) -> Any:
        k, entry = self._q.popitem(last=False)
        if entry.__class__ is _Merged:
            ev = entry.event()
        else:
            ev = entry
        if ev.__class__ is StreamingChunkEvent:
            ikey = (ev.span_id, ev.chunk.__class__)
            if self._index.get(ikey) == k:
                del self._index[ikey]
        return ev

    async def next(self) -> Any:
        while not self._q:
            if self.ended:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self.pop()


class RunHandle:
    """What ``async with runner.iter(...) as handle`` yields."""

    def __init__(self, runner: Any, run: Any, buffer: EventBuffer) -> None:
        self._runner = runner
        self._run = run
        self._buffer = buffer
        self._active = False
        self._iterated = False

    @property
    def workflow_id(self) -> str:
        return self._run.workflow_id

    @property
    def run_id(self) -> str:
        return self._run.run_id

    def __aiter__(self) -> RunHandle:
        if not self._active:
            raise RuntimeError(
                "RunHandle is iterated outside its `async with runner.iter(...)` block.\n"
                "How to fix: iterate inside the block."
            )
        if self._iterated:
            raise RuntimeError(
                "RunHandle can be iterated only once.\nHow to fix: iterate once, keeping "
                "the events you need; use `await handle.result()` for the outcome."
            )
        self._iterated = True
        return self

    async def __anext__(self) -> Any:
        if not self._active:
            raise RuntimeError(
                "RunHandle is used outside its `async with runner.iter(...)` block.\n"
                "How to fix: read the events inside the block; after it, use "
                "`await handle.result()`."
            )
        return await self._buffer.next()

    def stop(self, info: Any = None, *, grace: float | None = None) -> bool:
        """Stop this handle's run (never a later run reusing the workflow id)."""
        return self._runner._stop_run(self._run, info, grace)

    async def result(self, raise_on_failure: bool = True) -> Any:
        """Wait for the end (read or not) and return the ``RunResult``."""
        result = await asyncio.shield(self._run.done)
        if raise_on_failure and result.failed and result.error is not None:
            raise result.error
        return result

    def __repr__(self) -> str:
        return f"<RunHandle workflow_id={self.workflow_id!r} run_id={self.run_id!r}>"


class IterContext:
    """The async context manager ``runner.iter(...)`` returns."""

    def __init__(self, runner: Any, prepare: Any) -> None:
        self._runner = runner
        self._prepare = prepare  # validates and registers; returns (run, buffer)
        self._task: asyncio.Task | None = None
        self._handle: RunHandle | None = None

    def __aiter__(self) -> None:
        raise TypeError(
            "runner.iter(...) is an async context manager, not an iterator.\n"
            "How to fix: `async with runner.iter(graph, ...) as handle:` then "
            "`async for event in handle:`."
        )

    async def __aenter__(self) -> RunHandle:
        if self._handle is not None:
            raise RuntimeError(
                "this runner.iter(...) context was already entered.\nHow to fix: call "
                "runner.iter(...) again for each run; a context starts one run."
            )
        run, buffer = self._prepare()
        self._handle = RunHandle(self._runner, run, buffer)
        self._handle._active = True
        self._task = task = asyncio.get_running_loop().create_task(run.main())
        # A task cancelled before its first step never runs main(): clean up after it.
        task.add_done_callback(run.end_unstarted)
        return self._handle

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        handle = self._handle
        handle._active = False
        task = self._task
        if task.done():
            if not task.cancelled():
                task.exception()  # mark retrieved
            return False
        if exc_type is not None and issubclass(exc_type, asyncio.CancelledError):
            task.cancel()
        elif not handle.stop({"kind": "iterator_closed"}, grace=CLOSE_GRACE):
            # Already decided (FAILED, or COMPLETED while nodes finish): no stop, but the
            # same grace bounds the wait for nodes that ignore the cooperative stop.
            self._handle._run.force_after(CLOSE_GRACE)
        try:
            await task
        except asyncio.CancelledError:
            if exc_type is None or not issubclass(exc_type, asyncio.CancelledError):
                raise
        return False
