"""What observability costs: the service with metrics and tracing off and on, in one run.

Four servers of the service (bench_service.py's `tokens` graph), each in its own
process: `off` (the default), `metrics` (--metrics-port 0), `tracing` (--otel,
every call sampled, spans exported over OTLP/HTTP to a collector in this process
that decodes and keeps them) and `both`. For each:

- throughput: tokens/s over 16 concurrent Iter streams of 100,000 tokens in all,
  merging off (one message per token: the per-token path) and on; BENCH_ROUNDS
  rounds with the four servers interleaved, the median round's ratio to `off`
  of the same round;
- latency ctx.stream() -> client receipt, 256 streams x 20 tokens/s, p50/p99 in
  steady state (bench_service.latency);
- server CPU microseconds per token beside each throughput figure (on a shared
  machine the steadier of the two);
- in process, no gRPC: CPU per token of runtime + stream sink + pump writing to a
  no-op write, unmerged, without and with metrics (the run's metrics processor and
  the write-delay histogram), IN_PROCESS_ROUNDS rounds alternating, the medians.

Writes bench/results/observability.json and prints a table.
    python bench/bench_observability.py
"""

from __future__ import annotations

import asyncio
import json
import platform
import sys
import time

import bench_service as bs  # noqa: I001 - bench/ is the script directory

from tests.support.otlp_collector import OtlpCollector

STREAMS = 16
IN_PROCESS_ROUNDS = 5
VARIANTS = ("off", "metrics", "tracing", "both")
RESULT = bs.RESULTS / "observability.json"


def start(variant: str, collector: OtlpCollector) -> bs.MeasuredServer:
    args: list[str] = []
    env = {"OTEL_TRACES_SAMPLER": "always_on", "OTEL_BSP_SCHEDULE_DELAY": "200"}
    if variant in ("metrics", "both"):
        args += ["--metrics-port", "0"]
    if variant in ("tracing", "both"):
        args += ["--otel"]
        env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = collector.endpoint
    return bs.start_service(serve_args=tuple(args), env=env, name=variant)


async def measure(servers: dict[str, bs.MeasuredServer]) -> dict:
    results: dict = {variant: {} for variant in servers}
    for merge in (False, True):
        mode = "merge" if merge else "nomerge"
        rounds: dict[str, list[tuple[float, dict]]] = {variant: [] for variant in servers}
        for index in range(bs.THROUGHPUT_ROUNDS):
            print(f"throughput {mode}, round {index + 1}", file=sys.stderr)
            figures = {v: await bs.throughput(s, STREAMS, merge) for v, s in servers.items()}
            reference = figures["off"]["tokens_per_s"]
            for variant, figure in figures.items():
                rounds[variant].append((figure["tokens_per_s"] / reference, figure))
        for variant, paired in rounds.items():
            figure = bs._median_round(paired)
            figure["ratio_to_off"] = sorted(r for r, _ in paired)[len(paired) // 2]
            figure["ratio_rounds"] = [round(r, 3) for r, _ in paired]
            results[variant][f"throughput_{STREAMS}_{mode}"] = figure
    for variant, server in servers.items():
        print(f"latency {variant}", file=sys.stderr)
        results[variant]["latency"] = await bs.latency(server)
    return results


async def in_process() -> dict:
    """Runtime + sink + pump CPU per token, unmerged, without and with metrics."""
    from bench.graphs import GRAPHS
    from hypergraph import AsyncRunner
    from hypergraph_grpc.convert import EventEncoder
    from hypergraph_grpc.metrics import ServiceMetrics
    from hypergraph_grpc.streams import StreamSink, pump

    graph, runner, tokens = GRAPHS["tokens"], AsyncRunner(), bs.TOTAL_TOKENS
    metrics = ServiceMetrics()

    async def write(message) -> None:
        pass

    async def once(counted: bool) -> float:
        sink = StreamSink(
            EventEncoder("tokens", "bench-inproc"),
            on_overflow=lambda: None,
            max_queued_events=1 << 20,
            max_chunk_bytes=65536,
            merge=False,
            hard_cap=1 << 20,
            on_write_delay=metrics.write_delay.observe if counted else None,
        )
        processors = [metrics.run_processor("tokens"), sink] if counted else [sink]
        start = time.process_time()
        task = asyncio.ensure_future(
            runner.run(
                graph,
                {"count": tokens, "prefix": "t"},
                workflow_id="bench-inproc",
                event_processors=processors,
            )
        )
        task.add_done_callback(sink.task_done)
        await pump(sink, write)
        await task
        if counted:
            metrics.stream_ended(sink, "tokens")
        return (time.process_time() - start) / tokens * 1e6

    await once(False)  # warm up
    samples: dict[str, list[float]] = {"off": [], "metrics": []}
    for _ in range(IN_PROCESS_ROUNDS):
        samples["off"].append(await once(False))
        samples["metrics"].append(await once(True))
    median = {k: sorted(v)[len(v) // 2] for k, v in samples.items()}
    return {
        "tokens": tokens,
        "cpu_us_per_token": median,
        "rounds": {k: [round(x, 3) for x in v] for k, v in samples.items()},
        "ratio_off_to_metrics": median["off"] / median["metrics"],
    }


def print_table(results: dict, own: dict) -> None:
    print(
        f"{'':10} {'tok/s nomerge':>14} {'x off':>6} {'cpu us/tok':>10} {'tok/s merge':>12}"
        f" {'x off':>6} {'cpu us/tok':>10} {'p50 ms':>7} {'p99 ms':>7}"
    )
    for variant, figures in results.items():
        nomerge = figures[f"throughput_{STREAMS}_nomerge"]
        merge = figures[f"throughput_{STREAMS}_merge"]
        latency = figures["latency"]
        print(
            f"{variant:10} {nomerge['tokens_per_s']:>14,.0f} {nomerge['ratio_to_off']:>6.3f}"
            f" {nomerge['server_cpu_us_per_token']:>10.2f}"
            f" {merge['tokens_per_s']:>12,.0f} {merge['ratio_to_off']:>6.3f}"
            f" {merge['server_cpu_us_per_token']:>10.2f}"
            f" {latency['p50']:>7.1f} {latency['p99']:>7.1f}"
        )
    cpu = own["cpu_us_per_token"]
    print(
        f"in process (runtime + sink + pump, unmerged): {cpu['off']:.3f} us/token off, "
        f"{cpu['metrics']:.3f} with metrics ({own['ratio_off_to_metrics']:.3f}x)"
    )


def main() -> int:
    own = asyncio.run(in_process())
    with OtlpCollector() as collector:
        servers = {variant: start(variant, collector) for variant in VARIANTS}
        try:
            results = asyncio.run(measure(servers))
        finally:
            for server in servers.values():
                server.stop()
        spans = len(collector.spans())
    bs.RESULTS.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(
        json.dumps(
            {
                "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "python": platform.python_version(),
                "scale": bs.SCALE,
                "streams": STREAMS,
                "spans_exported": spans,
                "results": results,
                "in_process": own,
            },
            indent=2,
        )
        + "\n"
    )
    print_table(results, own)
    print(f"spans exported by the tracing servers: {spans}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
