"""A Connect stream's deadline, its echoed metadata, and a server that drains under it."""

from __future__ import annotations

import signal
import threading

from tests.web.conftest import serve_http
from tests.web.connect_http import call_json, events_until_end, kind, stream_json


def test_a_stream_past_its_connect_deadline_stops_its_run_as_deadline_exceeded(base):
    body = {"graph": "tokens", "values": {"count": 100000, "delay_ms": 5}, "workflowId": "l-late"}
    with stream_json(base, "Iter", body, headers={"connect-timeout-ms": "700"}) as envelopes:
        events, end = events_until_end(envelopes)
    assert end["error"]["code"] == "deadline_exceeded"
    assert kind(events[0]) == "runStarted"
    with stream_json(base, "Watch", {"workflowId": "l-late"}) as envelopes:
        watched, _ = events_until_end(envelopes)
    result = watched[-1]["runEnded"]["result"]
    assert result["status"] == "RUN_STATUS_STOPPED"
    assert result["stopInfo"] == {"kind": "deadline_exceeded"}


def test_the_echo_header_comes_back_as_header_and_trailer(base):
    reply = call_json(base, "ListGraphs", {}, headers={"x-hypergraph-echo": "abc-123"})
    assert reply.headers["x-hypergraph-echo"] == "abc-123"
    assert reply.headers["trailer-x-hypergraph-echo"] == "abc-123"
    refused = call_json(base, "Run", {"graph": "nope"}, headers={"x-hypergraph-echo": "e-2"})
    assert refused.status == 404
    assert refused.headers["x-hypergraph-echo"] == "e-2"


def test_sigterm_drains_an_open_http_stream_to_its_run_ended():
    with serve_http("--drain-seconds", "0") as server:
        events: list[dict] = []
        end: dict = {}
        streaming = threading.Event()

        def read() -> None:
            nonlocal end
            body = {"graph": "tokens", "values": {"count": 100000, "delay_ms": 5}}
            with stream_json(server.http_url, "Iter", body) as envelopes:
                for item in envelopes:
                    if item.end:
                        end = item.message
                        return
                    events.append(item.message)
                    streaming.set()

        reader = threading.Thread(target=read)
        reader.start()
        assert streaming.wait(30)
        server.popen.send_signal(signal.SIGTERM)
        reader.join(30)
        assert server.popen.wait(30) == 0
    assert end == {}
    result = events[-1]["runEnded"]["result"]
    assert result["status"] == "RUN_STATUS_STOPPED"
    assert result["stopInfo"] == {"kind": "server_shutdown"}
