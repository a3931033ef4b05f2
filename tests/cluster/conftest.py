"""A cluster on one machine: a private redis-server and replica processes sharing it.

Every replica is ``hypergraph-grpc serve --coordination redis://...`` started as a
user starts it, on its own free loopback port, with a short lease so a killed
replica's runs end quickly.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from tests.support.redis_server import RedisServer
from tests.support.server_process import ServerProcess

LEASE_SECONDS = 1.0
GRAPHS = ("--graphs", "hypergraph_grpc.demo.testing:GRAPHS")


def start_replica(redis: RedisServer, *extra: str) -> ServerProcess:
    return ServerProcess(
        *GRAPHS,
        "--coordination",
        redis.url,
        "--lease-seconds",
        str(LEASE_SECONDS),
        "--drain-seconds",
        "2",
        *extra,
    )


@pytest.fixture(scope="module")
def redis():
    server = RedisServer()
    yield server
    server.close()


@contextlib.contextmanager
def replica_pair(redis: RedisServer, *extra: str) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Two replicas on one Redis (``extra``: more serve flags for both), stopped after."""
    first = start_replica(redis, *extra)
    try:
        second = start_replica(redis, *extra)
        try:
            yield first, second
        finally:
            second.stop()
    finally:
        first.stop()


@pytest.fixture(scope="module")
def pair(redis):
    """Two replicas on one Redis, for the tests that leave them running."""
    with replica_pair(redis) as replicas:
        yield replicas
