"""The span of one model call, the child of the node that makes it (OpenTelemetry GenAI
conventions: ``gen_ai.*`` attributes). Without opentelemetry installed, or with no
tracer provider configured, it costs a no-op per call (never per token)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from .call import Call

try:
    from opentelemetry import trace
except ImportError:  # the observability extra is not installed
    trace = None

__all__ = ["call_span", "record_usage"]


@contextlib.contextmanager
def call_span(call: Call) -> Iterator[Any]:
    """A CLIENT span named ``chat MODEL`` around the call (None without opentelemetry)."""
    if trace is None:
        yield None
        return
    tracer = trace.get_tracer("hypergraph_grpc.llm")
    with tracer.start_as_current_span(
        f"chat {call.model}",
        kind=trace.SpanKind.CLIENT,
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": call.provider,
            "gen_ai.request.model": call.model,
            "gen_ai.request.max_tokens": call.max_tokens,
        },
    ) as span:
        yield span


def record_usage(span: Any, usage: dict) -> None:
    """Tokens and stop reason of the finished call on its span."""
    if span is None:
        return
    for key in ("input_tokens", "output_tokens"):
        if key in usage:
            span.set_attribute(f"gen_ai.usage.{key}", usage[key])
    reason = usage.get("stop_reason", "")
    span.set_attribute("gen_ai.response.finish_reasons", [reason])
    if reason == "error":
        span.set_status(trace.Status(trace.StatusCode.ERROR, "the provider failed"))
