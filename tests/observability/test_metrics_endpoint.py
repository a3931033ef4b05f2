"""serve --metrics-port: a real server process, scraped over HTTP after real runs."""

from __future__ import annotations

import pytest

from hypergraph_grpc.client import Client, NotFoundError, StreamingChunk
from hypergraph_grpc.config import ServiceConfig
from tests.observability.graphs import SPEC
from tests.support.prometheus import sample_value, scrape
from tests.support.server_process import ServerProcess
from tests.web.connect_http import call_json

DEFAULT_MAX_REQUEST_BYTES = ServiceConfig().max_request_bytes


@pytest.fixture(scope="module")
def scraped():
    """One server, a handful of runs (streamed, unary, failed, stopped, refused), one scrape."""
    with ServerProcess("--graphs", SPEC, "--metrics-port", "0", "--http-port", "0") as server:
        url = server.metrics_url()
        # The HTTP port's calls: one answered, one refused, one that fails to decode,
        # one refused by the Connect library itself (a body past the port's read limit,
        # twice --max-request-bytes) before the servicer sees it.
        assert call_json(server.http_url, "ListGraphs", {}).status == 200
        assert call_json(server.http_url, "Run", {"graph": "no-such-graph"}).status == 404
        assert call_json(server.http_url, "Run", b"{not json").status == 400
        too_large = b" " * (2 * DEFAULT_MAX_REQUEST_BYTES + 1)
        assert call_json(server.http_url, "Run", too_large).status == 429
        with Client(server.target) as client:
            stream = client.iter("tokens", {"count": 300}, workflow_id="wf-metrics-tokens")
            events = list(stream)
            client.run("add", {"a": 1, "b": 2}, workflow_id="wf-metrics-add")
            client.run("fail", {"message": "boom"}, workflow_id="wf-metrics-fail")
            list(client.iter("chat", {"prompt": "hello there"}, workflow_id="wf-metrics-chat"))
            sleeping = client.iter("sleep", {"seconds": 30}, workflow_id="wf-metrics-stop")
            next(iter(sleeping))  # RunStarted: the run is live
            client.stop("wf-metrics-stop", info={"kind": "user-pressed-stop"})
            list(sleeping)
            with pytest.raises(NotFoundError):
                client.run("no-such-graph", {})
        messages = [event for event in events if isinstance(event, StreamingChunk)]
        assert sum(event.merged for event in messages) == 300
        yield scrape(url), len(messages), url


def test_runs_are_counted_by_graph_and_status(scraped):
    samples, _, _ = scraped
    assert sample_value(samples, "hypergraph_runs_started_total", graph="tokens") == 1
    assert (
        sample_value(samples, "hypergraph_runs_ended_total", graph="tokens", status="COMPLETED")
        == 1
    )
    assert sample_value(samples, "hypergraph_runs_ended_total", graph="fail", status="FAILED") == 1
    assert (
        sample_value(samples, "hypergraph_runs_ended_total", graph="sleep", status="STOPPED") == 1
    )
    assert (
        sample_value(samples, "hypergraph_node_errors_total", graph="fail", error_type="ValueError")
        == 1
    )
    assert (
        sample_value(
            samples, "hypergraph_run_duration_seconds_count", graph="add", status="COMPLETED"
        )
        == 1
    )
    assert sample_value(samples, "hypergraph_live_runs") == 0
    assert sample_value(samples, "hypergraph_heartbeat_timestamp_seconds") > 1.7e9


def test_streamed_tokens_and_messages_show_the_merge_ratio(scraped):
    samples, chunks, _ = scraped
    tokens = sample_value(samples, "hypergraph_stream_tokens_total")
    messages = sample_value(samples, "hypergraph_stream_messages_total")
    # The tokens graph streams 300 ctx.stream() calls, the chat graph a few more.
    assert tokens >= 300
    assert chunks <= messages <= tokens
    assert sample_value(samples, "hypergraph_stream_first_token_seconds_count", graph="tokens") == 1
    assert sample_value(samples, "hypergraph_stream_write_delay_seconds_count") >= 1
    assert sample_value(samples, "hypergraph_open_streams", rpc="Iter") == 0


def test_rpcs_are_counted_by_method_status_code_and_protocol(scraped):
    samples, _, _ = scraped

    def rpcs(method: str, code: str, protocol: str = "grpc") -> float:
        labels = {"method": method, "code": code, "protocol": protocol}
        return sample_value(samples, "hypergraph_rpcs_handled_total", **labels)

    assert rpcs("Iter", "OK") == 3
    assert rpcs("Run", "OK") == 2
    assert rpcs("Run", "NOT_FOUND") == 1
    assert rpcs("Stop", "OK") == 1
    assert rpcs("ListGraphs", "OK", "connect") == 1
    assert rpcs("Run", "NOT_FOUND", "connect") == 1
    assert rpcs("Run", "INVALID_ARGUMENT", "connect") == 1
    assert rpcs("Run", "RESOURCE_EXHAUSTED", "connect") == 1


def test_a_stop_is_counted_by_kind_with_its_latency(scraped):
    samples, _, _ = scraped
    # A caller's own kind is folded into "client": labels stay bounded.
    assert sample_value(samples, "hypergraph_run_stops_total", kind="client") == 1
    assert sample_value(samples, "hypergraph_stop_to_end_seconds_count") == 1


def test_llm_calls_and_tokens_are_counted_by_provider_and_model(scraped):
    samples, _, _ = scraped
    labels = {"provider": "offline", "model": "offline-stand-in"}
    assert (
        sample_value(samples, "hypergraph_llm_calls_total", **labels, stop_reason="end_turn") == 1
    )
    assert sample_value(samples, "hypergraph_llm_tokens_total", **labels, direction="output") > 0
    assert sample_value(samples, "hypergraph_llm_tokens_total", **labels, direction="input") > 0


def test_no_label_carries_a_workflow_id(scraped):
    samples, _, _ = scraped
    values = {value for _, labels in samples for _, value in labels}
    assert not [value for value in values if value.startswith(("wf-", "run-"))]
    assert "user-pressed-stop" not in values


def test_metrics_are_off_unless_asked_for():
    with ServerProcess("--graphs", SPEC) as server:
        with Client(server.target) as client:
            client.run("add", {"a": 1, "b": 1})
        assert "metrics_url" not in server.log()
