"""``NodeContext``: what the runner injects into a node that asks for it.

One instance per node execution; it doubles as the runner's record of that
execution (span, timing, usage), so starting a node allocates one object.
``stream()`` is the hot path: on the loop thread it dispatches the chunk at once
(no task, no lock); from any other thread it hands the chunk to the loop.
"""

from __future__ import annotations

from threading import get_ident
from time import time
from typing import Any

__all__ = ["NodeContext"]


class NodeContext:
    """Per-execution handle for streaming, cooperative stop and usage reporting.

    Users never build one: the runner injects it into a parameter annotated
    ``NodeContext``. ``MagicMock(spec=NodeContext)`` can stand in for it in tests.
    """

    # Per-execution state the runner fills in; class-level defaults keep creating
    # a context down to a handful of stores (one per node execution).
    _quiet = False  # set once the execution ended, was cancelled or abandoned
    _usage: dict | None = None
    _t0 = 0.0
    _kwargs: dict | None = None
    _outcome = 0  # 0 running, 1 returned, 2 raised, 3 cancelled
    _value: Any = None
    _task = None
    _future = None
    _cancelled = False

    def __init__(self, run: Any, node: Any, index: int, span_id: str | None) -> None:
        self._run = run
        self._node = node
        self._index = index
        self._name = node.name
        self._span = span_id

    @property
    def stop_requested(self) -> bool:
        """True from the moment a stop of this run is requested (any thread)."""
        return self._run._stop_flag

    @property
    def workflow_id(self) -> str:
        """The run's workflow id (for logging)."""
        return self._run.workflow_id

    @property
    def run_id(self) -> str:
        """The run's id (for logging)."""
        return self._run.run_id

    @property
    def node_name(self) -> str:
        """The name of the node this context belongs to."""
        return self._name

    def stream(self, chunk: Any) -> None:
        """Emit a ``StreamingChunkEvent`` for this execution; returns at once.

        Never blocks and never waits for a consumer. Does nothing once the run's
        ``StopRequestedEvent`` was emitted (or this execution ended).
        """
        run = self._run
        if self._quiet or run._closed:
            return None
        if get_ident() == run._loop_tid:
            if run._live_sinks:
                run._emit_chunk(self, chunk, time())
        elif run._live_sinks:
            run._hand_over(self, chunk, time())
        return None

    def report_usage(self, **items: Any) -> None:
        """Record usage: integers are added up, other values keep the last one."""
        usage = self._usage
        if usage is None:
            usage = self._usage = {}
        merge_usage(usage, items)

    def __repr__(self) -> str:
        return f"<NodeContext node={self._name!r} run={self._run.run_id!r}>"


def merge_usage(into: dict, items: dict) -> None:
    """Add integer items (not bools) into ``into``; other items overwrite."""
    for key, value in items.items():
        old = into.get(key)
        if (
            isinstance(value, int)
            and not isinstance(value, bool)
            and isinstance(old, int)
            and not isinstance(old, bool)
        ):
            into[key] = old + value
        else:
            into[key] = value
