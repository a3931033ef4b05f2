"""OpenTelemetry traces of the service: the caller's trace continues into runs and nodes.

Off unless ``serve --otel`` or the standard ``OTEL_*`` variables ask for it
(:func:`tracing_requested`); then :func:`configure_tracing` installs the SDK's
tracer provider with an OTLP exporter configured by those variables
(``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_TRACES_SAMPLER``, ``OTEL_SERVICE_NAME``...).

The spans:

- one SERVER span per RunnerService call (:class:`TraceInterceptor`), the child of
  the caller's span when the call's metadata carries a W3C ``traceparent``. The
  instrumentation package's own grpc.aio server interceptor iterates every
  streaming handler as an async generator, which Iter and Watch (they write with
  ``context.write``) are not; this interceptor reads the metadata with the
  configured propagator instead and is the same for every method;
- one span per run, the child of the call that started it (:class:`RunTracer`);
- one span per node execution, the child of its run span, following the
  runtime's own span tree (each node event's ``parent_span_id`` is its run's
  span). While a node runs its span is the current span, so an LLM call inside
  it (:mod:`hypergraph_grpc.llm`) or any instrumented library becomes its child.
  Sync nodes run on worker threads, which do not inherit the current span;
- a stop is an event on the run span (``stop_requested``, or ``drain`` when the
  server stops it on shutdown), with its kind.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import grpc
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from hypergraph import TypedEventProcessor
from hypergraph_grpc.interceptors import Behavior, RunnerServiceInterceptor, status_code

__all__ = [
    "RunTracer",
    "TraceInterceptor",
    "Tracing",
    "configure_tracing",
    "current_log_fields",
    "tracing_requested",
]

# Any of these configures an exporter: the operator asked for traces.
_EXPORTER_VARIABLES = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_TRACES_EXPORTER",
)
_TRACER_NAME = "hypergraph_grpc"


def tracing_requested(flag: bool, environ: Mapping[str, str] | None = None) -> bool:
    """Whether to trace: ``--otel``, or an OTLP endpoint / traces exporter in the
    environment; ``OTEL_SDK_DISABLED=true`` or ``OTEL_TRACES_EXPORTER=none`` win."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if env.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return False
    return flag or any(env.get(name, "").strip() for name in _EXPORTER_VARIABLES)


def configure_tracing() -> Tracing:
    """Install the SDK tracer provider (batching OTLP/HTTP exporter; everything else
    from ``OTEL_*`` variables) and return the service's :class:`Tracing`."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # Resource.create reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, which win.
    defaults = Resource({SERVICE_NAME: "hypergraph-grpc"})
    provider = TracerProvider(resource=defaults.merge(Resource.create()))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return Tracing(provider.get_tracer(_TRACER_NAME), provider.shutdown)


class Tracing:
    """The service's tracer, and how to flush what it still holds at exit."""

    def __init__(self, tracer: trace.Tracer, shutdown: Any = None) -> None:
        self.tracer = tracer
        self._shutdown = shutdown

    def run_tracer(self, graph: str, workflow_id: str) -> RunTracer:
        """The processor that traces one run; its parent is the current span (the call's)."""
        return RunTracer(self.tracer, graph, workflow_id, otel_context.get_current())

    def interceptor(self, service_name: str) -> TraceInterceptor:
        return TraceInterceptor(service_name, self.tracer)

    def shutdown(self) -> None:
        """Export the spans still batched (the server is stopping)."""
        if self._shutdown is not None:
            self._shutdown()


def _ns(timestamp: float) -> int:
    return int(timestamp * 1e9)


