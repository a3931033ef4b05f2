"""Cluster benchmark: Redis coordination against in-memory, and the cluster's own paths.

Servers are `hypergraph-grpc serve --graphs bench.graphs:GRAPHS` processes (the
service benchmark's `tokens` graph), on a private redis-server and, for Stop via
the balancer, behind a private nginx (deploy/nginx/hypergraph-grpc.conf), all on
free loopback ports. This process is the client.

- throughput: tokens/s at 16 concurrent Iter streams (merging on), one replica
  with `--coordination memory` against one with `--coordination redis://...`;
  ROUNDS rounds interleaved, the ratio is the median of the rounds' ratios;
- Watch catch-up: events/s replaying a finished run's whole log (memory, Redis),
  counted by seq (a catching-up Watch merges neighbouring text chunks);
- Stop via the balancer: 2 replicas behind nginx, STOPS live runs each stopped
  through the balancer (so half land on the other replica); p50/p99 of Stop;
- replica lost: kill -9 of a replica with a live run (lease 1 s); seconds until
  a Watch on the other replica sees the replica_lost RunEnded;
- latency ctx.stream() -> client, 256 streams x 20 tokens/s (bench_service's), memory
  and Redis coordination;
- tokens/s at 16 streams: 2 replicas behind nginx against 1 replica direct, and
  `serve --workers 2` against `--workers 1` (both on Redis coordination).

Writes bench/results/cluster.json and prints a table.
    python bench/bench_cluster.py
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import grpc  # noqa: E402
import psutil  # noqa: E402
from bench_service import (  # noqa: E402
    MeasuredServer,
    channel,
    latency,
    percentiles,
    throughput,
)

from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb  # noqa: E402
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2_grpc as pb_grpc  # noqa: E402
from tests.support import server_process  # noqa: E402
from tests.support.nginx_server import NginxServer  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
STREAMS = 16
CATCH_UP_TOKENS = int(50_000 * SCALE)
STOPS = int(100 * SCALE) or 10
RESULTS = ROOT / "bench" / "results"
GRAPHS = "bench.graphs:GRAPHS"


def serve(name: str, *args: str) -> MeasuredServer:
    argv = [*server_process.SERVE, "--graphs", GRAPHS, "--event-log-length", "100000", *args]
    return MeasuredServer(name, argv)


class Group:
    """Several server processes measured as one: a target and their summed CPU."""

    def __init__(self, target: str, pids: list[int]) -> None:
        self.target = target
        self._procs = [psutil.Process(pid) for pid in pids]

    def cpu(self) -> float:
        total = 0.0
        for proc in self._procs:
            times = proc.cpu_times()
            total += times.user + times.system
        return total


def workers_group(server: MeasuredServer) -> Group:
    """``serve --workers N``: the workers are the supervising process's children."""
    children = psutil.Process(server.popen.pid).children(recursive=True)
    return Group(server.target, [c.pid for c in children])


async def catch_up(target: str, workflow_id: str) -> dict:
    async with channel(target) as ch:
        stub = pb_grpc.RunnerServiceStub(ch)
        request = pb.IterRequest(graph="tokens", workflow_id=workflow_id)
        request.values.update({"count": CATCH_UP_TOKENS, "prefix": "c"})
        async for _ in stub.Iter(request):
            pass
        t0 = time.perf_counter()
        messages, last = 0, None
        async for event in stub.Watch(pb.WatchRequest(workflow_id=workflow_id)):
            messages += 1
            last = event
        elapsed = time.perf_counter() - t0
    events = last.seq  # the RunEnded seq: every event of the run was replayed
    return {
        "events": events,
        "messages": messages,
        "seconds": elapsed,
        "events_per_s": events / elapsed,
    }


async def stop_via_balancer(target: str) -> dict:
    samples = []
    async with channel(target) as starting, channel(target, separate=True) as stopping:
        starter = pb_grpc.RunnerServiceStub(starting)
        stopper = pb_grpc.RunnerServiceStub(stopping)
        for i in range(STOPS):
            request = pb.IterRequest(graph="tokens", workflow_id=f"bench-stop-{i}")
            request.values.update({"count": 1_000_000, "delay_ms": 5})
            call = starter.Iter(request)
            await call.read()
            t0 = time.perf_counter()
            answer = await stopper.Stop(pb.StopRequest(workflow_id=f"bench-stop-{i}"))
            samples.append((time.perf_counter() - t0) * 1000)
            assert answer.found
            while await call.read() is not grpc.aio.EOF:
                pass
    return {"stop_ms": percentiles(samples)}


async def replica_lost_seconds(redis: RedisServer) -> dict:
    lease = ("--coordination", redis.url, "--lease-seconds", "1")
    with serve("doomed", *lease) as doomed, serve("survivor", *lease) as survivor:
        async with channel(doomed.target) as d, channel(survivor.target) as s:
            request = pb.IterRequest(
                graph="tokens", workflow_id="bench-lost", options={"detach": True}
            )
            request.values.update({"count": 1_000_000, "delay_ms": 5})
            call = pb_grpc.RunnerServiceStub(d).Iter(request)
            await call.read()
            call.cancel()
            watch = pb_grpc.RunnerServiceStub(s).Watch(pb.WatchRequest(workflow_id="bench-lost"))
            await watch.read()
            doomed.popen.send_signal(signal.SIGKILL)
            killed = time.perf_counter()
            last = None
            while (event := await watch.read()) is not grpc.aio.EOF:
                last = event
            seen = time.perf_counter() - killed
    assert last.run_ended.result.error.type == "replica_lost"
    return {"lease_seconds": 1.0, "replica_lost_seen_s": seen}


