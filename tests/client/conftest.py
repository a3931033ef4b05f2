"""Fixtures for the Python client and CLI tests (helpers in hg_client_support.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hg_client_support import SCENARIOS, TESTING_GRAPHS

from tests.support.server_process import ServerProcess


@pytest.fixture(scope="session")
def server() -> Iterator[ServerProcess]:
    """A server with the test graphs (tokens, sleep, fail, add, echo)."""
    proc = ServerProcess(*TESTING_GRAPHS)
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def target(server: ServerProcess) -> str:
    return server.target


@pytest.fixture(scope="session")
def scenario_server() -> Iterator[ServerProcess]:
    """A server started exactly with clients/scenarios.json's server_args."""
    proc = ServerProcess(*SCENARIOS["server_args"])
    yield proc
    proc.stop()
