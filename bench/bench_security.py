"""Security benchmark: what TLS and authentication cost, in one run.

Three servers of the bench graphs (bench/graphs.py) run side by side, each in its
own process: plaintext, TLS (a test CA's certificate, tests/support/certificates.py)
and plaintext with ``--auth-file`` (one token). This process is the client (raw
generated stubs). Rounds are interleaved, each figure the median of the rounds.

- throughput: tokens/s over STREAMS concurrent Iter streams of the ``tokens`` graph
  (TOTAL_TOKENS per round), TLS beside plaintext and their ratio, and the server's
  CPU microseconds per token (psutil) for each;
- latency: ctx.stream() -> client receipt (Event.time to receipt) over
  LATENCY_STREAMS paced streams, p50/p99, TLS beside plaintext;
- auth cost per call: server CPU microseconds per ListGraphs call (CALLS sequential
  calls) with the auth interceptor (a bearer token checked against the auth file)
  minus without, and the client-seen p50 per call of each.

Writes bench/results/security.json and prints a table.
    python bench/bench_security.py
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import grpc

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_service import (  # noqa: E402
    GRAPHS,
    MeasuredServer,
    consume,
    iter_request,
    percentiles,
)
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb  # noqa: E402
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2_grpc as pb_grpc  # noqa: E402
from hypergraph_grpc.tls import channel_credentials  # noqa: E402
from tests.support import server_process  # noqa: E402
from tests.support.certificates import make_pki  # noqa: E402

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
STREAMS = 16
TOTAL_TOKENS = int(100_000 * SCALE)
LATENCY_STREAMS = 64
LATENCY_RATE = 20
LATENCY_SECONDS = max(2.0, 4 * SCALE)
CALLS = int(2000 * SCALE) or 200
TOKEN = "bench-token"
OUT = ROOT / "bench" / "results" / "security.json"


def start(name: str, *flags: str) -> MeasuredServer:
    return MeasuredServer(name, [*server_process.SERVE, "--graphs", GRAPHS, *flags])


def open_channel(server: MeasuredServer, credentials) -> grpc.aio.Channel:
    options = [("grpc.max_receive_message_length", 64 * 1024 * 1024)]
    if credentials is None:
        return grpc.aio.insecure_channel(server.target, options=options)
    return grpc.aio.secure_channel(server.target, credentials, options=options)


async def throughput(server: MeasuredServer, credentials) -> dict:
    """Tokens/s over STREAMS streams, and the server's CPU microseconds per token."""
    per_stream = TOTAL_TOKENS // STREAMS
    async with open_channel(server, credentials) as channel:
        stub = pb_grpc.RunnerServiceStub(channel)
        await consume(stub, iter_request({"count": 2000}))  # warm up
        request = iter_request({"count": per_stream})
        cpu = server.cpu()
        started = time.perf_counter()
        counts = await asyncio.gather(*(consume(stub, request) for _ in range(STREAMS)))
        elapsed = time.perf_counter() - started
        cpu = server.cpu() - cpu
    tokens = sum(tokens for tokens, _, _ in counts)
    return {"tokens_per_s": tokens / elapsed, "server_cpu_us_per_token": cpu / tokens * 1e6}


async def latency(server: MeasuredServer, credentials) -> dict:
    count = int(LATENCY_RATE * LATENCY_SECONDS)
    request = iter_request({"count": count, "delay_ms": 1000 / LATENCY_RATE})
    samples: list[float] = []

    async def one(stub) -> None:
        async for event in stub.Iter(request):
            if event.WhichOneof("kind") == "streaming_chunk":
                emitted = event.time.seconds + event.time.nanos / 1e9
                samples.append((time.time() - emitted) * 1000)

    async with open_channel(server, credentials) as channel:
        stub = pb_grpc.RunnerServiceStub(channel)
        await consume(stub, iter_request({"count": 100}))
        await asyncio.gather(*(one(stub) for _ in range(LATENCY_STREAMS)))
    skip = len(samples) // 10  # the start-up burst
    return percentiles(samples[skip:])


async def call_cost(server: MeasuredServer, metadata) -> dict:
    """Server CPU per ListGraphs call and the client-seen p50, over CALLS calls."""
    async with open_channel(server, None) as channel:
        stub = pb_grpc.RunnerServiceStub(channel)
        for _ in range(50):
            await stub.ListGraphs(pb.ListGraphsRequest(), metadata=metadata)
        times = []
        cpu = server.cpu()
        for _ in range(CALLS):
            started = time.perf_counter()
            await stub.ListGraphs(pb.ListGraphsRequest(), metadata=metadata)
            times.append((time.perf_counter() - started) * 1e6)
        cpu_us = (server.cpu() - cpu) / CALLS * 1e6
    return {"server_cpu_us": cpu_us, "client_p50_us": statistics.median(times)}


