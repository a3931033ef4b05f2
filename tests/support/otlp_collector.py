"""A fake OpenTelemetry collector: OTLP/HTTP (protobuf) on a free loopback port.

The server under test exports its spans here with its real OTLP exporter
(``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``); :meth:`OtlpCollector.spans` decodes them
with the OTLP protobuf definitions.
"""

from __future__ import annotations

import http.server
import threading
import time
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

__all__ = ["OtlpCollector"]


class OtlpCollector:
    """Receives ``POST /v1/traces``; ``endpoint`` is the URL to export to."""

    def __init__(self) -> None:
        self._requests: list[ExportTraceServiceRequest] = []
        self._lock = threading.Lock()
        collector = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = ExportTraceServiceRequest.FromString(body)
                with collector._lock:
                    collector._requests.append(request)
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}/v1/traces"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def spans(self) -> list[Any]:
        """Every span received so far (``opentelemetry.proto.trace.v1.Span``)."""
        with self._lock:
            requests = list(self._requests)
        return [
            span
            for request in requests
            for resource in request.resource_spans
            for scope in resource.scope_spans
            for span in scope.spans
        ]

    def wait_for(self, predicate: Any, within: float = 30.0) -> list[Any]:
        """The spans once ``predicate(spans)`` holds (raises AssertionError after ``within`` s)."""
        give_up = time.monotonic() + within
        while True:
            spans = self.spans()
            if predicate(spans):
                return spans
            if time.monotonic() > give_up:
                names = sorted(span.name for span in spans)
                raise AssertionError(f"the spans never arrived; received: {names}")
            time.sleep(0.05)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> OtlpCollector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
