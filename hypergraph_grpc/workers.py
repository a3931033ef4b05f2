"""``serve --workers N``: N server processes sharing one port (SO_REUSEPORT).

One Python process uses one core; this is how a machine's cores are used. This
process only supervises: it picks the port (a free one for ``--port 0``), starts
N ``serve`` processes with the same arguments on that port with
``--reuse-port`` (the kernel spreads new connections over them), prints one
``listening on HOST:PORT`` line once all listen, passes SIGTERM/SIGINT on (each
worker drains as a single server does) and exits when they have all exited.

Workers must share coordination: with ``--coordination memory`` each would
keep its own live runs (one workflow id could run twice; Stop and Watch would
miss the other workers' runs), so N > 1 needs ``--coordination redis://...``.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from collections.abc import Sequence

__all__ = ["needs_shared_coordination", "run_workers"]


def needs_shared_coordination(workers: int, coordination: str) -> str | None:
    """Why ``--workers`` cannot be used with this coordination (None: it can)."""
    if workers > 1 and coordination in ("", "memory"):
        return (
            f"--workers {workers} needs --coordination redis://HOST:PORT/DB: with in-memory "
            "coordination every worker would keep its own live runs, so one workflow id could "
            "run twice and Stop/Watch would miss the other workers' runs. How to fix: start a "
            "Redis and pass --coordination redis://..., or use --workers 1."
        )
    return None


def run_workers(
    argv: Sequence[str], host: str, port: int, workers: int, metrics_port: int | None = None
) -> int:
    """Start ``workers`` copies of ``serve argv`` on one port; their worst exit code.

    With ``metrics_port`` P each worker serves its own /metrics, on P, P+1, ...
    (0: each on a free port of its own, named in its log)."""
    with _reserved(host, port) as chosen:
        extra = ["--port", str(chosen), "--workers", "1", "--reuse-port"]
        command = [sys.executable, "-m", "hypergraph_grpc.cli", "serve", *argv, *extra]
        children = []
        for index in range(workers):
            own = (
                []
                if metrics_port is None
                else ["--metrics-port", str(metrics_port and metrics_port + index)]
            )
            child = subprocess.Popen([*command, *own], stdout=subprocess.PIPE, text=True)
            children.append(child)
            line = child.stdout.readline().strip()
            if "--http-port" in argv and line.startswith("listening on "):
                # Every worker serves the same HTTP port too; its line follows.
                http_line = child.stdout.readline().strip()
            if not line.startswith("listening on "):
                for started in children:
                    started.terminate()
                    started.wait()
                print(f"hypergraph-grpc serve: a worker did not start ({line!r})", file=sys.stderr)
                return 1
    sys.stdout.write(f"{line}\n")
    if "--http-port" in argv:
        sys.stdout.write(f"{http_line}\n")
    sys.stdout.flush()

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    # SIGHUP too: each worker reloads its TLS certificate.
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    return max(child.wait() for child in children)


class _reserved:
    """The port the workers share, held (SO_REUSEPORT, not listening) until they listen,
    so nothing else takes a free port picked for ``--port 0`` meanwhile."""

    def __init__(self, host: str, port: int) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        self._sock.bind((host, port))

    def __enter__(self) -> int:
        return self._sock.getsockname()[1]

    def __exit__(self, *exc: object) -> None:
        self._sock.close()
