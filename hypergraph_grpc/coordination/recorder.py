"""The event processor that writes one run's events to its event log.

Every run gets one, first among its processors. It appends each runtime event
to the run's log as it is dispatched (one call, no conversion: the log converts
off the token's critical path), tells the coordination when the run has started,
and at RunEndEvent sets ``run.ending``: the workflow id is released first, then
RunEnded goes into the log, so whoever sees RunEnded may reuse the id at once.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from hypergraph import TypedEventProcessor
from hypergraph_grpc.convert import first_failing_node

__all__ = ["RunLogWriter", "RunRecorder"]


class RunLogWriter(Protocol):
    """The write side of one run's event log (loop thread, never blocks)."""

    def append(self, event: Any) -> None: ...

    def finish(self, end_event: Any, error_node: str) -> None: ...


class RunRecorder(TypedEventProcessor):
    """Feeds ``writer`` with every event of ``run`` (see the module doc)."""

    def __init__(
        self, coordination: Any, run: Any, writer: RunLogWriter, stop_receiver: Any
    ) -> None:
        self._coordination = coordination
        self._run = run
        self._receive_stop = stop_receiver
        self._writer = writer
        self._starting: asyncio.Task | None = None
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
        self._starting = asyncio.get_running_loop().create_task(
            self._coordination.started(self._run, event.run_id)
        )

    def on_node_error(self, event: Any) -> None:
        self._error_node = first_failing_node(self._error_node, event)
        self._writer.append(event)

    def on_run_end(self, event: Any) -> None:
        self._run.ending = asyncio.get_running_loop().create_task(self._end(event))

    async def _end(self, event: Any) -> None:
        if self._starting is not None:
            await asyncio.wait((self._starting,))
        try:
            await self._coordination.release(self._run)
        finally:
            self._writer.finish(event, self._error_node)
