"""LLM streaming through the whole stack vs the bare async SDK, and Stop -> upstream hang-up.

Processes: a fake Anthropic endpoint (tests/fakes, its own process), the
hypergraph-grpc server (subprocess, ``--provider anthropic`` pointed at the
fake), and this process as the client. Figures, all measured in this run:

1. tokens/s delivered to a gRPC client running the `chat` demo graph, while the
   fake streams 1,000 tokens per answer as fast as it can, at 1 and 64
   concurrent runs; the baseline is the bare ``AsyncAnthropic`` SDK reading the
   same stream from the same fake in this process (target ratio >= 0.8), both
   with the ``messages.stream()`` helper (what a user writes) and with the raw
   ``messages.create(stream=True)`` events our node reads;
2. Stop -> upstream disconnect: from the client's Stop call to the moment the
   fake sees the server hang up on it (p50/p99; target <= 50 ms). Both sides
   read CLOCK_MONOTONIC, which is system-wide on Linux. Reference: the bare SDK's
   own ``stream.close()`` -> disconnect.

Writes bench/results/llm.json and prints a table. Run: ``.venv/bin/python bench/bench_llm.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "llm.json"
sys.path.insert(0, str(ROOT))

from hypergraph_grpc.client import AsyncClient, StreamingChunk  # noqa: E402
from tests.support.server_process import ServerProcess  # noqa: E402

TOKENS = 1000
KEY = "sk-bench-fake"


# -- processes -------------------------------------------------------------------


class Fake:
    """The fake provider process, controlled over its HTTP control endpoints."""

    def __init__(self) -> None:
        self.process = ServerProcess(
            command=[sys.executable, "-m", "fakes", "--kind", "anthropic"],
            env={"PYTHONPATH": str(ROOT / "tests")},
        )
        self.url = f"http://{self.process.target}"

    def _post(self, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body or {}).encode()
        request = urllib.request.Request(
            self.url + path,
            data=data,
            headers={"content-type": "application/json", "x-api-key": KEY},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def script(self, **fields) -> None:
        self._post("/_fake/script", fields)

    def reset(self) -> None:
        self._post("/_fake/reset")

    def records(self) -> dict:
        return self._post("/_fake/records")

    def close(self) -> None:
        self.process.stop()


# -- throughput ------------------------------------------------------------------


async def bare_sdk_stream(sdk) -> int:
    """The baseline: the async SDK alone reading one answer's text deltas."""
    count = 0
    async with sdk.messages.stream(
        model="bench", max_tokens=TOKENS, messages=[{"role": "user", "content": "go"}]
    ) as stream:
        async for _text in stream.text_stream:
            count += 1
    return count


async def bare_sdk_raw(sdk) -> int:
    """A second baseline: the SDK's raw event stream (messages.create(stream=True)), which our node uses."""
    count = 0
    stream = await sdk.messages.create(
        model="bench", max_tokens=TOKENS, messages=[{"role": "user", "content": "go"}], stream=True
    )
    async for event in stream:
        if event.type == "content_block_delta" and event.delta.type == "text_delta":
            count += 1
    return count


async def stack_stream(client: AsyncClient) -> int:
    """Through the stack: the chat graph over Iter; merged chunks count every token they hold."""
    count = 0
    async for event in client.iter("chat", {"prompt": "go", "max_tokens": TOKENS}):
        if isinstance(event, StreamingChunk):
            count += event.merged
    return count


async def tokens_per_second(make_one, concurrency: int) -> float:
    """`concurrency` workers, each reading answers back to back; total tokens / wall time.

    A single stream reads 5 answers per round (one answer is only ~0.1 s:
    too short to time well on a shared machine); 64 streams read one each.
    """
    answers = 5 if concurrency == 1 else 1

    async def worker() -> list[int]:
        return [await make_one() for _ in range(answers)]

    start = time.perf_counter()
    counts = [
        c for per in await asyncio.gather(*(worker() for _ in range(concurrency))) for c in per
    ]
    elapsed = time.perf_counter() - start
    if any(c != TOKENS for c in counts):
        raise RuntimeError(f"a stream delivered {counts} tokens, expected {TOKENS} each")
    return sum(counts) / elapsed


