"""A caller of the service needs only the client: grpcio, grpcio-status, protobuf.

caller_program.py uses both clients and the CLI's client commands against a
real server, then reports every module it loaded that belongs to the runtime,
the server side, the LLM SDKs or grpc's health and reflection services; there
must be none. `make test-python` runs it with the project's interpreter (where
everything is installed, so only the imports are checked). `make
test-client-only` runs it with $HYPERGRAPH_CLIENT_PYTHON, a venv holding only
the locked base dependencies, where those packages must not even be installed
and `serve` says which extra it needs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CLIENT_PYTHON_ENV = "HYPERGRAPH_CLIENT_PYTHON"
PROGRAM = Path(__file__).with_name("caller_program.py")


def test_a_caller_loads_neither_the_server_nor_the_runtime(target):
    python = os.environ.get(CLIENT_PYTHON_ENV) or sys.executable
    done = subprocess.run(
        [python, str(PROGRAM), target], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["loaded"] == []
    if os.environ.get(CLIENT_PYTHON_ENV):
        assert report["installed"] == []  # the venv really has only the base dependencies


def test_serve_without_the_server_extra_says_what_to_install():
    python = os.environ.get(CLIENT_PYTHON_ENV)
    if not python:
        pytest.skip(f"needs a venv without the server extra in ${CLIENT_PYTHON_ENV}")
    done = subprocess.run(
        [python, "-m", "hypergraph_grpc.cli", "serve", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "pip install 'hypergraph-grpc[server]'" in done.stderr
    assert "Traceback" not in done.stderr
