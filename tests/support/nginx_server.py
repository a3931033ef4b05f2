"""A private nginx in front of given replicas, from deploy/nginx/hypergraph-grpc.conf.

The deployment file is used as shipped; only its upstream servers and its listen
address are replaced (by the given replicas and a free loopback port). nginx runs
in the foreground with every path (pid, logs, temp files) in a temp dir.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from tests.support.redis_server import free_port

__all__ = ["DEPLOY_CONF", "NginxServer", "render"]

DEPLOY_CONF = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "hypergraph-grpc.conf"


def render(replicas: Sequence[str], port: int) -> str:
    """The deployment file with these replicas as upstream servers, listening on port."""
    text = DEPLOY_CONF.read_text()
    servers = "".join(f"    server {r} max_fails=1 fail_timeout=5s;\n" for r in replicas)
    text, upstreams = re.subn(
        r"(?m)^    server \S+ [^\n]*\n(?:    server [^\n]*\n)*", servers, text
    )
    text, listens = re.subn(r"listen \S+ http2;", f"listen 127.0.0.1:{port} http2;", text)
    if upstreams != 1 or listens != 1:
        raise ValueError(f"{DEPLOY_CONF} no longer has one upstream server list and one listen")
    return text


class NginxServer:
    """nginx on a free loopback port balancing over ``replicas`` (HOST:PORT each)."""

    def __init__(self, replicas: Sequence[str]) -> None:
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(binary).exists():
            raise RuntimeError("nginx is not installed: run `make install`")
        self._dir = tempfile.TemporaryDirectory(prefix="hg-nginx-")
        root = Path(self._dir.name)
        self.port = free_port()
        (root / "hypergraph-grpc.conf").write_text(render(replicas, self.port))
        (root / "nginx.conf").write_text(
            "daemon off;\n"
            "worker_processes 1;\n"
            f"pid {root}/nginx.pid;\n"
            f"error_log {root}/error.log warn;\n"
            "events { worker_connections 1024; }\n"
            "http {\n"
            "    access_log off;\n"
            f"    client_body_temp_path {root}/body;\n"
            f"    proxy_temp_path {root}/proxy;\n"
            f"    fastcgi_temp_path {root}/fastcgi;\n"
            f"    uwsgi_temp_path {root}/uwsgi;\n"
            f"    scgi_temp_path {root}/scgi;\n"
            f"    include {root}/hypergraph-grpc.conf;\n"
            "}\n"
        )
        self.errors = ""
        self._proc = subprocess.Popen(
            [binary, "-p", str(root), "-c", str(root / "nginx.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 10
        while not self._listening():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"nginx did not start: {self.errors}")
            time.sleep(0.02)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _listening(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self.errors = self._proc.stderr.read()
        self._proc.stderr.close()
        self._dir.cleanup()