async def run_all() -> dict:
    redis = RedisServer()
    results: dict = {}
    try:
        with serve("memory") as memory, serve("redis", "--coordination", redis.url) as clustered:
            rounds = []
            for _ in range(ROUNDS):
                m = await throughput(memory, STREAMS, True)
                r = await throughput(clustered, STREAMS, True)
                rounds.append((m, r))
            results["throughput_16"] = {
                "memory_tokens_per_s": statistics.median(m["tokens_per_s"] for m, _ in rounds),
                "redis_tokens_per_s": statistics.median(r["tokens_per_s"] for _, r in rounds),
                "redis_vs_memory": statistics.median(
                    r["tokens_per_s"] / m["tokens_per_s"] for m, r in rounds
                ),
                "memory_cpu_us_per_token": statistics.median(
                    m["server_cpu_us_per_token"] for m, _ in rounds
                ),
                "redis_cpu_us_per_token": statistics.median(
                    r["server_cpu_us_per_token"] for _, r in rounds
                ),
            }
            results["watch_catch_up"] = {
                "memory": await catch_up(memory.target, "bench-catch-up-m"),
                "redis": await catch_up(clustered.target, "bench-catch-up-r"),
            }
            results["latency_256x20"] = {
                "memory": await latency(memory),
                "redis": await latency(clustered),
            }
            single = await throughput(clustered, STREAMS, True)
        with (
            serve("replica-0", "--coordination", redis.url) as first,
            serve("replica-1", "--coordination", redis.url) as second,
        ):
            nginx = NginxServer([first.target, second.target])
            try:
                results["stop_via_balancer"] = await stop_via_balancer(nginx.target)
                pair = Group(nginx.target, [first.popen.pid, second.popen.pid])
                balanced = await throughput(pair, STREAMS, True)
                results["two_behind_nginx_vs_one_direct"] = {
                    "one_direct_tokens_per_s": single["tokens_per_s"],
                    "two_behind_nginx_tokens_per_s": balanced["tokens_per_s"],
                    "ratio": balanced["tokens_per_s"] / single["tokens_per_s"],
                }
            finally:
                nginx.close()
        with (
            serve("workers-1", "--coordination", redis.url) as one,
            serve("workers-2", "--coordination", redis.url, "--workers", "2") as two,
        ):
            alone = await throughput(one, STREAMS, True)
            shared = await throughput(workers_group(two), STREAMS, True)
            results["workers_2_vs_1"] = {
                "workers_1_tokens_per_s": alone["tokens_per_s"],
                "workers_2_tokens_per_s": shared["tokens_per_s"],
                "ratio": shared["tokens_per_s"] / alone["tokens_per_s"],
            }
        results["replica_lost"] = await replica_lost_seconds(redis)
    finally:
        redis.close()
    return results


def print_table(results: dict) -> None:
    t = results["throughput_16"]
    w = results["watch_catch_up"]
    s = results["stop_via_balancer"]["stop_ms"]
    lost = results["replica_lost"]
    lat = results["latency_256x20"]
    lb = results["two_behind_nginx_vs_one_direct"]
    wk = results["workers_2_vs_1"]
    print(f"{'figure':58} value")
    print(f"{'tokens/s, 16 streams, memory':58} {t['memory_tokens_per_s']:,.0f}")
    print(f"{'tokens/s, 16 streams, redis':58} {t['redis_tokens_per_s']:,.0f}")
    print(f"{'redis / memory (median of rounds)':58} {t['redis_vs_memory']:.2f}x")
    print(
        f"{'server CPU us/token memory / redis':58} "
        f"{t['memory_cpu_us_per_token']:.1f} / {t['redis_cpu_us_per_token']:.1f}"
    )
    print(
        f"{'Watch catch-up events/s memory / redis':58} "
        f"{w['memory']['events_per_s']:,.0f} / {w['redis']['events_per_s']:,.0f}"
    )
    print(
        f"{'ctx.stream -> client p99 ms, 256 x 20 tok/s, memory / redis':58} "
        f"{lat['memory']['p99']:.2f} / {lat['redis']['p99']:.2f}"
    )
    print(f"{'Stop via nginx, 2 replicas: p50 / p99 ms':58} {s['p50']:.2f} / {s['p99']:.2f}")
    print(
        f"{'tokens/s 16 streams: 2 behind nginx / 1 direct':58} "
        f"{lb['two_behind_nginx_tokens_per_s']:,.0f} / {lb['one_direct_tokens_per_s']:,.0f}"
        f" ({lb['ratio']:.2f}x)"
    )
    print(
        f"{'tokens/s 16 streams: --workers 2 / --workers 1':58} "
        f"{wk['workers_2_tokens_per_s']:,.0f} / {wk['workers_1_tokens_per_s']:,.0f}"
        f" ({wk['ratio']:.2f}x)"
    )
    print(f"{'kill -9 -> replica_lost seen (lease 1 s), s':58} {lost['replica_lost_seen_s']:.2f}")


def main() -> int:
    results = asyncio.run(run_all())
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "cluster.json").write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
