"""Bearer tokens: the client's `metadata` and the CLI's --token against `serve --auth-token`."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hg_client_support import ROOT, TESTING_GRAPHS

from hypergraph_grpc.client import Client, UnauthenticatedError
from tests.support.server_process import ServerProcess

TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def auth_target():
    server = ServerProcess(*TESTING_GRAPHS, "--auth-token", TOKEN)
    yield server.target
    server.stop()


def test_client_sends_its_metadata(auth_target):
    with Client(auth_target) as anonymous:
        with pytest.raises(UnauthenticatedError) as info:
            anonymous.run("add", {"a": 1, "b": 2})
        assert info.value.reason
    with Client(auth_target, metadata=[("authorization", f"Bearer {TOKEN}")]) as client:
        assert client.run("add", {"a": 1, "b": 2})["sum"] == 3


def test_cli_token_option(auth_target):
    argv = [sys.executable, "-m", "hypergraph_grpc.cli", "run", "add", "-i", "a=1", "-i", "b=2"]
    argv += ["--target", auth_target]
    refused = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "UNAUTHENTICATED" in refused.stderr
    done = subprocess.run(
        [*argv, "--token", TOKEN], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == '{"sum": 3}'
