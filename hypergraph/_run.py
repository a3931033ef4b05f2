"""One run of a graph: supersteps, node executions, event dispatch, stop and end.

Everything here runs on the loop thread that awaits the run, except three entry
points that may come from any thread: ``NodeContext.stream`` (through
``_hand_over``), ``accept_stop`` (called by the runner under its lock) and the
sync node jobs. The status decision and the workflow id's release take the
runner's lock; no lock is ever taken per chunk.
"""

from __future__ import annotations

import asyncio
import sys
from collections import deque
from functools import partial
from threading import get_ident
from time import monotonic, perf_counter, time
from typing import Any

from ._context import NodeContext, merge_usage
from ._errors import InfiniteLoopError, InvalidRouteError, NodeOutputError, how_to_fix
from ._events import (
    FAST,
    NodeEndEvent,
    NodeErrorEvent,
    NodeStartEvent,
    RouteDecisionEvent,
    RunEndEvent,
    RunStartEvent,
    StopRequestedEvent,
    StreamingChunkEvent,
    SuperstepStartEvent,
)
from ._ids import new_span_id
from ._nodes import END
from ._processors import HookTable, log_processor_error, logger
from ._result import RunResult, RunStatus
from ._scheduler import ReadyState

__all__ = ["Run", "error_type_name"]

_CANCELLED_TYPE = "asyncio.CancelledError"
_make_chunk = FAST[StreamingChunkEvent]
_ASYNC_PROCESSOR_WAIT_ON_CANCEL = 1.0
_COMPLETED, _FAILED, _STOPPED = RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.STOPPED


def error_type_name(exc: BaseException) -> str:
    """Qualified class name, as users import it (``ValueError``, ``anthropic.APIError``)."""
    cls = type(exc)
    if isinstance(exc, asyncio.CancelledError):
        return _CANCELLED_TYPE
    module = cls.__module__
    if module == "builtins":
        return cls.__qualname__
    top = module.partition(".")[0]
    if getattr(sys.modules.get(top), cls.__name__, None) is cls:
        return f"{top}.{cls.__qualname__}"
    return f"{module}.{cls.__qualname__}"


# A processor's own CancelledError (say it awaited a cancelled future) is its
# failure like any other: logged, never the run's end.
_PROCESSOR_ERRORS = (Exception, asyncio.CancelledError)


