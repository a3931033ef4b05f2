"""Runtime benchmarks: per-run overhead, ctx.stream() cost, route loops, iter() memory.

Run by `make bench` (bench-python). Every figure comes with a baseline measured in
the same process: a bare asyncio loop doing the equivalent plain function calls.
Writes bench/results/runtime.json and prints a table. Nothing here asserts a time;
the JSON records each figure against its issue target.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hypergraph import (  # noqa: E402
    END,
    AsyncRunner,
    EventProcessor,
    Graph,
    NodeContext,
    StreamingChunkEvent,
    TypedEventProcessor,
    node,
    route,
)

RUNS = int(os.environ.get("BENCH_RUNS", "5000"))
CHUNKS = int(os.environ.get("BENCH_CHUNKS", "200000"))
MEMORY_CHUNKS = 1_000_000
perf_ns = time.perf_counter_ns


# --- graphs under test -----------------------------------------------------------


@node(output_name="a")
async def a_async(x):
    return x + 1


@node(output_name="b")
async def b_async(a):
    return a * 2


@node(output_name="c")
async def c_async(b):
    return b - 1


@node(output_name="a")
def a_sync(x):
    return x + 1


@node(output_name="b")
def b_sync(a):
    return a * 2


@node(output_name="c")
def c_sync(b):
    return b - 1


LINEAR_ASYNC = Graph([a_async, b_async, c_async])
LINEAR_SYNC = Graph([a_sync, b_sync, c_sync])


@node(output_name="n", name="inc")
async def inc(n):
    return n + 1


@node(output_name="n", name="inc")
def inc_sync(n):
    return n + 1


@route(targets=["inc", END])
def again(n):
    return "inc" if n < 1000 else END


ROUTE_LOOP = Graph([inc, again])
ROUTE_LOOP_SYNC = Graph([inc_sync, again])


@node(output_name="count")
async def stream_async(n: int, ctx: NodeContext) -> int:
    t0 = perf_ns()
    for _ in range(n):
        ctx.stream("tok ")
    ctx.report_usage(elapsed_ns=perf_ns() - t0)
    return n


@node(output_name="count")
def stream_sync(n: int, ctx: NodeContext) -> int:
    for _ in range(n):
        ctx.stream("tok ")
    return n


class OneTyped(TypedEventProcessor):
    """The processor a service attaches: counts chunks."""

    def __init__(self) -> None:
        self.chunks = 0

    def on_streaming_chunk(self, event: StreamingChunkEvent) -> None:
        self.chunks += 1


class NoOp(EventProcessor):
    def on_event(self, event) -> None:
        pass


# --- helpers ----------------------------------------------------------------------


def pct(samples_ns: list[int], q: float) -> float:
    ordered = sorted(samples_ns)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000.0


async def sample(make, n: int) -> dict:
    """p50 / p99 / mean of awaiting make() n times (after a warm-up), in microseconds."""
    for _ in range(max(50, n // 10)):
        await make()
    gc.collect()
    out = []
    for _ in range(n):
        t0 = perf_ns()
        await make()
        out.append(perf_ns() - t0)
    return {
        "p50_us": round(pct(out, 0.50), 2),
        "p99_us": round(pct(out, 0.99), 2),
        "mean_us": round(statistics.fmean(out) / 1000.0, 2),
    }


def ratio(a: float, b: float) -> float:
    return round(a / b, 1) if b else float("inf")


# --- measurements ---------------------------------------------------------------------


async def bench_per_run(runner: AsyncRunner) -> dict:
    async def base_async():
        return await c_async.func(await b_async.func(await a_async.func(1)))

    async def base_sync():
        return c_sync.func(b_sync.func(a_sync.func(1)))

    loop = asyncio.get_running_loop()

    async def base_threads():
        a = await loop.run_in_executor(None, a_sync.func, 1)
        b = await loop.run_in_executor(None, b_sync.func, a)
        return await loop.run_in_executor(None, c_sync.func, b)

    procs = [NoOp()]
    res = {
        "baseline_async_calls": await sample(base_async, RUNS),
        "async_nodes": await sample(lambda: runner.run(LINEAR_ASYNC, x=1), RUNS),
        "async_nodes_with_processor": await sample(
            lambda: runner.run(LINEAR_ASYNC, x=1, event_processors=procs), RUNS
        ),
        "baseline_sync_calls": await sample(base_sync, RUNS),
        "baseline_sync_calls_in_executor_threads": await sample(base_threads, RUNS // 5),
        "sync_nodes": await sample(lambda: runner.run(LINEAR_SYNC, x=1), RUNS // 5),
    }
    res["async_overhead_p50_us"] = round(
        res["async_nodes"]["p50_us"] - res["baseline_async_calls"]["p50_us"], 2
    )
    res["async_ratio_p50"] = ratio(
        res["async_nodes"]["p50_us"], res["baseline_async_calls"]["p50_us"]
    )
    res["sync_ratio_vs_executor_p50"] = ratio(
        res["sync_nodes"]["p50_us"], res["baseline_sync_calls_in_executor_threads"]["p50_us"]
    )
    return res


async def bench_stream(runner: AsyncRunner) -> dict:
    proc = OneTyped()
    chunk_event = StreamingChunkEvent("r", "w", 1, 0.0, "s", "p", "n", "tok ")

    def base(n: int) -> int:  # the plain calls a hand-written loop would make per chunk
        t0 = perf_ns()
        hook = proc.on_streaming_chunk
        for _ in range(n):
            hook(chunk_event)
        return perf_ns() - t0

    await runner.run(Graph([stream_async]), n=10_000, event_processors=[OneTyped()])
    base_ns = min(base(CHUNKS) for _ in range(3))
    best_async = None
    for _ in range(3):
        p = OneTyped()
        result = await runner.run(Graph([stream_async]), n=CHUNKS, event_processors=[p])
        assert p.chunks == CHUNKS
        ns = result.usage["elapsed_ns"]
        best_async = ns if best_async is None else min(best_async, ns)
    best_sync = None
    for _ in range(3):
        p = OneTyped()
        t0 = perf_ns()
        await runner.run(Graph([stream_sync]), n=CHUNKS, event_processors=[p])
        ns = perf_ns() - t0
        assert p.chunks == CHUNKS
        best_sync = ns if best_sync is None else min(best_sync, ns)
    per_base = base_ns / CHUNKS / 1000.0
    per_async = best_async / CHUNKS / 1000.0
    per_sync = best_sync / CHUNKS / 1000.0
    return {
        "chunks": CHUNKS,
        "baseline_plain_call_us": round(per_base, 3),
        "async_node_us_per_stream": round(per_async, 3),
        "sync_node_us_per_stream": round(per_sync, 3),
        "async_ratio": ratio(per_async, per_base),
        "sync_ratio": ratio(per_sync, per_base),
    }


async def bench_route_loop(runner: AsyncRunner) -> dict:
    async def base():
        n = 0
        while True:
            n = await inc.func(n)
            if again.func(n) is END:
                return n

    async def run_loop(graph):
        result = await runner.run(graph, n=0, max_iterations=5000)
        assert result["n"] == 1000
        return result

    graph_stats = await sample(lambda: run_loop(ROUTE_LOOP), 30)
    sync_stats = await sample(lambda: run_loop(ROUTE_LOOP_SYNC), 5)
    base_stats = await sample(base, 30)
    per_iter = graph_stats["p50_us"] / 1000.0
    per_base = base_stats["p50_us"] / 1000.0
    return {
        "iterations": 1000,
        "graph_loop_p50_ms": round(graph_stats["p50_us"] / 1000.0, 3),
        "per_iteration_us": round(per_iter, 2),
        "per_iteration_sync_node_us": round(sync_stats["p50_us"] / 1000.0, 2),
        "baseline_per_iteration_us": round(per_base, 3),
        "ratio": ratio(per_iter, per_base),
    }


async def bench_iter_memory(runner: AsyncRunner) -> dict:
    @node(output_name="count")
    async def firehose(n: int, ctx: NodeContext) -> int:
        for _ in range(n):
            ctx.stream("tok ")
        return n

    graph = Graph([firehose])
    gc.collect()
    tracemalloc.start()
    start, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    t0 = perf_ns()
    async with runner.iter(graph, n=MEMORY_CHUNKS) as handle:
        result = await handle.result()  # reads nothing while the node streams
        _, peak = tracemalloc.get_traced_memory()
        waiting = len(handle._buffer)
        text_len = 0
        merged = 0
        async for event in handle:
            if isinstance(event, StreamingChunkEvent):
                text_len += len(event.chunk)
                merged += event.merged
    elapsed = (perf_ns() - t0) / 1e9
    tracemalloc.stop()
    assert result.completed and merged == MEMORY_CHUNKS and text_len == 4 * MEMORY_CHUNKS
    growth_mib = (peak - start) / 2**20
    return {
        "chunks": MEMORY_CHUNKS,
        "buffer_size": 1024,
        "events_waiting_at_end": waiting,
        "streamed_text_mib": round(4 * MEMORY_CHUNKS / 2**20, 2),
        "peak_growth_mib": round(growth_mib, 2),
        "target_mib": 32,
        "seconds_with_tracemalloc": round(elapsed, 2),
    }


async def main() -> dict:
    runner = AsyncRunner()
    return {
        "per_run": await bench_per_run(runner),
        "stream": await bench_stream(runner),
        "route_loop": await bench_route_loop(runner),
        "iter_memory": await bench_iter_memory(runner),
    }


def table(res: dict) -> str:
    pr, st, rl, mem = res["per_run"], res["stream"], res["route_loop"], res["iter_memory"]
    rows = [
        ("3-node linear, async nodes", f"p50 {pr['async_nodes']['p50_us']} us / p99 {pr['async_nodes']['p99_us']} us",
         f"baseline p50 {pr['baseline_async_calls']['p50_us']} us (x{pr['async_ratio_p50']})", "< 200 us"),
        ("  same, one EventProcessor", f"p50 {pr['async_nodes_with_processor']['p50_us']} us / p99 {pr['async_nodes_with_processor']['p99_us']} us", "", ""),
        ("3-node linear, sync nodes", f"p50 {pr['sync_nodes']['p50_us']} us / p99 {pr['sync_nodes']['p99_us']} us",
         f"executor baseline p50 {pr['baseline_sync_calls_in_executor_threads']['p50_us']} us (x{pr['sync_ratio_vs_executor_p50']})", ""),
        ("ctx.stream(), async node, 1 typed proc", f"{st['async_node_us_per_stream']} us/call",
         f"plain call {st['baseline_plain_call_us']} us (x{st['async_ratio']})", "1-3 us"),
        ("ctx.stream(), sync node, 1 typed proc", f"{st['sync_node_us_per_stream']} us/call",
         f"(x{st['sync_ratio']})", ""),
        ("route loop, 1000 iterations, async node", f"{rl['per_iteration_us']} us/iteration",
         f"plain loop {rl['baseline_per_iteration_us']} us (x{rl['ratio']})", ""),
        ("  same, sync node (thread hop each)", f"{rl['per_iteration_sync_node_us']} us/iteration", "", ""),
        ("iter() unread, 1M chunks", f"peak +{mem['peak_growth_mib']} MiB",
         f"text itself {mem['streamed_text_mib']} MiB, {mem['events_waiting_at_end']} events waiting", "< 32 MiB"),
    ]  # fmt: skip
    width = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, width, strict=True)) for r in rows]
    header = "  ".join(
        h.ljust(w)
        for h, w in zip(("benchmark", "measured", "baseline", "target"), width, strict=True)
    )
    return "\n".join([header, "-" * len(header), *lines])


if __name__ == "__main__":
    results = asyncio.run(main())
    results["meta"] = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "runs": RUNS,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out = ROOT / "bench" / "results" / "runtime.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print(f"\nwritten {out.relative_to(ROOT)}")
