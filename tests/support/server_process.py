"""A server in its own process, started as a user starts it, for tests and benchmarks.

``ServerProcess(*serve_args)`` runs ``python -m hypergraph_grpc.cli serve --host
127.0.0.1 --port 0 *serve_args`` (or any ``command`` whose first stdout line is
``listening on HOST:PORT``, such as the benchmark's bare grpc.aio baseline or
the fake LLM provider) and reads its address from that line; with ``--http-port`` it
reads the HTTP port's URL (``http_url``) from the next one. Its stderr lines
are kept in ``stderr`` and its stdout is drained, so a chatty server never
blocks on a full pipe.

:func:`serve_refused` runs ``serve`` with arguments it refuses before listening.
:func:`wait_until_free` and :func:`wait_until_free_async` wait for a workflow
id's run to end, with the Python client (sync or async).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "ROOT",
    "SERVE",
    "ServerProcess",
    "serve_refused",
    "wait_until_free",
    "wait_until_free_async",
]

ROOT = Path(__file__).resolve().parents[2]
SERVE = (sys.executable, "-m", "hypergraph_grpc.cli", "serve", "--host", "127.0.0.1", "--port", "0")
# Generous: on a loaded 2-core machine importing the server (and the LLM SDKs) takes seconds.
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


class ServerProcess:
    """A started server process: ``target`` (HOST:PORT), ``http_url``, ``popen``, ``stderr``."""

    def __init__(
        self,
        *serve_args: str,
        env: Mapping[str, str] | None = None,
        command: Sequence[str] = SERVE,
    ) -> None:
        self.popen = subprocess.Popen(
            [*command, *serve_args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
        self.stderr: list[str] = []
        threading.Thread(target=self._keep_stderr, daemon=True).start()
        line = self._next_line()
        if not line.startswith("listening on "):
            self.popen.kill()
            self.popen.wait(STOP_TIMEOUT)
            raise RuntimeError(f"{' '.join(command[1:4])} did not start: {line!r}\n{self.log()}")
        self.target = line.removeprefix("listening on ")
        self.http_url = ""
        if "--http-port" in serve_args:
            self.http_url = self._next_line().removeprefix("http listening on ")
        threading.Thread(target=self.popen.stdout.read, daemon=True).start()

    def _next_line(self) -> str:
        box: list[str] = []
        reader = threading.Thread(target=lambda: box.append(self.popen.stdout.readline()))
        reader.daemon = True
        reader.start()
        reader.join(STARTUP_TIMEOUT)
        return box[0].strip() if box else ""

    def _keep_stderr(self) -> None:
        for line in self.popen.stderr:
            self.stderr.append(line)

    def log(self) -> str:
        """Everything the process wrote to stderr so far."""
        return "".join(self.stderr)

    def metrics_url(self) -> str:
        """The /metrics URL a ``--metrics-port`` server logged (waits for the line)."""
        give_up = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < give_up:
            found = re.search(r"metrics_url[=\":\s]+(http://[^\s\"]+)", self.log())
            if found:
                return found.group(1)
            time.sleep(0.05)
        raise RuntimeError(f"the server logged no metrics_url:\n{self.log()}")

    def stop(self) -> int:
        """SIGTERM (the server drains), then kill if it is still there; its exit code."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(STOP_TIMEOUT)
        return self.popen.returncode

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_refused(*serve_args: str) -> subprocess.CompletedProcess:
    """``serve`` with arguments it refuses before it listens: the ended process (text output)."""
    return subprocess.run(
        [*SERVE, *serve_args], cwd=ROOT, capture_output=True, text=True, timeout=STARTUP_TIMEOUT
    )


def wait_until_free(client: Any, workflow_id: str, within: float = 15.0) -> Any:
    """Run ``add`` under ``workflow_id`` with a sync client, retrying while an
    earlier run still holds the id (ALREADY_EXISTS); its result."""
    from hypergraph_grpc.client import AlreadyExistsError

    give_up = time.monotonic() + within
    while True:
        try:
            return client.run("add", {"a": 1, "b": 1}, workflow_id=workflow_id)
        except AlreadyExistsError:
            if time.monotonic() > give_up:
                raise
            time.sleep(0.02)


async def wait_until_free_async(client: Any, workflow_id: str, within: float = 15.0) -> Any:
    """:func:`wait_until_free` with an async client."""
    from hypergraph_grpc.client import AlreadyExistsError

    give_up = time.monotonic() + within
    while True:
        try:
            return await client.run("add", {"a": 1, "b": 1}, workflow_id=workflow_id)
        except AlreadyExistsError:
            if time.monotonic() > give_up:
                raise
            await asyncio.sleep(0.02)