async def throughput(fake: Fake, address: str, sdk, rounds: int) -> dict:
    fake.script(tokens=[f"t{i} " for i in range(TOKENS)], delay=0.0)
    results = {}
    async with AsyncClient(address, timeout=120) as client:
        for _ in range(3):  # warm up every path (connections, lazy imports, caches)
            await stack_stream(client)
            await bare_sdk_stream(sdk)
            await bare_sdk_raw(sdk)
        for concurrency in (1, 64):
            base, raw, stack = [], [], []
            for _ in range(rounds):  # interleaved, so all see the same machine load
                base.append(await tokens_per_second(lambda: bare_sdk_stream(sdk), concurrency))
                raw.append(await tokens_per_second(lambda: bare_sdk_raw(sdk), concurrency))
                stack.append(await tokens_per_second(lambda: stack_stream(client), concurrency))
                fake.reset()
            b, r, s = statistics.median(base), statistics.median(raw), statistics.median(stack)
            results[str(concurrency)] = {
                "bare_sdk_tokens_per_s": round(b),
                "bare_sdk_raw_tokens_per_s": round(r),
                "stack_tokens_per_s": round(s),
                "ratio": round(s / b, 3),
                "ratio_vs_raw": round(s / r, 3),
                "rounds": rounds,
            }
    return results


# -- stop latency ----------------------------------------------------------------


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _summary(ms: list[float]) -> dict:
    return {
        "p50_ms": round(_pct(ms, 0.5), 2),
        "p99_ms": round(_pct(ms, 0.99), 2),
        "max_ms": round(max(ms), 2),
        "n": len(ms),
    }


async def stop_latency(fake: Fake, address: str, sdk, trials: int) -> tuple[dict, dict]:
    fake.script(
        tokens=[f"t{i} " for i in range(TOKENS)], delay=0.002
    )  # a paced stream to stop mid-way
    stack_ms, bare_ms = [], []
    async with (
        AsyncClient(address, timeout=60) as client,
        AsyncClient(address, timeout=60) as stopper,
    ):
        for i in range(trials):
            fake.reset()
            workflow_id = f"bench-stop-{i}"
            seen = 0
            async for event in client.iter("chat", {"prompt": "go"}, workflow_id=workflow_id):
                if isinstance(event, StreamingChunk):
                    seen += event.merged
                    if seen == 5:
                        t0 = time.monotonic()
                        await stopper.stop(workflow_id, {"kind": "bench"})
            stack_ms.append(await _disconnect_ms(fake, t0))
        for _ in range(trials):
            fake.reset()
            async with sdk.messages.stream(
                model="bench", max_tokens=TOKENS, messages=[{"role": "user", "content": "go"}]
            ) as stream:
                seen = 0
                async for _text in stream.text_stream:
                    seen += 1
                    if seen == 5:
                        t0 = time.monotonic()
                        await stream.close()
                        break
            bare_ms.append(await _disconnect_ms(fake, t0))
    return _summary(stack_ms), _summary(bare_ms)


async def stop_latency_in_process(fake: Fake, trials: int) -> dict:
    """The same Stop -> disconnect without gRPC: runner.stop() on the chat graph in this process."""
    from hypergraph import AsyncRunner, TypedEventProcessor
    from hypergraph_grpc.demo import GRAPHS

    class FifthChunk(TypedEventProcessor):
        def __init__(self) -> None:
            self.seen, self.reached = 0, asyncio.Event()

        def on_streaming_chunk(self, event) -> None:
            self.seen += 1
            if self.seen == 5:
                self.reached.set()

    runner, ms = AsyncRunner(), []
    for i in range(trials):
        fake.reset()
        counter = FifthChunk()
        run = asyncio.create_task(
            runner.run(
                GRAPHS["chat"], {"prompt": "go"}, workflow_id=f"ip-{i}", event_processors=[counter]
            )
        )
        await counter.reached.wait()
        t0 = time.monotonic()
        runner.stop(f"ip-{i}", info={"kind": "bench"})
        await run
        ms.append(await _disconnect_ms(fake, t0))
    return _summary(ms)


