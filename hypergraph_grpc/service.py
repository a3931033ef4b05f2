"""The RunnerService servicer: validates requests, starts runs, streams, stops.

One AsyncRunner serves every run. Each run is a task of its own (so a client
that goes away never cancels it by accident: the service stops it with a
reason instead), claimed in the :mod:`coordination` under its workflow id.
Every exception becomes a status in :mod:`errors`; every protobuf comes from
:mod:`convert`; stream delivery is :mod:`streams`. Calls reach it already
authenticated and allowed (:mod:`auth`'s interceptor, installed by :mod:`server`).
"""

from __future__ import annotations

import asyncio
import base64
import difflib
import itertools
import json
import logging
import re
import reprlib
import secrets
import time
from collections.abc import Iterator
from typing import Any

import grpc

from hypergraph import TypedEventProcessor
from hypergraph_grpc import convert, coordination, errors, streams
from hypergraph_grpc.admission import Admission
from hypergraph_grpc.capabilities import (
    CAPABILITY_SCOPES,
    DEFAULT_TTL_S,
    MAX_TTL_S,
    CapabilityKeyError,
    CapabilityKeys,
)
from hypergraph_grpc.config import ServiceConfig
from hypergraph_grpc.coordination import Coordination, LiveRun
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2_grpc as pb_grpc
from hypergraph_grpc.registry import GraphRegistry, check_value

__all__ = [
    "ECHO_METADATA_KEY",
    "RunnerService",
    "SERVICE_NAME",
    "add_to_server",
    "echo_metadata",
    "new_workflow_id",
]

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["RunnerService"].full_name
# Initial metadata with this key is sent back as initial and trailing metadata
# (interop-style custom_metadata check; also handy to correlate calls).
ECHO_METADATA_KEY = "x-hypergraph-echo"

log = logging.getLogger("hypergraph_grpc.service")

# How close to its deadline a cancelled call counts as "deadline_exceeded" (seconds).
_DEADLINE_SLACK_S = 0.5

# Bounds on StreamOptions (docs/protocol.md, "StreamOptions").
MAX_QUEUED_EVENTS = 65536
MIN_CHUNK_BYTES = 256
MAX_CHUNK_BYTES = 1 << 20

# Stop info travels in every watcher's StopRequested and RunEnded: keep it small enough
# for any client's default 4 MiB receive limit, and for one log line.
MAX_STOP_INFO_BYTES = 64 * 1024

# ListRuns paging.
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
_MAX_PAGE_TOKEN = 1024

# google.protobuf.Duration's documented range: about 10,000 years.
_MAX_DURATION_S = 315_576_000_000
_VIEWS = frozenset(pb.EventView.values())
_WORKFLOW_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class _Prepared:
    """A validated RunRequest/IterRequest."""

    __slots__ = ("name", "graph", "values", "workflow_id", "select", "max_iterations")

    def __init__(self, name, graph, values, workflow_id, select, max_iterations):
        self.name = name
        self.graph = graph
        self.values = values
        self.workflow_id = workflow_id
        self.select = select
        self.max_iterations = max_iterations


