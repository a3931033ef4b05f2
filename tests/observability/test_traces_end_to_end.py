"""serve --otel: a Python caller starts a trace; the server's spans join it.

The server process exports with its real OTLP/HTTP exporter to a fake collector
on a free loopback port (tests/support/otlp_collector.py). The caller uses the
OpenTelemetry gRPC instrumentation's client interceptor, which sends the W3C
``traceparent`` in the call's metadata.
"""

from __future__ import annotations

import grpc
import pytest
from opentelemetry.instrumentation.grpc import client_interceptor
from opentelemetry.instrumentation.grpc.grpcext import intercept_channel
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from hypergraph_grpc.client import Client
from tests.observability.graphs import SPEC
from tests.support.otlp_collector import OtlpCollector
from tests.support.server_process import ServerProcess

SERVICE = "hypergraph.v1.RunnerService"


def _attributes(span) -> dict:
    out = {}
    for item in span.attributes:
        value = item.value
        kind = value.WhichOneof("value")
        out[item.key] = (
            [v.string_value for v in value.array_value.values]
            if kind == "array_value"
            else getattr(value, kind)
        )
    return out


def _one(spans, name: str):
    found = [span for span in spans if span.name == name]
    assert len(found) == 1, (name, sorted(span.name for span in spans))
    return found[0]


@pytest.fixture(scope="module")
def traced():
    """A caller's trace around an Iter of the LLM graph and a stopped run; the server
    is stopped with a run still live (it drains)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test-caller")
    with OtlpCollector() as collector:
        env = {
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": collector.endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "50",
        }
        server = ServerProcess("--graphs", SPEC, "--drain-seconds", "0", env=env)
        try:
            channel = intercept_channel(
                grpc.insecure_channel(server.target), client_interceptor(tracer_provider=provider)
            )
            with Client(channel=channel) as client, tracer.start_as_current_span("caller"):
                list(client.iter("chat", {"prompt": "tell me"}, workflow_id="wf-trace-chat"))
                sleeping = client.iter("sleep", {"seconds": 30}, workflow_id="wf-trace-stop")
                next(iter(sleeping))
                client.stop("wf-trace-stop", info={"kind": "user"})
                list(sleeping)
                draining = client.iter("sleep", {"seconds": 30}, workflow_id="wf-trace-drain")
                next(iter(draining))
            server.stop()  # SIGTERM: the live run is stopped by the drain
            list(draining)
            channel.close()
        finally:
            server.stop()
        spans = collector.wait_for(lambda spans: sum(s.name == "run sleep" for s in spans) == 2)
    yield spans, exporter.get_finished_spans()


def test_the_server_call_span_continues_the_callers_trace(traced):
    spans, caller_spans = traced
    caller = next(span for span in caller_spans if span.name == "caller")
    client_iter = next(
        span
        for span in caller_spans
        if span.name == f"/{SERVICE}/Iter" and span.parent.span_id == caller.context.span_id
    )
    server_iters = [span for span in spans if span.name == f"{SERVICE}/Iter"]
    assert len(server_iters) == 3
    first = min(server_iters, key=lambda span: span.start_time_unix_nano)
    assert first.trace_id == caller.context.trace_id.to_bytes(16, "big")
    assert first.parent_span_id == client_iter.context.span_id.to_bytes(8, "big")
    assert _attributes(first)["rpc.method"] == "Iter"


def test_run_node_and_llm_spans_form_the_runtime_tree(traced):
    spans, _ = traced
    call = min(
        (span for span in spans if span.name == f"{SERVICE}/Iter"),
        key=lambda span: span.start_time_unix_nano,
    )
    run = _one(spans, "run chat")
    node = _one(spans, "node generate")
    chat = _one(spans, "chat offline-stand-in")
    assert run.parent_span_id == call.span_id
    assert node.parent_span_id == run.span_id
    assert chat.parent_span_id == node.span_id
    assert {run.trace_id, node.trace_id, chat.trace_id} == {call.trace_id}
    attributes = _attributes(chat)
    assert attributes["gen_ai.provider.name"] == "offline"
    assert attributes["gen_ai.request.model"] == "offline-stand-in"
    assert attributes["gen_ai.usage.output_tokens"] > 0
    assert attributes["gen_ai.response.finish_reasons"] == ["end_turn"]
    assert _attributes(run)["hypergraph.workflow_id"] == "wf-trace-chat"
    assert _attributes(run)["hypergraph.status"] == "COMPLETED"


def test_stop_and_drain_are_events_of_the_run_span(traced):
    spans, _ = traced
    by_workflow = {
        _attributes(span)["hypergraph.workflow_id"]: span
        for span in spans
        if span.name == "run sleep"
    }
    stopped = by_workflow["wf-trace-stop"]
    drained = by_workflow["wf-trace-drain"]
    assert [event.name for event in stopped.events] == ["stop_requested"]
    assert [event.name for event in drained.events] == ["drain"]
    kinds = [_attributes(event)["hypergraph.stop.kind"] for event in drained.events]
    assert kinds == ["server_shutdown"]
    assert _attributes(stopped)["hypergraph.status"] == "STOPPED"
