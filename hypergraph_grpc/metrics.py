"""Prometheus metrics of the service (``serve --metrics-port``), in a registry of their own.

Nothing here runs per token. What changes per run (runs, stops, LLM usage,
durations) is counted by :class:`RunMetrics`, an event processor whose hooks
are the run's lifecycle events only (the runtime never calls it for chunks).
Per-stream figures (tokens streamed, messages written, queue depth) are plain
integers the stream writer keeps on its :class:`~hypergraph_grpc.streams.StreamSink`;
:class:`ServiceCollector` reads them when Prometheus scrapes, and adds the
totals of the streams that already ended. RPCs are counted per call by
:class:`MetricsInterceptor` on the gRPC port and by
:meth:`ServiceMetrics.count_connect_call` on the HTTP port.

Labels are bounded: graph names, node error types, RPC methods, status codes,
stop kinds from a fixed list, LLM providers and models (configured by the
operator). Never a workflow id, run id or anything else a caller picks freely.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

import grpc
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from hypergraph import TypedEventProcessor
from hypergraph_grpc.interceptors import Behavior, RunnerServiceInterceptor, status_code

__all__ = [
    "MetricsInterceptor",
    "RunMetrics",
    "ServiceCollector",
    "ServiceMetrics",
    "HEARTBEAT_SECONDS",
    "STOP_KINDS",
    "StreamTotals",
    "serve_metrics",
    "stop_kind",
]

# Seconds: from a few ms (a merged token) to minutes (a long agent run).
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_RUN_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
HEARTBEAT_SECONDS = 5.0
# The stop kinds the service itself uses; a caller's own kind counts as "client".
STOP_KINDS = frozenset(
    {
        "client",
        "client_cancelled",
        "deadline_exceeded",
        "slow_consumer",
        "server_shutdown",
        "replica_lost",
    }
)


class StreamTotals:
    """What the stream writers of ended streams sent (live ones are read at scrape time)."""

    __slots__ = ("tokens", "messages")

    def __init__(self) -> None:
        self.tokens = 0
        self.messages = 0


class ServiceMetrics:
    """Every metric the service exports, registered in ``registry`` (a new one by default)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.runs_started = Counter(
            "hypergraph_runs_started", "Runs started, by graph.", ["graph"], registry=r
        )
        self.runs_ended = Counter(
            "hypergraph_runs_ended",
            "Runs ended, by graph and status (COMPLETED, FAILED, STOPPED, or rejected).",
            ["graph", "status"],
            registry=r,
        )
        self.run_duration = Histogram(
            "hypergraph_run_duration_seconds",
            "Run duration, from RunStart to RunEnd, by graph and status.",
            ["graph", "status"],
            buckets=_RUN_BUCKETS,
            registry=r,
        )
        self.stops = Counter(
            "hypergraph_run_stops",
            "Stops applied to runs, by kind (slow_consumer, client_cancelled, server_shutdown...).",
            ["kind"],
            registry=r,
        )
        self.stop_to_end = Histogram(
            "hypergraph_stop_to_end_seconds",
            "From a run's StopRequested to its RunEnd.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.node_errors = Counter(
            "hypergraph_node_errors",
            "Node executions that raised, by graph and error type.",
            ["graph", "error_type"],
            registry=r,
        )
        self.first_token = Histogram(
            "hypergraph_stream_first_token_seconds",
            "Iter streams: from RunStart to the first chunk written to the client, by graph.",
            ["graph"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.write_delay = Histogram(
            "hypergraph_stream_write_delay_seconds",
            "From ctx.stream() to the write of its message (one chunk in 64 is timed).",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.rpcs = Counter(
            "hypergraph_rpcs_handled",
            "RunnerService calls finished, by method, gRPC status code and protocol "
            "(grpc: the gRPC port; connect: the HTTP port's Connect, gRPC-Web and gRPC calls).",
            ["method", "code", "protocol"],
            registry=r,
        )
        self.llm_calls = Counter(
            "hypergraph_llm_calls",
            "LLM replies streamed by nodes, by provider, model and stop reason "
            "(stop_reason=error: the provider failed mid-answer).",
            ["provider", "model", "stop_reason"],
            registry=r,
        )
        self.llm_retries = Counter(
            "hypergraph_llm_retries",
            "LLM calls retried before their first token (rate limits, overload, network), "
            "by provider and model.",
            ["provider", "model"],
            registry=r,
        )
        self.llm_tokens = Counter(
            "hypergraph_llm_tokens",
            "LLM tokens reported by nodes, by provider, model and direction (input, output).",
            ["provider", "model", "direction"],
            registry=r,
        )
        self.coordination_calls = Counter(
            "hypergraph_coordination_calls",
            "Round trips to the coordination store (Redis), by operation (claim, release, "
            "append_events, renew_lease, route_stop, ...).",
            ["operation"],
            registry=r,
        )
        self.coordination_errors = Counter(
            "hypergraph_coordination_errors",
            "Round trips to the coordination store that failed (Redis unreachable, timed "
            "out or refused), by operation.",
            ["operation"],
            registry=r,
        )
        self.heartbeat = Gauge(
            "hypergraph_heartbeat_timestamp_seconds",
            "Unix time the server's event loop last ticked (every few seconds); /metrics is "
            "answered by another thread, so a stale value means a stuck loop.",
            registry=r,
        )
        self.stream_totals = StreamTotals()

    async def beat(self, interval: float = HEARTBEAT_SECONDS) -> None:
        """Tick the heartbeat from the event loop until cancelled."""
        while True:
            self.heartbeat.set_to_current_time()
            await asyncio.sleep(interval)

    def run_processor(self, graph: str) -> RunMetrics:
        """The event processor that counts one run of ``graph``."""
        return RunMetrics(self, graph)

    def stream_ended(self, sink: Any, graph: str) -> None:
        """Fold an ended Iter stream's counts into the totals; observe its first-token time."""
        totals = self.stream_totals
        totals.tokens += sink.tokens_sent
        totals.messages += sink.messages_sent
        if sink.first_token_at and sink.run_started_at:
            self.first_token.labels(graph).observe(
                max(0.0, sink.first_token_at - sink.run_started_at)
            )

    def count_stop(self, kind: Any) -> None:
        self.stops.labels(stop_kind(kind)).inc()

    def count_coordination_call(self, operation: str, failed: bool) -> None:
        """A round trip to the coordination store ended (``failed``: Redis raised)."""
        self.coordination_calls.labels(operation).inc()
        if failed:
            self.coordination_errors.labels(operation).inc()

    def count_connect_call(self, method: str, code: str) -> None:
        """A call on the HTTP port ended with ``code`` (a gRPC status code's name)."""
        self.rpcs.labels(method, code, "connect").inc()


def stop_kind(kind: Any) -> str:
    """A bounded label for a stop's ``kind`` (a caller's own kinds count as ``client``)."""
    return kind if isinstance(kind, str) and kind in STOP_KINDS else "client"


class RunMetrics(TypedEventProcessor):
    """Counts one run from its lifecycle events (no chunk hook: tokens cost it nothing)."""

    def __init__(self, metrics: ServiceMetrics, graph: str) -> None:
        self._metrics = metrics
        self._graph = graph
        self._stop_at: float | None = None

    def on_run_start(self, event: Any) -> None:
        self._metrics.runs_started.labels(self._graph).inc()

    def on_stop_requested(self, event: Any) -> None:
        self._stop_at = event.timestamp
        info = event.info
        self._metrics.count_stop(info.get("kind") if isinstance(info, dict) else None)

    def on_node_end(self, event: Any) -> None:
        usage = event.usage
        if usage and "provider" in usage and "model" in usage:
            self._count_llm(usage)

    def on_node_error(self, event: Any) -> None:
        self._metrics.node_errors.labels(self._graph, event.error_type).inc()

    def on_run_end(self, event: Any) -> None:
        metrics = self._metrics
        status = getattr(event.status, "name", str(event.status))
        metrics.runs_ended.labels(self._graph, status).inc()
        metrics.run_duration.labels(self._graph, status).observe(event.duration_ms / 1000.0)
        if self._stop_at is not None:
            metrics.stop_to_end.observe(max(0.0, event.timestamp - self._stop_at))

    def _count_llm(self, usage: dict) -> None:
        provider, model = str(usage["provider"]), str(usage["model"])
        metrics = self._metrics
        metrics.llm_calls.labels(provider, model, str(usage.get("stop_reason", ""))).inc()
        retries = usage.get("retries")
        if isinstance(retries, int) and retries > 0:
            metrics.llm_retries.labels(provider, model).inc(retries)
        for direction in ("input", "output"):
            tokens = usage.get(f"{direction}_tokens")
            if isinstance(tokens, int) and tokens > 0:
                metrics.llm_tokens.labels(provider, model, direction).inc(tokens)


class ServiceCollector(Collector):
    """Gauges and stream counters read from the service when Prometheus scrapes.

    ``live_runs``: this replica's live runs; ``iter_sinks``: the open Iter streams'
    sinks; ``watch_count``: open Watch streams; ``totals``: ended streams' counts.
    """

    def __init__(
        self,
        live_runs: Callable[[], int],
        iter_sinks: Callable[[], Iterable[Any]],
        watch_count: Callable[[], int],
        totals: StreamTotals,
    ) -> None:
        self._live_runs = live_runs
        self._iter_sinks = iter_sinks
        self._watch_count = watch_count
        self._totals = totals

    def collect(self):
        sinks = list(self._iter_sinks())
        yield GaugeMetricFamily(
            "hypergraph_live_runs", "Runs live on this replica.", value=self._live_runs()
        )
        streams = GaugeMetricFamily(
            "hypergraph_open_streams", "Open streaming calls, by RPC.", labels=["rpc"]
        )
        streams.add_metric(["Iter"], len(sinks))
        streams.add_metric(["Watch"], self._watch_count())
        yield streams
        depths = [len(sink.queue) for sink in sinks]
        yield GaugeMetricFamily(
            "hypergraph_stream_queue_depth_max",
            "The longest queue of an open Iter stream (events waiting for its writer).",
            value=max(depths, default=0),
        )
        yield GaugeMetricFamily(
            "hypergraph_stream_queued_events",
            "Events waiting in all open Iter streams' queues.",
            value=sum(depths),
        )
        totals = self._totals
        yield CounterMetricFamily(
            "hypergraph_stream_tokens",
            "ctx.stream() calls delivered to Iter clients (a merged message holds several).",
            value=totals.tokens + sum(sink.tokens_sent for sink in sinks),
        )
        yield CounterMetricFamily(
            "hypergraph_stream_messages",
            "Messages written to Iter clients (tokens / messages is the merge ratio).",
            value=totals.messages + sum(sink.messages_sent for sink in sinks),
        )


class MetricsInterceptor(RunnerServiceInterceptor):
    """Counts every RunnerService call by method and final status code (once per call)."""

    per_call = False

    def __init__(self, service_name: str, metrics: ServiceMetrics) -> None:
        super().__init__(service_name)
        self._rpcs = metrics.rpcs

    def wrap(self, method: str, behavior: Behavior, call: grpc.HandlerCallDetails) -> Behavior:
        rpcs = self._rpcs

        async def counted(request, context):
            code = "UNKNOWN"  # an exception escaped (the safety net answers INTERNAL)
            try:
                result = await behavior(request, context)
                code = status_code(context).name
                return result
            except asyncio.CancelledError:
                code = "CANCELLED"
                raise
            except grpc.aio.AbortError:
                code = status_code(context).name
                raise
            finally:
                rpcs.labels(method, code, "grpc").inc()

        return counted


def serve_metrics(metrics: ServiceMetrics, host: str, port: int) -> tuple[Any, int]:
    """Serve ``/metrics`` over HTTP on a daemon thread; returns (server, bound port)."""
    server, thread = start_http_server(port, addr=host, registry=metrics.registry)
    del thread  # a daemon thread: it ends with the process, or with server.shutdown()
    return server, server.server_address[1]