class RunnerService(pb_grpc.RunnerServiceServicer):
    """The servicer of ``hypergraph.v1.RunnerService``: the gRPC port calls it, and the HTTP
    port through :mod:`connect_service` with a Connect context of the same shape."""

    def __init__(
        self,
        registry: GraphRegistry,
        runner: Any,
        coordination: Coordination,
        config: ServiceConfig | None = None,
        admission: Admission | None = None,
        capabilities: CapabilityKeys | None = None,
        metrics: Any = None,
        tracing: Any = None,
    ) -> None:
        """``metrics``: a :class:`hypergraph_grpc.metrics.ServiceMetrics` (None: not counted);
        ``tracing``: a :class:`hypergraph_grpc.tracing.Tracing` (None: no spans)."""
        self._registry = registry
        # Signs the per-run tokens IterRequest.capability asks for (None: none are signed).
        self._capabilities = capabilities
        self._runner = runner
        self._coord = coordination
        self._config = config or ServiceConfig()
        self._metrics = metrics
        self._tracing = tracing
        # Whether a new run may start; its counters say how many were refused and why.
        self.admission = admission or Admission(self._config)
        self._listing = convert.graph_list(convert.graph_info(d) for d in registry.descriptions())
        self._tasks: set[asyncio.Task] = set()
        self._background: set[asyncio.Task] = set()
        self.open_streams = 0
        # Open Iter streams' sinks (for introspection: tests, metrics).
        self.sinks: set[streams.StreamSink] = set()
        self.draining = False
        # Open Watch handlers, ended UNAVAILABLE at shutdown (their clients resume elsewhere).
        self._watches: set[asyncio.Task] = set()
        self._ending_watches = False

    @property
    def open_watches(self) -> int:
        """Watch streams open now."""
        return len(self._watches)

    # --- RPCs ------------------------------------------------------------------------

    async def ListGraphs(self, request, context):
        await echo_metadata(context)
        return self._listing

    async def Run(self, request, context):
        echo = await echo_metadata(context)
        try:
            prepared = self._prepare(request)
            live = await self._claim(prepared)
            hooks = streams.RunHooks()
            self._launch(live, prepared, hooks)
        except errors.ServiceError as exc:
            await errors.abort(context, exc, graph=request.graph, extra_metadata=echo)
        task = live.task
        try:
            await asyncio.wait((task,))
        except asyncio.CancelledError:
            self._stop_for_gone_client(live, context)
            raise
        await live.wait_ended()  # the id is free before the client sees the result
        if hooks.end is not None:
            result = hooks.end.result
        elif task.cancelled() or task.exception() is not None:
            error = errors.draining() if task.cancelled() else task.exception()
            await errors.abort(
                context,
                error,
                graph=prepared.name,
                workflow_id=prepared.workflow_id,
                extra_metadata=echo,
            )
        else:
            result = task.result()
        return convert.run_response(result, error_node=hooks.error_node)

    async def Iter(self, request, context):
        echo = await echo_metadata(context)
        options = request.options
        self.open_streams += 1  # reserved before any await, so the limit holds under races
        sink = None
        try:
            try:
                if violations := _check_view(options.view):
                    raise errors.invalid_input(request.graph, violations)
                prepared = self._prepare(request)
                capability = self._sign_capability(request.capability, prepared.workflow_id)
                self.admission.check_streams(self.open_streams)
                live = await self._claim(prepared)
                sink = self._sink(prepared, options, live, capability)
                self._launch(live, prepared, sink)
            except errors.ServiceError as exc:
                await errors.abort(context, exc, graph=request.graph, extra_metadata=echo)
            await self._stream(sink, live, prepared, options, context, echo)
        finally:
            self.open_streams -= 1
            if sink is not None:
                self.sinks.discard(sink)
                if self._metrics is not None:
                    self._metrics.stream_ended(sink, prepared.name)

    async def _stream(self, sink, live, prepared, options, context, echo) -> None:
        live.task.add_done_callback(sink.task_done)
        self.sinks.add(sink)
        try:
            await streams.pump(sink, context.write, live.wait_ended)
        except streams.RunNotStarted as exc:
            await errors.abort(
                context,
                exc.error,
                graph=prepared.name,
                workflow_id=prepared.workflow_id,
                extra_metadata=echo,
            )
        except BaseException:
            # CancelledError (client cancel, disconnect, deadline) or a failed write.
            sink.close()
            if not options.detach and not sink.ended:
                self._stop_for_gone_client(live, context)
            raise

    async def Stop(self, request, context):
        echo = await echo_metadata(context)
        workflow_id = request.workflow_id
        try:
            violations = _check_workflow_id(workflow_id)
            grace = None
            if request.HasField("grace"):
                grace = _duration_seconds(request.grace)
                if grace is None:
                    violations.append(("grace", _bad_grace(request.grace)))
            if request.info.ByteSize() > MAX_STOP_INFO_BYTES:
                violations.append(("info", _info_too_large(request.info.ByteSize())))
            info = convert.struct_to_dict(request.info) if request.HasField("info") else None
            depth = max(map(convert.nesting_depth, (info or {}).values()), default=0)
            if depth > convert.MAX_VALUE_DEPTH:
                violations.append(("info", _too_deep(depth)))
            if violations:
                raise errors.invalid_input("", violations)
            outcome = await self._coord.stop(workflow_id, info, grace)
        except (errors.ServiceError, coordination.CoordinationUnavailable) as exc:
            await errors.abort(context, exc, workflow_id=workflow_id, extra_metadata=echo)
        log.info(
            "stop requested",
            extra={"workflow_id": workflow_id, "found": outcome.found, "stop_info": info},
        )
        return convert.stop_response(outcome)

    async def Watch(self, request, context):
        echo = await echo_metadata(context, send_headers=False)
        workflow_id = request.workflow_id
        self.open_streams += 1  # reserved before any await, so the limit holds under races
        try:
            try:
                violations = [
                    *_check_workflow_id(workflow_id),
                    *_check_view(request.options.view, watch=True),
                ]
                if violations:
                    raise errors.invalid_input("", violations)
                self.admission.check_streams(self.open_streams)
                feed = await self._coord.watch(workflow_id, request.after_seq)
            except (
                errors.ServiceError,
                coordination.UnknownWorkflow,
                coordination.CoordinationUnavailable,
            ) as exc:
                await errors.abort(context, exc, workflow_id=workflow_id, extra_metadata=echo)
            # The response headers say the Watch is accepted before its first event,
            # which on a quiet run may be minutes away: a client that loses the
            # connection after them knows to resume rather than give up.
            await context.send_initial_metadata(echo)
            watching = asyncio.current_task()
            self._watches.add(watching)
            try:
                async for message in feed:
                    await context.write(message)
            except coordination.CoordinationUnavailable as exc:
                # The store went away mid-stream: UNAVAILABLE, and the client resumes
                # from the last seq it got (here or on another replica).
                await errors.abort(context, exc, workflow_id=workflow_id, extra_metadata=echo)
            except asyncio.CancelledError:
                if not self._ending_watches:
                    raise
                # This replica is shutting down: UNAVAILABLE, so the client resumes on
                # another replica from the last seq it got.
                await errors.abort(
                    context, errors.draining(), workflow_id=workflow_id, extra_metadata=echo
                )
            finally:
                self._watches.discard(watching)
        finally:
            self.open_streams -= 1

    async def ListRuns(self, request, context):
        echo = await echo_metadata(context)
        try:
            page = _page(request)
            runs = await self._coord.list_runs()
        except (errors.ServiceError, coordination.CoordinationUnavailable) as exc:
            await errors.abort(context, exc, extra_metadata=echo)
        selected = [run for run in runs if not request.graph or run.graph == request.graph]
        # Oldest first; a page token is the (start time, workflow id) of the last run
        # sent, so runs that end between pages never shift the next page.
        selected.sort(key=lambda run: (run.started_at, run.workflow_id))
        if page.after is not None:
            selected = [r for r in selected if (r.started_at, r.workflow_id) > page.after]
        shown = selected[: page.size]
        token = ""
        if len(selected) > page.size:
            last = shown[-1]
            token = _page_token(request.graph, last.started_at, last.workflow_id)
        return pb.ListRunsResponse(
            runs=[convert.run_summary(run) for run in shown], next_page_token=token
        )

    # --- lifecycle ---------------------------------------------------------------------

    async def drain(self, drain_seconds: float, force: asyncio.Event | None = None) -> None:
        """Refuse new runs, let live ones finish, then stop them; every stream gets RunEnded."""
        self.draining = True
        force = force or asyncio.Event()
        live = self._coord.live_count()
        log.info("draining", extra={"live_runs": live, "drain_seconds": drain_seconds})
        await _wait_tasks(self._tasks, drain_seconds, force)
        grace = 0.0 if force.is_set() else self._config.shutdown_grace
        for run in self._coord.live_runs():
            try:
                await self._coord.stop(run.workflow_id, {"kind": "server_shutdown"}, grace)
            except Exception:  # one failing stop must not leave the other runs running
                log.exception("stop during drain failed", extra={"workflow_id": run.workflow_id})
        await _wait_tasks(self._tasks, grace + 2.0, force)
        for task in list(self._tasks):
            task.cancel()  # the runtime ends it STOPPED/forced and emits RunEnd
        await _wait_tasks(self._tasks, 2.0, None)
        self.admission.close()
        # Streams end once their RunEnded is written; give slow readers a moment.
        deadline = time.monotonic() + (1.0 if force.is_set() else 5.0)
        watches_end = time.monotonic() + 1.0
        while self.open_streams and time.monotonic() < deadline:
            if self._watches and time.monotonic() >= watches_end:
                # Watches still open follow runs of other replicas (or replay slowly):
                # they end UNAVAILABLE now and their clients resume elsewhere.
                self._ending_watches = True
                for watch in list(self._watches):
                    watch.cancel()
            await asyncio.sleep(0.02)
        log.info("drained", extra={"open_streams": self.open_streams})

    # --- helpers ------------------------------------------------------------------------

    def _prepare(self, request) -> _Prepared:
        name = request.graph
        graph = self._registry.get(name)
        if graph is None:
            raise errors.graph_not_found(name, self._registry.names())
        limit = self._config.max_request_bytes
        if limit and request.ByteSize() > limit:
            raise errors.resource_exhausted(
                "REQUEST_TOO_LARGE",
                f"the request is {request.ByteSize()} bytes, over this server's limit of "
                f"{limit} (--max-request-bytes). How to fix: send smaller values (pass large "
                "data by reference, e.g. a URL or an id) or raise --max-request-bytes.",
                limit=str(limit),
            )
        description = self._registry.description(name)
        values = convert.struct_to_dict(request.values)
        workflow_id = request.workflow_id
        violations = errors.first_violations(
            itertools.chain(
                _check_inputs(description, values),
                _check_select(description, request.select),
                _check_workflow_id(workflow_id) if workflow_id else (),
            )
        )
        if violations:
            raise errors.invalid_input(name, violations)
        return _Prepared(
            name,
            graph,
            values,
            workflow_id or new_workflow_id(),
            tuple(request.select),
            request.max_iterations or self._config.max_iterations,
        )

    def _sign_capability(self, asked, workflow_id: str) -> str:
        """The token an IterRequest.capability asks for ("" when it asks for none)."""
        if not asked.scopes:
            return ""
        violations = [
            ("capability.scopes", f"{scope!r:.40} is not a capability scope; use watch, stop")
            for scope in asked.scopes
            if scope not in CAPABILITY_SCOPES
        ]
        ttl = _duration_seconds(asked.ttl) if asked.HasField("ttl") else 0.0
        if ttl is None or ttl > MAX_TTL_S:
            violations.append(("capability.ttl", f"ttl must be from 0 to {MAX_TTL_S:g} seconds"))
        if violations:
            raise errors.invalid_input("", violations)
        if self._capabilities is None:
            raise errors.capability_unavailable("this server has no --capability-key-file")
        try:
            return self._capabilities.sign(workflow_id, asked.scopes, ttl or DEFAULT_TTL_S)
        except CapabilityKeyError as exc:
            raise errors.capability_unavailable(str(exc)) from None

    def _sink(
        self, prepared: _Prepared, options, live: LiveRun, capability: str = ""
    ) -> streams.StreamSink:
        # Client-chosen limits are clamped so no option can unbound a stream's memory.
        config = self._config
        queued = min(options.max_queued_events or config.max_queued_events, MAX_QUEUED_EVENTS)
        chunk_bytes = options.max_chunk_bytes or config.max_chunk_bytes
        chunk_bytes = min(max(chunk_bytes, MIN_CHUNK_BYTES), MAX_CHUNK_BYTES)
        # The text view's sink is not called for the node lifecycle at all.
        text_view = options.view == pb.EVENT_VIEW_TEXT
        sink_class = streams.TextStreamSink if text_view else streams.StreamSink
        return sink_class(
            convert.EventEncoder(prepared.name, prepared.workflow_id, capability),
            on_overflow=lambda: self._runner.stop(
                live.workflow_id, info={"kind": "slow_consumer"}, grace=config.cancel_grace
            ),
            max_queued_events=queued,
            max_chunk_bytes=chunk_bytes,
            merge=not options.disable_merge,
            hard_cap=queued * config.unmerged_queue_factor,
            on_write_delay=None if self._metrics is None else self._metrics.write_delay.observe,
        )

    async def _claim(self, prepared: _Prepared) -> LiveRun:
        """Claim the workflow id for a new run (raises ServiceError)."""
        if self.draining:
            raise errors.draining()
        self.admission.check_start(self._coord.live_count())
        try:
            live = await self._coord.claim(prepared.workflow_id, prepared.name)
        except coordination.WorkflowBusy as exc:
            raise errors.already_running(exc.workflow_id, exc.owner) from None
        except coordination.TenantRunsFull as exc:
            raise errors.tenant_quota(
                exc.tenant, "live runs", exc.used, exc.limit, where="in the cluster"
            ) from None
        except coordination.CoordinationUnavailable as exc:
            raise errors.coordination_unavailable(str(exc), exc.retry_after_s) from None
        return live

    def _launch(self, live: LiveRun, prepared: _Prepared, processor) -> None:
        """Start the run task of a claimed workflow id.

        The coordination's recorder goes first among the run's processors: at
        RunEndEvent it starts releasing the id, and streams write RunEnded only after
        that (so a client reusing the id right after RunEnded, a chat turn after
        turn, never races)."""
        tracer = None
        if self._tracing is not None:
            tracer = self._tracing.run_tracer(prepared.name, prepared.workflow_id)
        log_fields = {"workflow_id": live.workflow_id, "graph": prepared.name}
        if tracer is not None:
            log_fields.update(tracer.log_fields())
        processors = [self._coord.recorder(live, prepared.name)]
        # One INFO line per run ("run ended", with its outcome); at thousands of starts a
        # second never-read line per run was a tenth of a short stream's server time.
        if log.isEnabledFor(logging.DEBUG):
            processors.append(_RunLog(log_fields))
        if self._metrics is not None:
            processors.append(self._metrics.run_processor(prepared.name))
        if tracer is not None:
            processors.append(tracer)
        processors.append(processor)
        task = asyncio.get_running_loop().create_task(
            self._execute(live, prepared, processors, log_fields, tracer)
        )
        live.task = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _execute(
        self, live: LiveRun, prepared: _Prepared, processors: list, fields: dict, tracer: Any
    ) -> Any:
        started = time.monotonic()
        outcome = "error"
        try:
            result = await self._runner.run(
                prepared.graph,
                prepared.values,
                workflow_id=live.workflow_id,
                select=prepared.select or None,
                max_iterations=prepared.max_iterations,
                event_processors=processors,
                error_handling="continue",
            )
            outcome = result.status.name
            return result
        except asyncio.CancelledError:
            outcome = "CANCELLED"
            raise
        except Exception as exc:
            outcome = f"rejected: {type(exc).__name__}"
            raise
        finally:
            await live.wait_ended()
            await self._coord.release(live)  # a run refused before its RunStartEvent
            if tracer is not None:
                tracer.finish(outcome)
            if outcome.startswith("rejected") and self._metrics is not None:
                self._metrics.runs_ended.labels(prepared.name, "rejected").inc()
            log.info(
                "run ended",
                extra={
                    **fields,
                    "run_id": live.run_id,
                    "status": outcome,
                    "duration_ms": round((time.monotonic() - started) * 1000, 3),
                },
            )

    def _stop_for_gone_client(self, live: LiveRun, context) -> None:
        remaining = context.time_remaining()
        # The client's deadline fires before ours (ours starts when the request arrives,
        # later under load), so a cancel this close to the deadline is the deadline.
        near_deadline = remaining is not None and remaining <= _DEADLINE_SLACK_S
        kind = "deadline_exceeded" if near_deadline else "client_cancelled"
        task = asyncio.ensure_future(
            self._coord.stop(live.workflow_id, {"kind": kind}, self._config.cancel_grace)
        )
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        log.info(
            "client gone, stopping run", extra={"workflow_id": live.workflow_id, "reason": kind}
        )