class RunTracer(TypedEventProcessor):
    """One run's span and its node executions' spans, from the runtime's events.

    The run span starts when the run is launched (so the service's "run started"
    log line can name it) and ends at RunEnd, or at :meth:`finish` when the run
    never started. Lifecycle hooks only: chunks never reach it.
    """

    def __init__(
        self, tracer: trace.Tracer, graph: str, workflow_id: str, parent: otel_context.Context
    ) -> None:
        self._tracer = tracer
        self.span = tracer.start_span(
            f"run {graph}",
            context=parent,
            kind=SpanKind.INTERNAL,
            attributes={"hypergraph.graph": graph, "hypergraph.workflow_id": workflow_id},
        )
        self._run_context = trace.set_span_in_context(self.span, parent)
        self._nodes: dict[str, trace.Span] = {}
        self._ended = False

    def log_fields(self) -> dict[str, str]:
        """``trace_id`` and ``span_id`` of the run span, for log lines about the run."""
        return _ids(self.span.get_span_context())

    def on_run_start(self, event: Any) -> None:
        self.span.set_attribute("hypergraph.run_id", event.run_id)

    def on_node_start(self, event: Any) -> None:
        span = self._tracer.start_span(
            f"node {event.node_name}",
            context=self._run_context,
            start_time=_ns(event.timestamp),
            attributes={"hypergraph.node": event.node_name},
        )
        self._nodes[event.span_id] = span
        # The node is about to run in this task (or in a task created from it now):
        # it sees its own span as the current one.
        otel_context.attach(trace.set_span_in_context(span, self._run_context))

    def on_node_end(self, event: Any) -> None:
        span = self._nodes.pop(event.span_id, None)
        if span is None:
            return
        for key, value in (event.usage or {}).items():
            if isinstance(value, (str, bool, int, float)):
                span.set_attribute(f"hypergraph.usage.{key}", value)
        span.end(end_time=_ns(event.timestamp))

    def on_node_error(self, event: Any) -> None:
        span = self._nodes.pop(event.span_id, None)
        if span is None:
            return
        span.set_attribute("error.type", event.error_type)
        span.set_status(Status(StatusCode.ERROR, event.error[:500]))
        span.end(end_time=_ns(event.timestamp))

    def on_stop_requested(self, event: Any) -> None:
        info = event.info if isinstance(event.info, dict) else {}
        kind = info.get("kind")
        name = "drain" if kind == "server_shutdown" else "stop_requested"
        attributes = {"hypergraph.stop.kind": kind} if isinstance(kind, str) else {}
        self.span.add_event(name, attributes, timestamp=_ns(event.timestamp))

    def on_run_end(self, event: Any) -> None:
        status = getattr(event.status, "name", str(event.status))
        self.span.set_attribute("hypergraph.status", status)
        if event.error:
            self.span.set_status(Status(StatusCode.ERROR, str(event.error)[:500]))
        for span in self._nodes.values():  # executions abandoned without an event
            span.end(end_time=_ns(event.timestamp))
        self._nodes.clear()
        self._end(_ns(event.timestamp))

    def finish(self, outcome: str) -> None:
        """The run task ended: end the run span if RunEnd never came (a refused run)."""
        if not self._ended:
            self.span.set_attribute("hypergraph.status", outcome)
            self.span.set_status(Status(StatusCode.ERROR, outcome[:500]))
            self._end(None)

    def _end(self, end_time: int | None) -> None:
        self._ended = True
        self.span.end(end_time=end_time)


def _ids(span_context: trace.SpanContext) -> dict[str, str]:
    if not span_context.is_valid:
        return {}
    return {
        "trace_id": trace.format_trace_id(span_context.trace_id),
        "span_id": trace.format_span_id(span_context.span_id),
    }


def current_log_fields() -> dict[str, str]:
    """``trace_id`` and ``span_id`` of the current span (empty when there is none)."""
    return _ids(trace.get_current_span().get_span_context())


class _MetadataGetter:
    """Reads a call's invocation metadata for the propagator (keys are lowercase in gRPC)."""

    def get(self, carrier: Any, key: str) -> list[str] | None:
        values = [v for k, v in carrier if k == key and isinstance(v, str)]
        return values or None

    def keys(self, carrier: Any) -> list[str]:
        return [k for k, _ in carrier]


_GETTER = _MetadataGetter()


class TraceInterceptor(RunnerServiceInterceptor):
    """A SERVER span per RunnerService call, continuing the caller's trace."""

    per_call = False

    def __init__(self, service_name: str, tracer: trace.Tracer) -> None:
        super().__init__(service_name)
        self._service = service_name
        self._tracer = tracer

    def wrap(self, method: str, behavior: Behavior, call: grpc.HandlerCallDetails) -> Behavior:
        tracer = self._tracer
        name = f"{self._service}/{method}"
        attributes = {"rpc.system": "grpc", "rpc.service": self._service, "rpc.method": method}

        async def traced(request, context):
            parent = propagate.extract(context.invocation_metadata() or (), getter=_GETTER)
            with tracer.start_as_current_span(
                name,
                context=parent,
                kind=SpanKind.SERVER,
                attributes=attributes,
                record_exception=False,
                set_status_on_exception=False,
            ) as span:
                try:
                    result = await behavior(request, context)
                except grpc.aio.AbortError:
                    _set_code(span, status_code(context))
                    raise
                except BaseException as exc:
                    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                    raise
                _set_code(span, status_code(context))
                return result

        return traced


def _set_code(span: trace.Span, code: grpc.StatusCode) -> None:
    span.set_attribute("rpc.grpc.status_code", code.value[0])
    if code is not grpc.StatusCode.OK:
        span.set_status(Status(StatusCode.ERROR, code.name))
