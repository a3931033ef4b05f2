"""``AsyncRunner``: validates a run's inputs, registers its workflow id, runs it, stops it.

One runner serves any number of concurrent runs on any loop; it binds no loop
(each run uses the loop that awaits it) and owns the daemon threads of sync nodes.
"""

from __future__ import annotations

import difflib
import threading
from typing import Any

from ._errors import MissingInputError, UnknownInputError, WorkflowAlreadyRunningError, how_to_fix
from ._graph import Graph
from ._ids import new_run_id, new_workflow_id
from ._iter import EventBuffer, IterContext
from ._processors import NO_PROCESSORS, HookTable
from ._result import RunResult, RunStatus
from ._run import Run
from ._workers import WorkerPool

__all__ = ["AsyncRunner", "DEFAULT_MAX_ITERATIONS"]

DEFAULT_MAX_ITERATIONS = 1000


def _merge_inputs(values: Any, input_values: dict[str, Any]) -> dict[str, Any]:
    if values is None:
        return dict(input_values)
    if not isinstance(values, dict):
        raise TypeError(
            f"values must be a dict of graph inputs, got {type(values).__name__}.\n"
            "How to fix: pass runner.run(graph, {'name': value}) or keyword arguments."
        )
    both = sorted(set(values) & set(input_values))
    if both:
        raise ValueError(
            f"input(s) {both} given both in `values` and as keyword arguments.\n"
            "How to fix: give each input once."
        )
    return {**values, **input_values}


