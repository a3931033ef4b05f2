"""Shared values of the Python client and CLI tests: the scenario table, the test
graphs' serve arguments, slow-run inputs, fresh workflow ids and the CLI in a
subprocess. The servers are ``tests.support.server_process.ServerProcess``."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = json.loads((ROOT / "clients" / "scenarios.json").read_text())
TESTING_GRAPHS = ["--graphs", "hypergraph_grpc.demo.testing:GRAPHS"]
# Inputs for a `tokens` run that streams for minutes: long enough to stop or cancel it live.
SLOW = {"count": 100_000, "delay_ms": 5, "prefix": "s"}
# The same inputs as the CLI's `-i key=value` arguments.
SLOW_ARGS = [arg for key, value in SLOW.items() for arg in ("-i", f"{key}={value}")]


def seq_by_calls(events) -> list[int]:
    """The seq each event carries: a chunk advances it by the calls it holds (text
    queued during a write leaves joined), any other event by one."""
    return list(itertools.accumulate(getattr(e, "merged", 1) for e in events))


def new_id(prefix: str) -> str:
    """A fresh workflow id, so tests never collide on a live run."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def cli_argv(*args: str, target: str) -> list[str]:
    """The `hypergraph-grpc` command line for `args` against `target`."""
    return [sys.executable, "-m", "hypergraph_grpc.cli", *args, "--target", target]


def cli(*args: str, target: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the CLI to its end; text output."""
    return subprocess.run(
        cli_argv(*args, target=target),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
