"""A replica on Redis counts its round trips to Redis by operation, and the failed ones."""

from __future__ import annotations

import pytest

from hypergraph_grpc.client import Client, UnavailableError
from tests.cluster.conftest import start_replica
from tests.support.prometheus import sample_value, scrape


def _calls(samples, operation: str) -> float:
    return sample_value(samples, "hypergraph_coordination_calls_total", operation=operation)


def _errors(samples, operation: str) -> float:
    return sample_value(samples, "hypergraph_coordination_errors_total", operation=operation)


def test_redis_round_trips_are_counted_by_operation_and_failures_as_errors(redis):
    replica = start_replica(redis, "--metrics-port", "0")
    try:
        url = replica.metrics_url()
        with Client(replica.target) as client:
            list(client.iter("tokens", {"count": 20}, workflow_id="wf-coord-metrics"))
            client.run("add", {"a": 1, "b": 2})
            samples = scrape(url)
            assert _calls(samples, "claim") == 2
            assert _calls(samples, "release") == 2
            assert _calls(samples, "append_events") >= 1
            assert _errors(samples, "claim") == 0
            redis.stop()
            with pytest.raises(UnavailableError):
                client.run("add", {"a": 1, "b": 2})
            samples = scrape(url)
            assert _calls(samples, "claim") == 3
            assert _errors(samples, "claim") == 1
        labels = {k for (name, labels) in samples for k, _ in labels if "coordination" in name}
        assert labels == {"operation"}  # bounded: never a workflow id or a key
    finally:
        if not redis.running:
            redis.start()
        replica.stop()