class _RunLog(TypedEventProcessor):
    """Logs "run started" (DEBUG) once the run has its run id (every line about a run
    names both)."""

    def __init__(self, fields: dict) -> None:
        self._fields = fields

    def on_run_start(self, event: Any) -> None:
        log.debug("run started", extra={**self._fields, "run_id": event.run_id})


async def echo_metadata(
    context: grpc.aio.ServicerContext, *, send_headers: bool = True
) -> tuple[tuple[str, str], ...]:
    """Send ``x-hypergraph-echo`` back as initial and trailing metadata; returns the pair
    (empty when the call has none) for the trailers of an error status. With
    ``send_headers=False`` the caller sends the headers itself (Watch: once accepted)."""
    for key, value in context.invocation_metadata() or ():
        if key == ECHO_METADATA_KEY:
            echo = ((key, value),)
            if send_headers:
                await context.send_initial_metadata(echo)
            context.set_trailing_metadata(echo)
            return echo
    return ()


def add_to_server(service: RunnerService, server) -> None:
    """Register the servicer like the generated ``add_RunnerServiceServicer_to_server``,
    except that the streaming methods' serializer lets pre-serialized chunks through
    (``convert.EventEncoder.chunk_wire``)."""
    handlers = {
        "ListGraphs": grpc.unary_unary_rpc_method_handler(
            service.ListGraphs,
            request_deserializer=pb.ListGraphsRequest.FromString,
            response_serializer=pb.ListGraphsResponse.SerializeToString,
        ),
        "Run": grpc.unary_unary_rpc_method_handler(
            service.Run,
            request_deserializer=pb.RunRequest.FromString,
            response_serializer=pb.RunResponse.SerializeToString,
        ),
        "Iter": grpc.unary_stream_rpc_method_handler(
            service.Iter,
            request_deserializer=pb.IterRequest.FromString,
            response_serializer=convert.serialize_event,
        ),
        "Stop": grpc.unary_unary_rpc_method_handler(
            service.Stop,
            request_deserializer=pb.StopRequest.FromString,
            response_serializer=pb.StopResponse.SerializeToString,
        ),
        "Watch": grpc.unary_stream_rpc_method_handler(
            service.Watch,
            request_deserializer=pb.WatchRequest.FromString,
            response_serializer=convert.serialize_event,
        ),
        "ListRuns": grpc.unary_unary_rpc_method_handler(
            service.ListRuns,
            request_deserializer=pb.ListRunsRequest.FromString,
            response_serializer=pb.ListRunsResponse.SerializeToString,
        ),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))
    server.add_registered_method_handlers(SERVICE_NAME, handlers)