async def run_all() -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        pki = make_pki(Path(scratch))
        auth_file = Path(scratch) / "auth.toml"
        auth_file.write_text(f'[[token]]\ntoken = "{TOKEN}"\nscopes = ["run"]\n')
        plain = start("plaintext")
        tls = start("tls", "--tls-cert", pki.server.cert, "--tls-key", pki.server.key)
        auth = start("auth", "--auth-file", str(auth_file))
        trust = channel_credentials(pki.ca)
        rounds: list[dict] = []
        try:
            for _ in range(ROUNDS):
                rounds.append(
                    {
                        "plain": await throughput(plain, None),
                        "tls": await throughput(tls, trust),
                        "plain_latency": await latency(plain, None),
                        "tls_latency": await latency(tls, trust),
                        "no_auth": await call_cost(plain, None),
                        "auth": await call_cost(auth, (("authorization", f"Bearer {TOKEN}"),)),
                    }
                )
        finally:
            for server in (plain, tls, auth):
                server.stop()

    def median(pick) -> float:
        return statistics.median(pick(r) for r in rounds)

    return {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "load_avg_1m": os.getloadavg()[0],
        "rounds": ROUNDS,
        "throughput": {
            "streams": STREAMS,
            "plaintext_tokens_per_s": median(lambda r: r["plain"]["tokens_per_s"]),
            "tls_tokens_per_s": median(lambda r: r["tls"]["tokens_per_s"]),
            "tls_ratio": median(lambda r: r["tls"]["tokens_per_s"] / r["plain"]["tokens_per_s"]),
            "plaintext_server_cpu_us_per_token": median(
                lambda r: r["plain"]["server_cpu_us_per_token"]
            ),
            "tls_server_cpu_us_per_token": median(lambda r: r["tls"]["server_cpu_us_per_token"]),
        },
        "latency_ms": {
            "streams": LATENCY_STREAMS,
            "rate": LATENCY_RATE,
            "plaintext_p50": median(lambda r: r["plain_latency"]["p50"]),
            "plaintext_p99": median(lambda r: r["plain_latency"]["p99"]),
            "tls_p50": median(lambda r: r["tls_latency"]["p50"]),
            "tls_p99": median(lambda r: r["tls_latency"]["p99"]),
        },
        "auth_per_call": {
            "calls": CALLS,
            "server_cpu_us_without": median(lambda r: r["no_auth"]["server_cpu_us"]),
            "server_cpu_us_with": median(lambda r: r["auth"]["server_cpu_us"]),
            "server_cpu_us_added": median(
                lambda r: r["auth"]["server_cpu_us"] - r["no_auth"]["server_cpu_us"]
            ),
            "client_p50_us_without": median(lambda r: r["no_auth"]["client_p50_us"]),
            "client_p50_us_with": median(lambda r: r["auth"]["client_p50_us"]),
        },
    }


def print_table(results: dict) -> None:
    t, lat, a = results["throughput"], results["latency_ms"], results["auth_per_call"]
    print(f"{'':34}{'plaintext':>12}{'TLS':>12}{'TLS/plain':>11}")
    label = f"tokens/s, {t['streams']} streams"
    print(
        f"{label:34}{t['plaintext_tokens_per_s']:>12,.0f}"
        f"{t['tls_tokens_per_s']:>12,.0f}{t['tls_ratio']:>11.2f}"
    )
    print(
        f"{'server CPU us per token':34}{t['plaintext_server_cpu_us_per_token']:>12.2f}"
        f"{t['tls_server_cpu_us_per_token']:>12.2f}"
    )
    for q in ("p50", "p99"):
        label = f"token latency {q} ms, {lat['streams']} streams"
        print(f"{label:34}{lat[f'plaintext_{q}']:>12.2f}{lat[f'tls_{q}']:>12.2f}")
    print(f"{'':34}{'no auth':>12}{'auth file':>12}{'added':>11}")
    print(
        f"{'server CPU us per call':34}{a['server_cpu_us_without']:>12.1f}"
        f"{a['server_cpu_us_with']:>12.1f}{a['server_cpu_us_added']:>11.1f}"
    )
    print(
        f"{'client p50 us per call':34}{a['client_p50_us_without']:>12.1f}"
        f"{a['client_p50_us_with']:>12.1f}"
    )
    print(f"(load average {results['load_avg_1m']:.2f} on {results['machine']['cpus']} CPUs)")


def main() -> int:
    results = asyncio.run(run_all())
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
