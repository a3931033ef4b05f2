"""The HTTP port's tests: a real ``serve --http-port 0`` process (gRPC and HTTP on free ports).

One server per module (starting one takes seconds on a loaded machine); each test
uses its own workflow ids, so they do not see each other's runs.
"""

from __future__ import annotations

import pytest

from tests.support.server_process import ServerProcess

GRAPHS = ("--graphs", "hypergraph_grpc.demo:GRAPHS", "hypergraph_grpc.demo.testing:GRAPHS")
OFFLINE = ("--provider", "offline")


def serve_http(*args: str) -> ServerProcess:
    return ServerProcess("--http-port", "0", *GRAPHS, *OFFLINE, *args)


@pytest.fixture(scope="module")
def server():
    with serve_http() as process:
        yield process


@pytest.fixture(scope="module")
def base(server) -> str:
    return server.http_url