def _check_inputs(description, values: dict) -> Iterator[tuple[str, str]]:
    """The inputs' violations, lazily: the caller reads only the first few."""
    known = {item.name: item for item in description.inputs}
    for item in description.inputs:
        if item.required and item.name not in values:
            kind = f" ({item.type})" if item.type else ""
            yield (
                f"values.{item.name}",
                f"required input {item.name!r}{kind} is missing; graph {description.name!r} "
                f"needs {', '.join(i.name for i in description.inputs if i.required)}",
            )
    for key, value in values.items():
        item = known.get(key)
        if item is None:
            yield (
                f"values.{key}",
                f"{key!r:.80} is not an input of graph {description.name!r}; inputs: "
                f"{', '.join(known) or '(none)'}{_close(key, known)}",
            )
        elif (depth := convert.nesting_depth(value)) > convert.MAX_VALUE_DEPTH:
            yield (f"values.{key}", _too_deep(depth))
        elif not check_value(value, item.annotation):
            yield (
                f"values.{key}",
                f"input {key!r} expects {item.type}, got {type(value).__name__} "
                f"{reprlib.repr(value)}",
            )


def new_workflow_id() -> str:
    """The id of a run whose request left workflow_id empty."""
    return f"wf-{secrets.token_hex(6)}"