async def _disconnect_ms(fake: Fake, t0: float) -> float:
    for _ in range(500):
        streams = (await asyncio.to_thread(fake.records))["streams"]
        if streams and streams[-1]["disconnected_at"] is not None:
            return (streams[-1]["disconnected_at"] - t0) * 1000
        await asyncio.sleep(0.01)
    raise RuntimeError("the fake never saw the stream hang up after Stop")


# -- main ------------------------------------------------------------------------


async def bench(rounds: int, trials: int) -> dict:
    from anthropic import AsyncAnthropic

    fake = Fake()
    env = {
        "ANTHROPIC_BASE_URL": fake.url,
        "ANTHROPIC_API_KEY": KEY,
        "HYPERGRAPH_LLM_RETRIES": "0",
        "PYTHONPATH": str(ROOT),
    }
    server = ServerProcess("--provider", "anthropic", "--log-level", "WARNING", env=env)
    address = server.target
    sdk = AsyncAnthropic(api_key=KEY, base_url=fake.url, max_retries=0)
    os.environ.update(
        {
            "ANTHROPIC_BASE_URL": fake.url,
            "ANTHROPIC_API_KEY": KEY,
            "HYPERGRAPH_PROVIDER": "anthropic",
        }
    )
    try:
        flow = await throughput(fake, address, sdk, rounds)
        stop_stack, stop_bare = await stop_latency(fake, address, sdk, trials)
        stop_local = await stop_latency_in_process(fake, trials)
    finally:
        await sdk.close()
        server.stop()
        fake.close()
    return {
        "benchmark": "llm",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "tokens_per_answer": TOKENS,
        "throughput": flow,
        "stop_to_upstream_disconnect": stop_stack,
        "stop_in_process_to_disconnect": stop_local,
        "bare_sdk_close_to_disconnect": stop_bare,
        "targets": {"throughput_ratio_min": 0.8, "stop_to_disconnect_p99_ms_max": 50},
    }


def print_table(result: dict) -> None:
    print(
        f"LLM streaming, {result['tokens_per_answer']} tokens per answer (fake Anthropic endpoint)"
    )
    print(
        "bare SDK = messages.stream() + text_stream (the idiomatic baseline); raw = messages.create(stream=True)"
    )
    print(
        f"{'concurrent runs':>16} {'bare SDK tok/s':>15} {'raw tok/s':>10} {'stack tok/s':>12} {'ratio':>6} {'vs raw':>7}  (target >= 0.8)"
    )
    for concurrency, row in result["throughput"].items():
        print(
            f"{concurrency:>16} {row['bare_sdk_tokens_per_s']:>15,} {row['bare_sdk_raw_tokens_per_s']:>10,} "
            f"{row['stack_tokens_per_s']:>12,} {row['ratio']:>6.2f} {row['ratio_vs_raw']:>7.2f}"
        )
    s, b = result["stop_to_upstream_disconnect"], result["bare_sdk_close_to_disconnect"]
    print(
        f"Stop -> upstream disconnect: p50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms (n={s['n']}; target <= 50 ms)"
    )
    local = result["stop_in_process_to_disconnect"]
    print(
        f"runner.stop() in process (no gRPC) -> disconnect: p50 {local['p50_ms']} ms, p99 {local['p99_ms']} ms"
    )
    print(f"bare SDK close -> disconnect: p50 {b['p50_ms']} ms, p99 {b['p99_ms']} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rounds", type=int, default=3, help="throughput rounds per concurrency (median reported)"
    )
    parser.add_argument("--trials", type=int, default=40, help="stop-latency trials")
    args = parser.parse_args()
    result = asyncio.run(bench(args.rounds, args.trials))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print_table(result)
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
