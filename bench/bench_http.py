"""HTTP port benchmark: the Connect port beside the gRPC port of the same server.

One server process (`hypergraph-grpc serve --graphs bench.graphs:GRAPHS --http-port 0`)
serves both ports from one event loop; this process is the client. Each round
runs 16 concurrent Iter streams of the bench `tokens` graph (TOTAL_TOKENS tokens
split over the streams, merging on, the node emitting as fast as it can) over:

- grpc: grpc.aio with the generated stub (the reference);
- connect-proto-h1: Connect, binary protobuf, HTTP/1.1 (one connection per stream);
- connect-proto-h2: Connect, binary protobuf, HTTP/2 without TLS (one connection);
- connect-json-h1: Connect, JSON, HTTP/1.1 (what a browser page sends).

Twice: with merging (the default; tokens/s then also depends on how fast each
client reads, since a client that falls behind gets more tokens per message), and
with ``disable_merge`` on a quarter of the tokens (one message per token: the
per-message cost of each transport).

The Connect client is the generated one (connectrpc on pyqwest). Then latency: LATENCY_STREAMS streams whose nodes emit 20 tokens/s each for
LATENCY_SECONDS, over gRPC and Connect binary (HTTP/1.1: one connection per
stream; HTTP/2: all on one), from ``Event.time`` (stamped at the ``ctx.stream()``
call; same machine clock) to receipt, p50/p99 once every stream has its first chunk.

Figures:
tokens/s delivered, messages/s, server CPU microseconds per message, each the
median of BENCH_ROUNDS rounds (transports interleaved, so load from other
processes on a shared machine hits them alike), and the median of the rounds'
ratios to gRPC's tokens/s in the same round. Client and server share the machine: the JSON
client decodes in Python, so its figure includes that client cost.

Writes bench/results/http.json and prints a table.
    python bench/bench_http.py
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import grpc
import psutil
import pyqwest
from connectrpc.compat import google_protobuf_json_codec

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hypergraph_grpc.gen.hypergraph.v1 import runner_connect  # noqa: E402
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb  # noqa: E402
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2_grpc as pb_grpc  # noqa: E402
from tests.support.server_process import ServerProcess  # noqa: E402

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
TOTAL_TOKENS = int(100_000 * SCALE)
STREAMS = 16
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
TRANSPORTS = ("grpc", "connect-proto-h1", "connect-proto-h2", "connect-json-h1")
LATENCY_STREAMS = 256
LATENCY_RATE = 20  # tokens/s per stream
LATENCY_SECONDS = max(2.0, 5 * SCALE)
LATENCY_TRANSPORTS = ("grpc", "connect-proto-h1", "connect-proto-h2")
RESULTS = ROOT / "bench" / "results" / "http.json"


def iter_request(count: int, prefix: str, merge: bool = True) -> pb.IterRequest:
    request = pb.IterRequest(graph="tokens")
    request.values.update({"count": count, "prefix": prefix})
    request.options.disable_merge = not merge
    return request


def counted(events: list[pb.Event]) -> tuple[int, int]:
    """(tokens, messages): a merged chunk holds `merged` tokens."""
    tokens = sum(e.streaming_chunk.merged or 1 for e in events if e.HasField("streaming_chunk"))
    return tokens, len(events)


async def read_grpc(stub, request) -> tuple[int, int]:
    return counted([event async for event in stub.Iter(request)])


async def read_connect(client, request) -> tuple[int, int]:
    return counted([event async for event in client.iter(request)])


def connect_client(url: str, transport: str) -> runner_connect.RunnerServiceClient:
    version = pyqwest.HTTPVersion.HTTP2 if transport.endswith("h2") else pyqwest.HTTPVersion.HTTP1
    http = pyqwest.Client(pyqwest.HTTPTransport(http_version=version, enable_otel=False))
    codec = google_protobuf_json_codec() if "json" in transport else None
    if codec is None:
        return runner_connect.RunnerServiceClient(url, http_client=http, send_compression=None)
    return runner_connect.RunnerServiceClient(
        url, http_client=http, codec=codec, send_compression=None
    )


async def one_round(
    server: ServerProcess, proc: psutil.Process, transport: str, merge: bool
) -> dict:
    per_stream = (TOTAL_TOKENS if merge else TOTAL_TOKENS // 4) // STREAMS
    request = iter_request(per_stream, "t", merge)
    if transport == "grpc":
        channel = grpc.aio.insecure_channel(server.target)
        stub = pb_grpc.RunnerServiceStub(channel)
        read = lambda: read_grpc(stub, request)  # noqa: E731
        await read_grpc(stub, iter_request(2000, "w"))  # warm up
    else:
        client = connect_client(server.http_url, transport)
        read = lambda: read_connect(client, request)  # noqa: E731
        await read_connect(client, iter_request(2000, "w"))
    try:
        cpu0 = sum(proc.cpu_times()[:2])
        started = time.perf_counter()
        results = await asyncio.gather(*(read() for _ in range(STREAMS)))
        elapsed = time.perf_counter() - started
        cpu = sum(proc.cpu_times()[:2]) - cpu0
    finally:
        if transport == "grpc":
            await channel.close()
        else:
            await client.close()
    tokens = sum(r[0] for r in results)
    messages = sum(r[1] for r in results)
    return {
        "transport": transport,
        "streams": STREAMS,
        "tokens": tokens,
        "tokens_expected": per_stream * STREAMS,
        "messages": messages,
        "seconds": round(elapsed, 4),
        "tokens_per_s": round(tokens / elapsed),
        "messages_per_s": round(messages / elapsed),
        "server_cpu_us_per_message": round(cpu / max(messages, 1) * 1e6, 2),
    }


async def measure(server: ServerProcess, merge: bool) -> dict:
    proc = psutil.Process(server.popen.pid)
    rounds: dict[str, list[dict]] = {t: [] for t in TRANSPORTS}
    for index in range(ROUNDS):
        print(f"{'merged' if merge else 'unmerged'} round {index + 1}/{ROUNDS}", file=sys.stderr)
        reference = None
        for transport in TRANSPORTS:
            figure = await one_round(server, proc, transport, merge)
            if transport == "grpc":
                reference = figure["tokens_per_s"]
            figure["ratio_to_grpc"] = figure["tokens_per_s"] / reference
            rounds[transport].append(figure)
    summary = {}
    for transport, figures in rounds.items():

        def median(key: str, figures: list[dict] = figures) -> float:
            return statistics.median(f[key] for f in figures)

        summary[transport] = {
            "tokens_per_s": round(median("tokens_per_s")),
            "messages_per_s": round(median("messages_per_s")),
            "server_cpu_us_per_message": round(median("server_cpu_us_per_message"), 2),
            "ratio_to_grpc": round(median("ratio_to_grpc"), 3),
            "tokens_per_s_rounds": [f["tokens_per_s"] for f in figures],
            "tokens_complete": all(f["tokens"] == f["tokens_expected"] for f in figures),
        }
    return summary


async def latency(server: ServerProcess, transport: str) -> dict:
    """ctx.stream() -> receipt at LATENCY_STREAMS x LATENCY_RATE tokens/s."""
    count = int(LATENCY_SECONDS * LATENCY_RATE)
    request = pb.IterRequest(graph="tokens")
    request.values.update({"count": count, "delay_ms": 1000 / LATENCY_RATE, "prefix": "l"})
    samples: list[tuple[float, float]] = []  # (received at, latency s)
    firsts: list[float] = []

    async def read(stream) -> None:
        first = True
        async for event in stream:
            if event.HasField("streaming_chunk"):
                now = time.time()
                if first:
                    firsts.append(now)
                    first = False
                samples.append((now, now - event.time.ToNanoseconds() / 1e9))

    if transport == "grpc":
        async with grpc.aio.insecure_channel(server.target) as channel:
            stub = pb_grpc.RunnerServiceStub(channel)
            await asyncio.gather(*(read(stub.Iter(request)) for _ in range(LATENCY_STREAMS)))
    else:
        client = connect_client(server.http_url, transport)
        try:
            await asyncio.gather(*(read(client.iter(request)) for _ in range(LATENCY_STREAMS)))
        finally:
            await client.close()
    steady_from = max(firsts) if len(firsts) == LATENCY_STREAMS else float("inf")
    steady = sorted(lat for at, lat in samples if at >= steady_from)

    def pick(q: float) -> float:
        return round(steady[min(len(steady) - 1, int(q * len(steady)))] * 1000, 3) if steady else -1

    return {"p50_ms": pick(0.50), "p99_ms": pick(0.99), "n": len(steady)}


def main() -> int:
    with ServerProcess(
        "--graphs", "bench.graphs:GRAPHS", "--http-port", "0", "--log-level", "WARNING"
    ) as server:
        summary = {
            "merged": asyncio.run(measure(server, merge=True)),
            "unmerged": asyncio.run(measure(server, merge=False)),
        }
        delays = {}
        for transport in LATENCY_TRANSPORTS:
            print(f"latency {transport}", file=sys.stderr)
            delays[transport] = asyncio.run(latency(server, transport))
    results = {
        "what": f"{STREAMS} Iter streams of the bench tokens graph, one server, gRPC port vs HTTP port",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "total_tokens": TOTAL_TOKENS,
        "rounds": ROUNDS,
        "results": summary,
        "latency": {
            "what": f"ctx.stream() -> receipt, {LATENCY_STREAMS} streams x {LATENCY_RATE} tokens/s",
            **delays,
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(
        f"{'':<9}{'transport':<18} {'tokens/s':>10} {'msgs/s':>9} {'cpu us/msg':>10} {'vs grpc':>8}"
    )
    for mode, figures in summary.items():
        for transport, figure in figures.items():
            print(
                f"{mode:<9}{transport:<18} {figure['tokens_per_s']:>10} {figure['messages_per_s']:>9} "
                f"{figure['server_cpu_us_per_message']:>10} {figure['ratio_to_grpc']:>8}"
            )
    for transport, figure in delays.items():
        print(f"latency  {transport:<18} p50 {figure['p50_ms']} ms, p99 {figure['p99_ms']} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
