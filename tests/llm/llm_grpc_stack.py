"""A real hypergraph-grpc server subprocess wired to fake provider endpoints."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

__all__ = ["ServerProcess"]

ROOT = Path(__file__).resolve().parents[2]


class ServerProcess:
    """`hypergraph-grpc serve --port 0 ...` in a subprocess; `address` from its first stdout line."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        cmd = [
            sys.executable,
            "-m",
            "hypergraph_grpc.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            *args,
        ]
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stderr: list[str] = []
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        line = self.proc.stdout.readline().strip()
        if not line.startswith("listening on "):
            self.close()
            raise RuntimeError(f"server did not start: {line!r}\n{''.join(self.stderr)}")
        self.address = line.removeprefix("listening on ")

    def _drain_stderr(self) -> None:
        for line in self.proc.stderr:
            self.stderr.append(line)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