def _check_select(description, select) -> Iterator[tuple[str, str]]:
    outputs = description.output_names
    for output in select:
        if output not in outputs:
            yield (
                "select",
                f"{output!r:.80} is not an output of graph {description.name!r}; outputs: "
                f"{', '.join(sorted(outputs)) or '(none)'}{_close(output, outputs)}",
            )


def _check_workflow_id(workflow_id: str) -> list[tuple[str, str]]:
    if _WORKFLOW_ID.fullmatch(workflow_id):
        return []
    return [("workflow_id", _bad_workflow_id(workflow_id))]


def _check_view(view: int, *, watch: bool = False) -> list[tuple[str, str]] | tuple[()]:
    if view not in _VIEWS:
        return [
            (
                "options.view",
                f"unknown EventView {view}; use EVENT_VIEW_FULL (or leave it unset) for every "
                "event, or EVENT_VIEW_TEXT for text, node failures, stops and the end",
            )
        ]
    if watch and view == pb.EVENT_VIEW_TEXT:
        return [
            (
                "options.view",
                "Watch sends every event; EVENT_VIEW_TEXT applies to Iter. Leave it unset "
                "and skip the events you do not need",
            )
        ]
    return ()  # shared: no list kept alive per open stream


def _duration_seconds(grace) -> float | None:
    """A Duration (Stop grace, capability ttl) in seconds; None when it is negative or
    outside a Duration's range."""
    if not (0 <= grace.seconds <= _MAX_DURATION_S and 0 <= grace.nanos <= 999_999_999):
        return None
    return grace.seconds + grace.nanos / 1e9