def _cancelling() -> bool:
    """In the async-processor task: is that task itself being cancelled (by the run)?"""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _error_text(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _resolve(fut: asyncio.Future, outcome: tuple) -> None:
    if not fut.done():
        fut.set_result(outcome)


class Run:
    """State and behaviour of one run; built by ``AsyncRunner`` after validation."""

    # Defaults live on the class: a run only stores what differs, which keeps
    # starting a run cheap (most runs never stop, fail or dispatch reentrantly).
    status: RunStatus | None = None  # decided once, under the runner's lock
    error: BaseException | None = None
    stop_info: Any = None
    forced = False
    result: RunResult | None = None
    usage: dict | None = None
    done: asyncio.Future | None = None  # set for iter() runs: RunHandle.result waits on it
    _released = False
    _stop_flag = False  # read by ctx.stop_requested from any thread
    _closed = False  # ctx.stream() does nothing once set
    _stop_requested = False
    _stop_emitted = False
    _started = False
    _deadline: float | None = None
    _deadline_handle: asyncio.TimerHandle | None = None
    _forcing = False
    _cancel_issued = False
    _current: Any = ()
    _outstanding = 0
    _all_done: asyncio.Future | None = None
    _seq = 0
    _dispatching = False
    _pending: deque | None = None
    _aq: deque | None = None
    _aq_wait: asyncio.Future | None = None
    _drain_task: asyncio.Task | None = None
    _wake_scheduled = False
    _task: asyncio.Task | None = None

    def __init__(
        self,
        runner: Any,
        graph: Any,
        inputs: dict[str, Any],
        *,
        workflow_id: str,
        run_id: str,
        select: tuple[str, ...] | None,
        max_iterations: int,
        hooks: HookTable,
        sink: Any = None,
    ) -> None:
        self.runner = runner
        self.graph = graph
        self.plan = graph._plan
        self.workflow_id = workflow_id
        self.run_id = run_id
        self.select = select
        self.max_iterations = max_iterations
        self.state = ReadyState(self.plan, {**graph._bound, **inputs} if graph._bound else inputs)
        live = not hooks.empty or sink is not None
        self._live_sinks = live
        self.span = new_span_id() if live else None
        self._hooks = hooks.by_class
        self._chunk_hooks = hooks.by_class[StreamingChunkEvent]
        self._sync_procs = hooks.sync_procs
        self._async_procs = hooks.async_procs
        self._sink = sink
        if hooks.async_procs:
            self._aq = deque()
        self._handover: deque = deque()
        self._loop = loop = asyncio.get_running_loop()
        self._loop_tid = get_ident()
        if sink is not None:
            self.done = loop.create_future()

    # --- event dispatch (loop thread) -------------------------------------------

    def _emit(self, cls: type, ts: float, span: str, parent: str | None, own: tuple) -> None:
        if self._dispatching:  # emitted from inside a processor: goes after the current one
            self._defer((cls, ts, span, parent, own))
            return
        self._dispatching = True
        try:
            self._deliver(cls, ts, span, parent, own)
            pending = self._pending
            while pending:
                self._deliver(*pending.popleft())
        finally:
            self._dispatching = False

    def _deliver(self, cls: type, ts: float, span: str, parent: str | None, own: tuple) -> None:
        self._seq = seq = self._seq + 1
        ev = FAST[cls](self.run_id, self.workflow_id, seq, ts, span, parent, *own)
        for hook in self._hooks[cls]:
            try:
                hook(ev)
            except _PROCESSOR_ERRORS:
                log_processor_error(hook, ev)
        if self._aq is not None:
            self._queue_async(ev)
        if self._sink is not None:
            self._sink.push(ev)

    def _emit_chunk(self, ctx: NodeContext, chunk: Any, ts: float) -> None:
        """The hot path: one chunk, dispatched synchronously on the loop thread.

        This repeats ``_deliver`` inline on purpose: calling it (class lookup in
        FAST, tuple packing and ``*own`` unpacking) measured ~0.3 us more per
        chunk (1.2 us against 0.87 us in bench_runtime.py). Keep the two in step.
        """
        if self._dispatching:
            self._defer((StreamingChunkEvent, ts, ctx._span, self.span, (ctx._name, chunk, 1)))
            return
        self._dispatching = True
        try:
            self._seq = seq = self._seq + 1
            ev = _make_chunk(
                self.run_id, self.workflow_id, seq, ts, ctx._span, self.span, ctx._name, chunk, 1
            )
            for hook in self._chunk_hooks:
                try:
                    hook(ev)
                except _PROCESSOR_ERRORS:
                    log_processor_error(hook, ev)
            if self._aq is not None:
                self._queue_async(ev)
            if self._sink is not None:
                self._sink.push(ev)
            pending = self._pending
            while pending:
                self._deliver(*pending.popleft())
        finally:
            self._dispatching = False

    def _defer(self, item: tuple) -> None:
        if self._pending is None:
            self._pending = deque()
        self._pending.append(item)

    def _emit_run(self, cls: type, *own: Any) -> None:
        if self._live_sinks:
            self._emit(cls, time(), self.span, None, own)

    def _emit_node(self, ctx: NodeContext, cls: type, *own: Any) -> None:
        if self._live_sinks:
            self._emit(cls, time(), ctx._span, self.span, own)

    def _queue_async(self, ev: Any) -> None:
        self._aq.append(ev)
        waiter = self._aq_wait
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _drain_async(self) -> None:
        """Feed async processors in order; ends after RunEndEvent and their shutdown."""
        aq = self._aq
        procs = self._async_procs
        while True:
            while aq:
                ev = aq.popleft()
                for proc in procs:
                    try:
                        await proc.on_event_async(ev)
                    except _PROCESSOR_ERRORS:
                        if _cancelling():
                            raise
                        log_processor_error(proc.on_event_async, ev)
                if ev.__class__ is RunEndEvent:
                    for proc in procs:
                        try:
                            await proc.shutdown_async()
                        except _PROCESSOR_ERRORS:
                            if _cancelling():
                                raise
                            log_processor_error(proc.shutdown_async, ev)
                    return
            self._aq_wait = self._loop.create_future()
            await self._aq_wait
            self._aq_wait = None

    # --- chunks from other threads ----------------------------------------------------

    def _hand_over(self, ctx: NodeContext, chunk: Any, ts: float) -> None:
        """Any thread: queue a chunk; wake the loop only if no wake-up is pending."""
        self._handover.append((ctx, chunk, ts))
        if not self._wake_scheduled:
            self._wake_scheduled = True
            try:
                self._loop.call_soon_threadsafe(self._drain_handover)
            except RuntimeError:  # the loop is closed: the run is long gone
                pass

    def _drain_handover(self) -> None:
        self._wake_scheduled = False  # clear first: a chunk appended from now on re-wakes
        dq = self._handover
        # Only the chunks waiting now: a thread streaming as fast as the loop dispatches
        # would otherwise keep this loop going forever and starve every other task (the
        # chunks appended meanwhile have scheduled the next call).
        for _ in range(len(dq)):
            ctx, chunk, ts = dq.popleft()
            if ctx._quiet or self._closed:
                continue
            self._emit_chunk(ctx, chunk, ts)

    # --- stop ---------------------------------------------------------------------

    def accept_stop(self, info: Any, grace: float | None) -> tuple[bool, bool, bool]:
        """Runner lock held. Returns (accepted, first request, deadline moved closer)."""
        if self._released:
            return False, False, False
        first = False
        if self.status is None:
            self.status = _STOPPED
            self.stop_info = info
            self._stop_requested = True
            self._stop_flag = True
            first = True
        elif self.status is not _STOPPED:
            return False, False, False
        closer = False
        if grace is not None:
            deadline = monotonic() + max(0.0, float(grace))
            if self._deadline is None or deadline < self._deadline:
                self._deadline = deadline
                closer = True
        return True, first, closer

    def after_stop(self, first: bool, closer: bool) -> None:
        """Any thread, after ``accept_stop``: run step 2 and the deadline on the loop."""
        if get_ident() == self._loop_tid:
            if first:
                self._stop_step2()
            if closer:
                self._arm_deadline()
            return
        try:
            if first:
                self._loop.call_soon_threadsafe(self._stop_step2)
            if closer:
                self._loop.call_soon_threadsafe(self._arm_deadline)
        except RuntimeError:
            pass

    def _stop_step2(self) -> None:
        """Loop thread: hand over pending chunks, emit StopRequestedEvent, go quiet."""
        if self._stop_emitted or not self._started or self.result is not None:
            return
        if not self._stop_requested:
            return
        self._stop_emitted = True
        self._drain_handover()
        self._emit_run(StopRequestedEvent, self.stop_info)
        self._closed = True

    def force_after(self, grace: float) -> None:
        """Loop thread: cancel/abandon the nodes still running after ``grace`` seconds,
        whatever the status (an ``iter()`` block left while a FAILED run's sibling
        ignores the cooperative stop must not wait for it forever)."""
        deadline = monotonic() + grace
        if self._deadline is None or deadline < self._deadline:
            self._deadline = deadline
            self._arm_deadline()

    def _arm_deadline(self) -> None:
        if self.result is not None or self._deadline is None:
            return
        if self._deadline_handle is not None:
            self._deadline_handle.cancel()
        delay = max(0.0, self._deadline - monotonic())
        self._deadline_handle = self._loop.call_later(delay, self._on_deadline)

    def _on_deadline(self) -> None:
        """The grace ran out: cancel async nodes, abandon sync ones."""
        self._deadline_handle = None
        running = [c for c in self._current if c._outcome == 0 and not c._cancelled]
        if not running:
            return
        self.forced = True
        self._forcing = True
        for ctx in running:
            ctx._cancelled = True
            if ctx._task is not None:
                ctx._task.cancel()
            elif ctx._future is not None:
                ctx._future.cancel()
            elif self._task is not None and not self._cancel_issued:
                self._cancel_issued = True
                self._task.cancel()

    def _swallow_cancel(self) -> bool:
        """After a node's CancelledError in the run's own task: ours (grace) or external?"""
        task = self._task
        if self._cancel_issued:
            self._cancel_issued = False
            if task is not None:
                task.uncancel()
        if not self._forcing:
            return False
        return task is None or task.cancelling() == 0

    # --- status -------------------------------------------------------------------

    def _decide_failed(self, exc: BaseException) -> None:
        with self.runner._lock:
            if self.status is None:
                self.status = _FAILED
                self.error = exc
        # Siblings are asked to stop, quietly: no StopRequestedEvent, no stop_info.
        self._stop_flag = True
        self._closed = True

    # --- the run ------------------------------------------------------------------------

    async def main(self) -> RunResult:
        """Run to the end; return the result (re-raise CancelledError when cancelled)."""
        self._task = asyncio.current_task()
        self._t0 = perf_counter()
        if self._aq is not None:
            self._drain_task = self._loop.create_task(self._drain_async())
        self._started = True
        self._emit_run(RunStartEvent, self.graph.name)
        if self._stop_requested:
            self._stop_step2()
        cancel: BaseException | None = None
        try:
            await self._supersteps()
        except asyncio.CancelledError as exc:
            cancel = exc
        except Exception as exc:  # a bug in the runtime itself: fail the run, loudly
            logger.exception("hypergraph runtime error in run %s", self.run_id)
            self._decide_failed(exc)
        except BaseException as exc:  # KeyboardInterrupt / SystemExit: end the run, let it through
            self._decide_failed(exc)
            await self._finish(True)
            raise
        result = await self._finish(cancel is not None)
        if cancel is not None:
            raise cancel
        return result

    async def _supersteps(self) -> None:
        plan = self.plan
        if plan.levels is not None:  # a DAG without gates: the supersteps are fixed
            for step, level in enumerate(plan.levels):
                if self._stop_flag:
                    return
                self._emit_run(SuperstepStartEvent, step)
                await self._superstep(level)
            return
        state = self.state
        step = 0
        while not self._stop_flag:
            ready = state.ready()
            if not ready:
                return
            if self._too_many(ready):
                return
            self._emit_run(SuperstepStartEvent, step)
            await self._superstep(ready)
            step += 1

    def _too_many(self, ready: list[int]) -> bool:
        limit = self.max_iterations
        ran = self.state.ran
        over = [self.plan.names[i] for i in ready if ran[i] >= limit]
        if not over:
            return False
        self._decide_failed(
            InfiniteLoopError(
                how_to_fix(
                    f"node(s) {over} would run a {limit + 1}th time, over max_iterations={limit}",
                    "make a @route gate return END when the loop is done, or pass a higher "
                    "max_iterations=... to run()/iter()",
                )
            )
        )
        return True

    async def _superstep(self, ready: Any) -> None:
        plan = self.plan
        if len(ready) == 1:  # the common case: await the node directly, no task
            i = ready[0]
            ctx = self._start(i)
            self._current = [ctx]
            if plan.is_gate[i]:
                self._run_gate(ctx)
            elif plan.is_async[i]:
                try:
                    value = await ctx._node.func(**ctx._kwargs)
                except asyncio.CancelledError:
                    self._node_cancelled(ctx)
                    if not self._swallow_cancel():
                        raise
                except Exception as exc:
                    self._node_failed(ctx, exc)
                else:
                    if ctx._cancelled:  # the node swallowed our cancellation
                        self._node_cancelled(ctx)
                        self._swallow_cancel()
                    else:
                        self._node_returned(ctx, value)
            else:
                await self._exec_sync(ctx, True)
            self._commit(self._current)
            self._current = ()
            return
        started: list[NodeContext] = []
        self._current = started
        self._outstanding = 0
        loop = self._loop
        for i in ready:
            if self._stop_flag:
                break
            ctx = self._start(i)
            started.append(ctx)
            if plan.is_gate[i]:
                self._run_gate(ctx)
                continue
            self._outstanding += 1
            coro = self._exec_async(ctx, False) if plan.is_async[i] else self._exec_sync(ctx, False)
            ctx._task = loop.create_task(coro)
        if self._outstanding:
            self._all_done = loop.create_future()
            try:
                await self._all_done
            except asyncio.CancelledError:
                await self._cancel_tasks(started)
                raise
        self._commit(started)
        self._current = ()

    async def _cancel_tasks(self, started: list[NodeContext]) -> None:
        tasks = [c._task for c in started if c._task is not None and not c._task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=1.0)
            for task in pending:
                logger.warning("node task %r ignored cancellation; abandoning it", task)

    def _exec_finished(self) -> None:
        self._outstanding -= 1
        if self._outstanding == 0 and self._all_done is not None and not self._all_done.done():
            self._all_done.set_result(None)

    # --- node executions ------------------------------------------------------------------

    def _start(self, i: int) -> NodeContext:
        plan = self.plan
        node = plan.nodes[i]
        # Span ids are only visible in events: skip them when nobody listens.
        ctx = NodeContext(self, node, i, new_span_id() if self._live_sinks else None)
        values = self.state.values
        kwargs = {}
        for param, name in plan.params[i]:
            if name in values:
                kwargs[param] = values[name]
            else:
                kwargs[param] = node.defaults[name]
        if plan.cycle_of[i] >= 0:
            read = self.state.read[i]
            ver = self.state.ver
            for _, name in plan.params[i]:
                read[name] = ver.get(name, 0)
        if node.ctx_param is not None:
            kwargs[node.ctx_param] = ctx
        ctx._kwargs = kwargs
        self.state.start(i)
        self._emit_node(ctx, NodeStartEvent, ctx._name)
        ctx._t0 = perf_counter()
        return ctx

    async def _exec_async(self, ctx: NodeContext, direct: bool) -> None:
        try:
            value = await ctx._node.func(**ctx._kwargs)
        except asyncio.CancelledError:
            self._node_cancelled(ctx)
            if direct and not self._swallow_cancel():
                raise
        except Exception as exc:
            self._node_failed(ctx, exc)
        else:
            if ctx._cancelled:  # the node swallowed our cancellation
                self._node_cancelled(ctx)
                if direct:
                    self._swallow_cancel()
            else:
                self._node_returned(ctx, value)
        finally:
            if not direct:
                self._exec_finished()

    async def _exec_sync(self, ctx: NodeContext, direct: bool) -> None:
        fut = self._loop.create_future()
        ctx._future = fut
        self.runner._workers().submit(partial(self._thread_job, ctx, fut))
        try:
            ok, value = await fut
        except asyncio.CancelledError:
            ctx._cancelled = True  # abandon the thread: its late result is discarded
            self._node_cancelled(ctx)
            if direct and not self._swallow_cancel():
                raise
        else:
            if ok:
                self._node_returned(ctx, value)
            else:
                self._node_failed(ctx, value)
        finally:
            if not direct:
                self._exec_finished()

    def _thread_job(self, ctx: NodeContext, fut: asyncio.Future) -> Any:
        """Worker thread: call the sync node; return how to hand the outcome to the loop."""
        try:
            outcome = (True, ctx._node.func(**ctx._kwargs))
        except BaseException as exc:  # noqa: BLE001 - reported as the node's error
            outcome = (False, exc)
        if ctx._cancelled:
            return None
        return partial(self._deliver_outcome, fut, outcome)

    def _deliver_outcome(self, fut: asyncio.Future, outcome: tuple) -> None:
        try:
            self._loop.call_soon_threadsafe(_resolve, fut, outcome)
        except RuntimeError:  # the loop is closed: the run is long gone
            pass

    def _run_gate(self, ctx: NodeContext) -> None:
        gate = ctx._node
        try:
            value = gate.func(**ctx._kwargs)
        except Exception as exc:
            self._node_failed(ctx, exc)
            return
        if value is None:
            decision = gate.fallback
        elif value is END or (isinstance(value, str) and value in gate.targets):
            decision = value
        else:
            allowed = list(gate.targets)
            fix = (
                "return the END object (`from hypergraph import END`), not the string 'END'"
                if isinstance(value, str) and value == "END"
                else f"return one of {allowed} (or None), or add {value!r} to @route(targets=[...])"
            )
            self._node_failed(
                ctx,
                InvalidRouteError(
                    how_to_fix(
                        f"gate {gate.name!r} returned {value!r}, which is not one of its "
                        f"targets {allowed}",
                        fix,
                    )
                ),
            )
            return
        g = ctx._index
        if decision is None or decision is END:
            self.state.decision[g] = None
        else:
            self.state.decision[g] = self.plan.names.index(decision)
        self._emit_node(ctx, RouteDecisionEvent, ctx._name, decision)
        self._node_returned(ctx, None)

    def _node_returned(self, ctx: NodeContext, value: Any) -> None:
        node = ctx._node
        if node.unpack:
            n = len(node.outputs)
            if not isinstance(value, tuple) or len(value) != n:
                got = (
                    f"a tuple of {len(value)}"
                    if isinstance(value, tuple)
                    else f"a {type(value).__name__}, not a tuple"
                )
                self._node_failed(
                    ctx,
                    NodeOutputError(
                        how_to_fix(
                            f"node {node.name!r} declares {n} outputs {node.outputs} but "
                            f"returned {got}",
                            f"return a tuple of {n} values in that order, or change output_name",
                        )
                    ),
                )
                return
        if self._handover:
            self._drain_handover()
        self._ended(ctx, 1)
        ctx._value = value
        usage = ctx._usage
        if usage:
            self._add_usage(usage)
        if self._live_sinks:
            self._emit_node(
                ctx,
                NodeEndEvent,
                ctx._name,
                (perf_counter() - ctx._t0) * 1000.0,
                dict(usage) if usage else {},
            )

    @staticmethod
    def _ended(ctx: NodeContext, outcome: int) -> None:
        """The execution is over: its context goes quiet and lets go of the node's
        arguments, which hold the context itself. Kept, that cycle would leave the whole
        run (its events' processors, the stream, the RPC) to the garbage collector
        instead of being freed the moment the run is done."""
        ctx._quiet = True
        ctx._outcome = outcome
        ctx._kwargs = None

    def _add_usage(self, usage: dict) -> None:
        if self.usage is None:
            self.usage = {}
        merge_usage(self.usage, usage)

    def _node_failed(self, ctx: NodeContext, exc: BaseException) -> None:
        if self._handover:
            self._drain_handover()
        self._ended(ctx, 2)
        if ctx._usage:
            self._add_usage(ctx._usage)
        self._emit_node(ctx, NodeErrorEvent, ctx._name, _error_text(exc), error_type_name(exc))
        self._decide_failed(exc)

    def _node_cancelled(self, ctx: NodeContext) -> None:
        if ctx._outcome:
            return
        if self._handover:
            self._drain_handover()
        self._ended(ctx, 3)
        why = "the grace ran out" if self._forcing else "the run was cancelled"
        self._emit_node(ctx, NodeErrorEvent, ctx._name, f"node cancelled: {why}", _CANCELLED_TYPE)

    def _commit(self, ctxs: list[NodeContext]) -> None:
        """Write the outputs of the executions that returned, in list order."""
        state = self.state
        for ctx in ctxs:
            if ctx._outcome != 1:
                continue
            node = ctx._node
            outputs = node.outputs
            if not outputs:
                continue
            i = ctx._index
            if node.unpack:
                for name, value in zip(outputs, ctx._value, strict=True):
                    state.write(i, name, value)
            else:
                state.write(i, outputs[0], ctx._value)
            if self.plan.self_inputs[i]:
                state.after_writes(i)

    # --- the end --------------------------------------------------------------------------

    async def _finish(self, cancelled: bool) -> RunResult:
        runner = self.runner
        with runner._lock:
            if self.status is None:
                self.status = _STOPPED if cancelled else _COMPLETED
            if cancelled:
                self.forced = True
            self._released = True
            if runner._live.get(self.workflow_id) is self:
                del runner._live[self.workflow_id]
        if self.status is _STOPPED and self._stop_requested and not self._stop_emitted:
            self._stop_step2()
        self._stop_flag = True
        self._closed = True
        if self._deadline_handle is not None:
            self._deadline_handle.cancel()
            self._deadline_handle = None
        result = self._make_result()
        self.result = result
        try:
            if self._live_sinks:
                await self._emit_end(result, cancelled)
        finally:
            # Even when cancelled while waiting for async processors, whoever waits
            # on this run (RunHandle.result, the iter() consumer) gets the end.
            self._live_sinks = False
            if self.done is not None and not self.done.done():
                self.done.set_result(result)
            if self._sink is not None and not self._sink.ended:
                self._sink.ended = True
                self._sink._wake()
        return result

    def end_unstarted(self, task: asyncio.Task) -> None:
        """Done callback of an ``iter()`` run task: a task cancelled before ``main`` ran
        a line never emitted an event; end it STOPPED and forced, and free its id."""
        if self._started or self.result is not None or not task.cancelled():
            return
        runner = self.runner
        with runner._lock:
            if self.status is None:
                self.status = _STOPPED
            self.forced = True
            self._released = True
            if runner._live.get(self.workflow_id) is self:
                del runner._live[self.workflow_id]
        self._stop_flag = True
        self._closed = True
        self._live_sinks = False
        if self._deadline_handle is not None:
            self._deadline_handle.cancel()
            self._deadline_handle = None
        self.result = result = self._make_result()
        if self.done is not None and not self.done.done():
            self.done.set_result(result)
        if self._sink is not None and not self._sink.ended:
            self._sink.ended = True
            self._sink._wake()

    def _make_result(self) -> RunResult:
        values = self.state.values
        names = self.select if self.select is not None else self.graph._outputs
        failed = self.status is _FAILED
        return RunResult(
            values={k: values[k] for k in names if k in values},
            status=self.status,
            workflow_id=self.workflow_id,
            run_id=self.run_id,
            error=self.error if failed else None,
            stop_info=self.stop_info,
            forced=self.forced,
            usage=dict(self.usage) if self.usage else {},
        )

    async def _emit_end(self, result: RunResult, cancelled: bool) -> None:
        """RunEndEvent to every processor, their shutdown, then to the iter() consumer."""
        self._seq = seq = self._seq + 1
        error = _error_text(result.error) if result.error is not None else None
        ev = FAST[RunEndEvent](
            self.run_id,
            self.workflow_id,
            seq,
            time(),
            self.span,
            None,
            result.status,
            error,
            (perf_counter() - self._t0) * 1000.0,
            result,
        )
        for hook in self._hooks[RunEndEvent]:
            try:
                hook(ev)
            except _PROCESSOR_ERRORS:
                log_processor_error(hook, ev)
        for proc in self._sync_procs:
            try:
                proc.shutdown()
            except _PROCESSOR_ERRORS:
                log_processor_error(proc.shutdown, ev)
        if self._aq is not None:
            self._queue_async(ev)
            await self._wait_async_processors(cancelled)
        if self._sink is not None:
            self._sink.push_end(ev)

    async def _wait_async_processors(self, cancelled: bool) -> None:
        task = self._drain_task
        if task is None:
            return
        if not cancelled:
            await task
            return
        _, pending = await asyncio.wait({task}, timeout=_ASYNC_PROCESSOR_WAIT_ON_CANCEL)
        if pending:
            task.cancel()
