"""Shared values of the Python client and CLI tests: the scenario table, the test
graphs' serve arguments, slow-run inputs and fresh workflow ids. The servers are
``tests.support.server_process.ServerProcess``."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = json.loads((ROOT / "clients" / "scenarios.json").read_text())
TESTING_GRAPHS = ["--graphs", "hypergraph_grpc.demo.testing:GRAPHS"]
# Inputs for a `tokens` run that streams for minutes: long enough to stop or cancel it live.
SLOW = {"count": 100_000, "delay_ms": 5, "prefix": "s"}


def new_id(prefix: str) -> str:
    """A fresh workflow id, so tests never collide on a live run."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