def _bad_grace(grace) -> str:
    return (
        f"grace must be from 0 to {_MAX_DURATION_S} seconds (a valid, non-negative "
        f"google.protobuf.Duration), got seconds={grace.seconds} nanos={grace.nanos}"
    )


def _info_too_large(size: int) -> str:
    return (
        f"info is {size} bytes; at most {MAX_STOP_INFO_BYTES} are accepted (it is sent in "
        "every watcher's StopRequested and RunEnded): keep it to a reason and a few fields"
    )


def _too_deep(depth: int) -> str:
    return (
        f"objects and arrays are nested {depth} deep; at most {convert.MAX_VALUE_DEPTH} are "
        "accepted, so that every client can read the value back in its RunEnded"
    )


def _close(name: str, names) -> str:
    match = difflib.get_close_matches(name, list(names), n=1)
    return f" (did you mean {match[0]!r}?)" if match else ""


class _Page:
    __slots__ = ("size", "after")

    def __init__(self, size: int, after: tuple[float, str] | None) -> None:
        self.size = size
        self.after = after


def _page(request) -> _Page:
    """ListRuns paging (AIP-158): page_size and the page_token of the previous page."""
    violations = []
    size = request.page_size or DEFAULT_PAGE_SIZE
    if size < 0:
        violations.append(("page_size", f"page_size must not be negative, got {size}"))
    size = min(size, MAX_PAGE_SIZE)
    after = None
    if request.page_token:
        after = _read_page_token(request.page_token, request.graph)
        if after is None:
            violations.append(
                (
                    "page_token",
                    "not a next_page_token of a ListRuns call with the same graph filter; "
                    "start again with an empty page_token",
                )
            )
    if violations:
        raise errors.invalid_input("", violations)
    return _Page(size, after)


