"""`make run-cluster`: a private cluster on this machine until Ctrl-C.

A redis-server, two replicas (`hypergraph-grpc serve --coordination redis://...
--metrics-port 0`, each printed with its /metrics URL,
the demo graphs) and nginx in front of them (deploy/nginx/hypergraph-grpc.conf),
all on free loopback ports with their files in temp dirs. Prints the address to
use; Ctrl-C (or SIGTERM) stops everything.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.nginx_server import NginxServer  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402
from tests.support.server_process import ServerProcess  # noqa: E402

REPLICAS = 2


def main() -> int:
    done = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: done.set())
    redis = RedisServer()
    replicas: list[ServerProcess] = []
    nginx = None
    try:
        for _ in range(REPLICAS):
            replicas.append(ServerProcess("--coordination", redis.url, "--metrics-port", "0"))
        nginx = NginxServer([r.target for r in replicas])
        print(f"redis     {redis.url}")
        for replica in replicas:
            print(f"replica   {replica.target}   metrics {replica.metrics_url()}")
        print(f"nginx     {nginx.target}")
        print()
        print(f"use {nginx.target}, e.g.")
        print(f"  hypergraph-grpc run chat -i prompt=hi --target {nginx.target}")
        print(f"  hypergraph-grpc runs --target {nginx.target}")
        print("Ctrl-C stops the cluster.", flush=True)
        done.wait()
    finally:
        if nginx is not None:
            nginx.close()
        for replica in replicas:
            replica.stop()
        redis.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