def _check_inputs(graph: Graph, given: dict[str, Any]) -> None:
    keys = given.keys()
    if keys <= graph._accepted and graph._required <= keys:
        return
    accepted = graph.inputs.all
    for name in given:
        if name in accepted:
            continue
        producers = graph._producers.get(name)
        if producers:
            who = [graph._node_list[p].name for p in producers]
            raise UnknownInputError(
                how_to_fix(
                    f"{name!r} is produced by node(s) {who} of graph {graph.name!r}, so it "
                    f"cannot be given as an input; the inputs are {list(accepted)}",
                    f"drop {name!r} from the run's values",
                )
            )
        close = difflib.get_close_matches(name, accepted, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise UnknownInputError(
            how_to_fix(
                f"graph {graph.name!r} has no input {name!r}; its inputs are {list(accepted)}",
                f"{hint}use one of the graph's input names",
            )
        )
    missing = [name for name in graph.inputs.required if name not in given]
    if missing:
        raise MissingInputError(
            how_to_fix(
                f"graph {graph.name!r} is missing required input(s) {missing}; given "
                f"{sorted(given)}; it needs {list(graph.inputs.required)} (optional: "
                f"{list(graph.inputs.optional)}){_seed_notes(graph, missing)}",
                "pass every required input in `values` or as keyword arguments"
                + (
                    "; for a seed, its value for the first pass (e.g. messages=[])"
                    if any(name in graph._seed_entry for name in missing)
                    else ""
                ),
            )
        )


def _seed_notes(graph: Graph, missing: list[str]) -> str:
    """Why a name with a default, or one a node produces, is still required: a seed."""
    notes = []
    for name in missing:
        entry = graph._seed_entry.get(name)
        if entry is not None:
            who = [graph._node_list[p].name for p in graph._producers.get(name, ())]
            notes.append(
                f"; {name!r} is a seed: node(s) {who} write it inside a cycle whose entrypoint "
                f"{entry!r} reads it on the first pass, before any node wrote it (a "
                "default on a produced name is ignored)"
            )
    return "".join(notes)


def _check_select(graph: Graph, select: Any) -> tuple[str, ...] | None:
    if select is None:
        return None
    names = (select,) if isinstance(select, str) else tuple(select)
    wrong = [s for s in names if s not in graph.outputs]
    if wrong:
        raise ValueError(
            f"select names {wrong}, which graph {graph.name!r} does not output; its outputs "
            f"are {list(graph.outputs)}.\nHow to fix: select only output names."
        )
    return names


def _check_grace(grace: Any) -> float | None:
    if grace is None:
        return None
    if isinstance(grace, bool) or not isinstance(grace, (int, float)) or grace != grace:
        raise TypeError(
            f"grace must be a number of seconds or None, got {grace!r}.\n"
            "How to fix: pass e.g. grace=5.0."
        )
    return max(0.0, float(grace))


class AsyncRunner:
    """Runs graphs on the running event loop. Build one and share it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # status decisions + the live registry
        self._live: dict[str, Run] = {}
        self._pool: WorkerPool | None = None

    def _workers(self) -> WorkerPool:
        pool = self._pool
        if pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = WorkerPool()
                pool = self._pool
        return pool

    # --- starting runs ------------------------------------------------------------------

    def _prepare(
        self,
        graph: Any,
        values: Any,
        input_values: dict[str, Any],
        workflow_id: Any,
        select: Any,
        max_iterations: Any,
        event_processors: Any,
        sink: Any = None,
    ) -> Run:
        if not isinstance(graph, Graph):
            raise TypeError(
                f"expected a Graph, got {type(graph).__name__}.\nHow to fix: build one with "
                "Graph([node_a, node_b])."
            )
        given = _merge_inputs(values, input_values)
        _check_inputs(graph, given)
        names = _check_select(graph, select)
        limit = DEFAULT_MAX_ITERATIONS if max_iterations is None else max_iterations
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise ValueError(
                f"max_iterations must be a positive int, got {max_iterations!r}.\n"
                "How to fix: pass e.g. max_iterations=100."
            )
        if workflow_id is None:
            workflow_id = new_workflow_id()
        elif not isinstance(workflow_id, str) or not workflow_id:
            raise ValueError(
                f"workflow_id must be a non-empty string, got {workflow_id!r}.\n"
                "How to fix: pass a string id, or none to get a generated one."
            )
        hooks = HookTable(event_processors) if event_processors else NO_PROCESSORS
        run = Run(
            self,
            graph,
            given,
            workflow_id=workflow_id,
            run_id=new_run_id(),
            select=names,
            max_iterations=limit,
            hooks=hooks,
            sink=sink,
        )
        with self._lock:
            if workflow_id in self._live:
                raise WorkflowAlreadyRunningError(
                    how_to_fix(
                        f"workflow {workflow_id!r} is already running",
                        "wait for it to end (or stop it with runner.stop(workflow_id)), or "
                        "use another workflow_id",
                    )
                )
            self._live[workflow_id] = run
        return run

    async def run(
        self,
        graph: Graph,
        values: dict[str, Any] | None = None,
        *,
        workflow_id: str | None = None,
        select: Any = None,
        max_iterations: int | None = None,
        event_processors: list | None = None,
        error_handling: str = "raise",
        **input_values: Any,
    ) -> RunResult:
        """Run ``graph`` to the end and return its ``RunResult``.

        ``error_handling="raise"`` re-raises a failed node's exception after the
        run ended; ``"continue"`` returns the FAILED result instead.
        """
        if error_handling not in ("raise", "continue"):
            raise ValueError(
                f"error_handling must be 'raise' or 'continue', got {error_handling!r}.\n"
                "How to fix: pass one of those two."
            )
        run = self._prepare(
            graph, values, input_values, workflow_id, select, max_iterations, event_processors
        )
        result = await run.main()
        if error_handling == "raise" and result.status is RunStatus.FAILED:
            raise result.error
        return result

    def iter(
        self,
        graph: Graph,
        values: dict[str, Any] | None = None,
        *,
        workflow_id: str | None = None,
        select: Any = None,
        max_iterations: int | None = None,
        event_processors: list | None = None,
        buffer_size: int = 1024,
        **input_values: Any,
    ) -> IterContext:
        """An async context manager yielding a ``RunHandle`` to iterate the run's events."""
        if not isinstance(buffer_size, int) or isinstance(buffer_size, bool) or buffer_size < 1:
            raise ValueError(
                f"buffer_size must be a positive int, got {buffer_size!r}.\n"
                "How to fix: pass e.g. buffer_size=1024."
            )

        def prepare() -> tuple[Run, EventBuffer]:
            buffer = EventBuffer(buffer_size)
            run = self._prepare(
                graph,
                values,
                input_values,
                workflow_id,
                select,
                max_iterations,
                event_processors,
                sink=buffer,
            )
            return run, buffer

        return IterContext(self, prepare)

    # --- stopping ------------------------------------------------------------------------

    def stop(self, workflow_id: str, info: Any = None, *, grace: float | None = None) -> bool:
        """Ask the live run with this id to stop; from any thread or coroutine.

        Returns True when the run will end STOPPED (this or an earlier request),
        False when no live run has the id or its end is already decided otherwise.
        """
        grace = _check_grace(grace)
        if not isinstance(workflow_id, str):
            return False
        with self._lock:
            run = self._live.get(workflow_id)
            if run is None:
                return False
            accepted, first, closer = run.accept_stop(info, grace)
        if accepted:
            run.after_stop(first, closer)
        return accepted

    def _stop_run(self, run: Run, info: Any, grace: float | None) -> bool:
        grace = _check_grace(grace)
        with self._lock:
            accepted, first, closer = run.accept_stop(info, grace)
        if accepted:
            run.after_stop(first, closer)
        return accepted

    # --- introspection (extension used by the gRPC service) ------------------------------

    def is_running(self, workflow_id: str) -> bool:
        """True while a run with this workflow id is live (RunStart .. RunEnd)."""
        return workflow_id in self._live

    def live_workflows(self) -> tuple[str, ...]:
        """The workflow ids of the live runs, a snapshot."""
        with self._lock:
            return tuple(self._live)