def _page_token(graph: str, started_at: float, workflow_id: str) -> str:
    raw = json.dumps([graph, started_at, workflow_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _read_page_token(token: str, graph: str) -> tuple[float, str] | None:
    if len(token) > _MAX_PAGE_TOKEN:
        return None
    try:
        token_graph, started_at, workflow_id = json.loads(base64.urlsafe_b64decode(token))
    except (ValueError, TypeError):
        return None
    if (
        token_graph != graph
        or not isinstance(started_at, (int, float))
        or not isinstance(workflow_id, str)
    ):
        return None
    return float(started_at), workflow_id


def _bad_workflow_id(workflow_id: str) -> str:
    return (
        f"{workflow_id!r:.140} is not a valid workflow id: use 1-128 characters of "
        "[A-Za-z0-9._:-] (or leave it empty for RunRequest/IterRequest to get a generated one)"
    )


async def _wait_tasks(tasks: set, timeout: float, force: asyncio.Event | None) -> None:
    pending = set(tasks)
    if not pending or timeout <= 0:
        return
    waiters = set(pending)
    force_task = None
    if force is not None:
        if force.is_set():
            return
        force_task = asyncio.ensure_future(force.wait())
        waiters.add(force_task)
    try:
        deadline = time.monotonic() + timeout
        while pending and (force is None or not force.is_set()):
            left = deadline - time.monotonic()
            if left <= 0:
                return
            _, _ = await asyncio.wait(waiters, timeout=left, return_when=asyncio.FIRST_COMPLETED)
            pending = {t for t in pending if not t.done()}
            waiters = pending | ({force_task} if force_task else set())
            if not pending:
                return
    finally:
        if force_task is not None:
            force_task.cancel()
