"""The event processors that write one run's events to its event log.

Every run gets one, first among its processors. It appends each runtime event
to the run's log as it is dispatched (one call, no conversion: the log converts
off the token's critical path) and applies a Stop that arrived before the run
started. At RunEndEvent the workflow id is released first, then RunEnded goes
into the log, so whoever sees RunEnded may reuse the id at once.

:class:`RunRecorder` is for coordination kept in this process: it releases the
id synchronously inside the RunEndEvent dispatch, so a run costs no task of its
own besides the run's. :class:`SharedRunRecorder` is for coordination kept in a
shared store: it publishes the run id and releases the id in tasks, and sets
``run.ending`` for whoever must wait for the release.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from hypergraph import TypedEventProcessor
from hypergraph_grpc.convert import first_failing_node

__all__ = ["RunLogWriter", "RunRecorder", "SharedRunRecorder"]


class RunLogWriter(Protocol):
    """The write side of one run's event log (loop thread, never blocks)."""

    def append(self, event: Any) -> None: ...

    def finish(self, end_event: Any, error_node: str) -> None: ...


class _EventRecorder(TypedEventProcessor):
    """What both recorders share: every event of ``run`` into ``writer``, a Stop that
    came before the start applied at RunStartEvent, the first failing node noted."""

    def __init__(self, run: Any, writer: RunLogWriter, stop_receiver: Any) -> None:
        self._run = run
        self._receive_stop = stop_receiver
        self._writer = writer
        self._error_node = ""  # the first node that failed (not cancelled), for RunEnded
        # Instance hooks: the runtime calls the log's append directly per event.
        append = writer.append
        self.on_streaming_chunk = append
        self.on_superstep_start = append
        self.on_node_start = append
        self.on_route_decision = append
        self.on_node_end = append
        self.on_stop_requested = append

    def on_run_start(self, event: Any) -> None:
        run = self._run
        run.run_id = event.run_id
        run.started = True
        if run.pending_stop is not None:
            # A Stop that came before the runtime knew the run: applied now, before
            # any node starts.
            info, grace = run.pending_stop
            self._receive_stop(run.workflow_id, info=info, grace=grace)
        self._writer.append(event)

    def on_node_error(self, event: Any) -> None:
        self._error_node = first_failing_node(self._error_node, event)
        self._writer.append(event)


class RunRecorder(_EventRecorder):
    """For coordination in this process: at RunEndEvent calls ``release`` (synchronous
    bookkeeping) and then finishes the log."""

    def __init__(
        self,
        run: Any,
        writer: RunLogWriter,
        stop_receiver: Any,
        release: Callable[[Any], None],
    ) -> None:
        super().__init__(run, writer, stop_receiver)
        self._release = release

    def on_run_end(self, event: Any) -> None:
        self._release(self._run)
        self._writer.finish(event, self._error_node)


class SharedRunRecorder(_EventRecorder):
    """For a shared store: ``started`` (publishing the run id) runs as a task at
    RunStartEvent; at RunEndEvent ``release`` (a coroutine) runs as the task
    ``run.ending``, which then finishes the log."""

    def __init__(
        self,
        run: Any,
        writer: RunLogWriter,
        stop_receiver: Any,
        *,
        started: Callable[[Any, str], Awaitable[None]],
        release: Callable[[Any], Awaitable[None]],
    ) -> None:
        super().__init__(run, writer, stop_receiver)
        self._started = started
        self._release = release
        self._starting: asyncio.Task | None = None

    def on_run_start(self, event: Any) -> None:
        super().on_run_start(event)
        self._starting = asyncio.get_running_loop().create_task(
            self._started(self._run, event.run_id)
        )

    def on_run_end(self, event: Any) -> None:
        self._run.ending = asyncio.get_running_loop().create_task(self._end(event))

    async def _end(self, event: Any) -> None:
        if self._starting is not None:
            await asyncio.wait((self._starting,))
        try:
            await self._release(self._run)
        finally:
            self._writer.finish(event, self._error_node)
