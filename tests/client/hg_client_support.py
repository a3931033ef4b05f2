"""Real servers on free loopback ports for the Python client and CLI tests.

Each server is `python -m hypergraph_grpc.cli serve --host 127.0.0.1 --port 0 ...`
in its own process (as a user would start it); its first stdout line
`listening on HOST:PORT` gives the target.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
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


class ServerProcess:
    """`hypergraph-grpc serve` in a subprocess; stopped with SIGTERM at the end."""

    def __init__(self, extra_args: list[str]) -> None:
        argv = [sys.executable, "-m", "hypergraph_grpc.cli", "serve", "--host", "127.0.0.1"]
        self.popen = subprocess.Popen(
            [*argv, "--port", "0", *extra_args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        line = self._first_line(timeout=60)
        if not line.startswith("listening on "):
            self.popen.kill()
            _, err = self.popen.communicate(timeout=10)
            raise RuntimeError(f"server did not start: first line {line!r}\n{err}")
        self.target = line.split()[-1]
        # Drain the pipes so a chatty server never blocks on a full pipe.
        for pipe in (self.popen.stdout, self.popen.stderr):
            threading.Thread(target=pipe.read, daemon=True).start()

    def _first_line(self, timeout: float) -> str:
        box: list[str] = []
        reader = threading.Thread(target=lambda: box.append(self.popen.stdout.readline()))
        reader.daemon = True
        reader.start()
        reader.join(timeout)
        return box[0].strip() if box else ""

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
