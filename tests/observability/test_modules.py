"""The metrics, tracing and log modules on their own: a real runtime run, no server."""

from __future__ import annotations

import asyncio
import io
import json
import logging

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from prometheus_client import generate_latest

from hypergraph import AsyncRunner, Graph, NodeContext, node
from hypergraph_grpc.logs import configure_logging
from hypergraph_grpc.metrics import ServiceCollector, ServiceMetrics, StreamTotals, stop_kind
from hypergraph_grpc.tracing import Tracing, tracing_requested


@node(output_name="text")
async def speak(words: int, ctx: NodeContext) -> str:
    for i in range(words):
        ctx.stream(f"w{i} ")
        if ctx.stop_requested:
            break
        await asyncio.sleep(0.001)
    ctx.report_usage(
        provider="fake", model="m-1", stop_reason="end_turn", output_tokens=words, retries=2
    )
    return "done"


@node(output_name="after")
async def broken(text: str) -> str:
    raise KeyError("missing")


def _run(graph, values, processors, stop_after: float | None = None):
    async def main():
        runner = AsyncRunner()
        task = asyncio.ensure_future(
            runner.run(
                graph,
                values,
                workflow_id="wf-unit",
                event_processors=processors,
                error_handling="continue",
            )
        )
        if stop_after is not None:
            await asyncio.sleep(stop_after)
            runner.stop("wf-unit", info={"kind": "slow_consumer"})
        return await task

    return asyncio.run(main())


def _sample(metrics: ServiceMetrics, name: str, **labels) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_run_metrics_count_runs_node_errors_and_llm_usage():
    metrics = ServiceMetrics()
    graph = Graph([speak, broken], name="talk")
    _run(graph, {"words": 3}, [metrics.run_processor("talk")])
    assert _sample(metrics, "hypergraph_runs_started_total", graph="talk") == 1
    assert _sample(metrics, "hypergraph_runs_ended_total", graph="talk", status="FAILED") == 1
    assert (
        _sample(metrics, "hypergraph_node_errors_total", graph="talk", error_type="KeyError") == 1
    )
    llm = {"provider": "fake", "model": "m-1"}
    assert _sample(metrics, "hypergraph_llm_calls_total", **llm, stop_reason="end_turn") == 1
    assert _sample(metrics, "hypergraph_llm_tokens_total", **llm, direction="output") == 3
    assert _sample(metrics, "hypergraph_llm_retries_total", **llm) == 2


def test_a_stopped_run_counts_its_kind_and_stop_latency():
    metrics = ServiceMetrics()
    graph = Graph([speak], name="talk")
    _run(graph, {"words": 10_000}, [metrics.run_processor("talk")], stop_after=0.05)
    assert _sample(metrics, "hypergraph_run_stops_total", kind="slow_consumer") == 1
    assert _sample(metrics, "hypergraph_stop_to_end_seconds_count") == 1
    assert _sample(metrics, "hypergraph_runs_ended_total", graph="talk", status="STOPPED") == 1


@pytest.mark.parametrize(
    ("kind", "label"),
    [
        ("slow_consumer", "slow_consumer"),
        ("my-own-kind", "client"),
        (None, "client"),
        (7, "client"),
    ],
)
def test_stop_kinds_are_a_bounded_label(kind, label):
    assert stop_kind(kind) == label


class _Sink:
    def __init__(self, queued: int, tokens: int, messages: int) -> None:
        self.queue = [None] * queued
        self.tokens_sent = tokens
        self.messages_sent = messages


def test_the_collector_adds_live_streams_to_the_ended_ones():
    metrics = ServiceMetrics()
    totals = StreamTotals()
    totals.tokens, totals.messages = 100, 10
    sinks = [_Sink(5, 40, 4), _Sink(2, 7, 7)]
    metrics.registry.register(ServiceCollector(lambda: 3, lambda: sinks, lambda: 1, totals))
    assert _sample(metrics, "hypergraph_stream_tokens_total") == 147
    assert _sample(metrics, "hypergraph_stream_messages_total") == 21
    assert _sample(metrics, "hypergraph_stream_queue_depth_max") == 5
    assert _sample(metrics, "hypergraph_stream_queued_events") == 7
    assert _sample(metrics, "hypergraph_live_runs") == 3
    assert _sample(metrics, "hypergraph_open_streams", rpc="Iter") == 2
    assert _sample(metrics, "hypergraph_open_streams", rpc="Watch") == 1
    # Its own registry: nothing of the process-wide default one.
    assert b"python_gc" not in generate_latest(metrics.registry)


def _tracing():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return Tracing(provider.get_tracer("test")), exporter


def test_node_spans_are_children_of_the_run_span_and_end_with_the_node():
    tracing, exporter = _tracing()
    graph = Graph([speak, broken], name="talk")
    tracer = tracing.run_tracer("talk", "wf-unit")
    _run(graph, {"words": 2}, [tracer])
    spans = {span.name: span for span in exporter.get_finished_spans()}
    run, ok, failed = spans["run talk"], spans["node speak"], spans["node broken"]
    assert ok.parent.span_id == run.context.span_id
    assert failed.parent.span_id == run.context.span_id
    assert ok.attributes["hypergraph.usage.output_tokens"] == 2
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes["error.type"] == "KeyError"
    assert run.attributes["hypergraph.status"] == "FAILED"
    assert run.attributes["hypergraph.run_id"].startswith("run-")
    assert tracer.log_fields()["span_id"] == f"{run.context.span_id:016x}"


def test_a_run_refused_before_it_started_still_ends_its_span():
    tracing, exporter = _tracing()
    tracer = tracing.run_tracer("talk", "wf-unit")
    tracer.finish("rejected: MissingInputError")
    tracer.finish("rejected: MissingInputError")  # once only
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR


@pytest.mark.parametrize(
    ("flag", "environ", "wanted"),
    [
        (False, {}, False),
        (True, {}, True),
        (False, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, True),
        (False, {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, True),
        (False, {"OTEL_SERVICE_NAME": "svc"}, False),
        (True, {"OTEL_SDK_DISABLED": "true"}, False),
        (True, {"OTEL_TRACES_EXPORTER": "none"}, False),
    ],
)
def test_tracing_is_off_unless_the_flag_or_an_exporter_variable_asks(flag, environ, wanted):
    assert tracing_requested(flag, environ) is wanted


def _log_line(fmt: str, context_fields=None, **extra) -> str:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("INFO", fmt, stream, context_fields)
        logging.getLogger("hypergraph_grpc.test").info("run ended", extra=extra)
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    return stream.getvalue().strip()


def test_json_lines_carry_timestamp_level_and_the_runs_ids():
    line = json.loads(
        _log_line("json", workflow_id="wf-1", run_id="run-1", trace_id="ab" * 16, span_id="cd" * 8)
    )
    assert line["timestamp"].endswith("Z")
    assert line["level"] == "INFO"
    assert line["message"] == "run ended"
    assert (line["workflow_id"], line["run_id"]) == ("wf-1", "run-1")
    assert (line["trace_id"], line["span_id"]) == ("ab" * 16, "cd" * 8)


def test_lines_without_ids_of_their_own_get_the_current_spans():
    current = {"trace_id": "12" * 16, "span_id": "34" * 8}
    line = json.loads(_log_line("json", lambda: current, workflow_id="wf-2"))
    assert line["trace_id"] == "12" * 16
    own = json.loads(_log_line("json", lambda: current, trace_id="ff" * 16, span_id="ee" * 8))
    assert own["trace_id"] == "ff" * 16
    assert "trace_id=" + "12" * 16 in _log_line("text", lambda: current)
