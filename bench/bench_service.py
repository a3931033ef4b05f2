"""Service benchmark: hypergraph-grpc against a bare grpc.aio baseline.

The server under test (`hypergraph-grpc serve --graphs bench.graphs:GRAPHS`: its
`tokens` node streams N tokens and returns only the count, yielding to the loop
every 64 tokens) and the baseline (bench/baseline_server.py: a bare grpc.aio
servicer yielding one pre-built Event per token, with the same envelope fields
as the service's chunks, so the same bytes on the wire) each run in their own process; this process is the
client (raw generated stubs, so the client costs as little as Python allows and
the same for both). Server CPU and RSS are read with psutil.

Figures (counts at BENCH_SCALE=1; the whole run takes a few minutes):
- throughput: tokens/s delivered at 1, 16 and 256 concurrent Iter streams of the
  `tokens` graph (node emitting as fast as it can), TOTAL_TOKENS tokens per
  configuration split over the streams, with merging on and off
  (StreamOptions.disable_merge), and the ratio to baseline messages/s;
  server CPU microseconds per delivered token beside the baseline's per message;
  BENCH_ROUNDS (3) rounds with both servers up, baseline and service
  interleaved, the ratio being the median of the rounds' paired ratios (on a
  shared machine a single round swings by +-30%);
- latency ctx.stream() -> client receipt: 256 streams x 20 tokens/s for
  LATENCY_SECONDS, from Event.time (stamped at the ctx.stream() call; same
  machine clock) to receipt; p50/p99 in steady state (once every stream has
  its first chunk; with the start-up burst under "all"); baseline stamped at
  its yield;
- Stop -> RunEnded(STOPPED): 64 live streams whose nodes emit a token every
  5 ms (a node notices a stop between tokens), each stopped in turn; p50/p99;
  again with grace 0 (the node is cancelled at once: the service's own path);
- Iter call -> first event: FIRST_EVENT_CALLS sequential calls; p50/p99;
- RSS per open idle stream: IDLE_STREAMS streams whose node waits (server RSS
  growth / streams), beside the baseline's;
- in process, no gRPC (this process, before the servers start): CPU per token
  of the runtime alone, and of runtime + StreamSink + pump (encode, seq)
  writing to a no-op write: the service's own share of the server CPU/token;
- slow consumer: server RSS growth while one stream's node emits SLOW_TOKENS
  tokens and the client reads nothing; then everything is read and counted.
  The control is the same run with a consumer that reads as it goes. The
  bench `tokens` node keeps no text (it returns a count), so the growth is the
  stream's own: its queue and merged messages, and gRPC's buffers.

Writes bench/results/service.json and prints a table.
    python bench/bench_service.py [--profile] [--only throughput,latency,...]
--profile runs the server under cProfile for a throughput round and writes the
top functions to bench/results/service-profile.txt.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import signal
import subprocess
import sys
import sysconfig
import time
import uuid
from pathlib import Path

import grpc
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb  # noqa: E402
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2_grpc as pb_grpc  # noqa: E402
from tests.support import server_process  # noqa: E402

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
TOTAL_TOKENS = int(100_000 * SCALE)
STREAM_COUNTS = (1, 16, 256)
THROUGHPUT_ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
LATENCY_STREAMS = 256
LATENCY_RATE = 20  # tokens/s per stream
LATENCY_SECONDS = max(2.0, 5 * SCALE)
STOP_STREAMS = 64
STOP_TOKEN_MS = 5  # the stopped nodes emit a token every 5 ms (they notice a stop between tokens)
FIRST_EVENT_CALLS = int(200 * SCALE) or 20
IDLE_STREAMS = 1000
IDLE_CHANNELS = 4
SLOW_TOKENS = 1_000_000
RESULTS = ROOT / "bench" / "results"
GRAPHS = "bench.graphs:GRAPHS"  # `tokens`: streams N tokens, returns only the count


# --------------------------------------------------------------------- processes


class MeasuredServer(server_process.ServerProcess):
    """The tests' server launcher, plus the process's RSS and CPU via psutil."""

    def __init__(self, name: str, command: list[str], env: dict[str, str] | None = None) -> None:
        super().__init__(command=command, env=env)
        self.name = name
        self.proc = psutil.Process(self.popen.pid)

    def rss(self) -> int:
        return self.proc.memory_info().rss

    def cpu(self) -> float:
        times = self.proc.cpu_times()
        return times.user + times.system


def start_service(
    profile_to: Path | None = None,
    serve_args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    name: str = "service",
) -> MeasuredServer:
    argv = [sys.executable]
    if profile_to is not None:
        argv += ["-m", "cProfile", "-o", str(profile_to)]
    argv += server_process.SERVE[1:]
    return MeasuredServer(name, argv + ["--graphs", GRAPHS, *serve_args], env)


def start_baseline() -> MeasuredServer:
    argv = [sys.executable, str(ROOT / "bench" / "baseline_server.py"), "--port", "0"]
    return MeasuredServer("baseline", argv)


def channel(target: str, *, separate: bool = False) -> grpc.aio.Channel:
    options = [("grpc.max_receive_message_length", 64 * 1024 * 1024)]
    if separate:  # its own TCP connection, not shared with other channels
        options.append(("grpc.use_local_subchannel_pool", 1))
    return grpc.aio.insecure_channel(target, options=options)


def iter_request(values: dict, *, merge: bool = True, workflow_id: str = "") -> pb.IterRequest:
    request = pb.IterRequest(graph="tokens", workflow_id=workflow_id)
    request.values.update(values)
    request.options.disable_merge = not merge
    return request


def percentiles(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {"p50": float("nan"), "p99": float("nan"), "n": 0}
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"p50": pick(0.50), "p99": pick(0.99), "n": len(ordered)}


# -------------------------------------------------------------------- workloads


async def consume(stub, request) -> tuple[int, int, pb.Event | None]:
    """Read one stream to its end: (tokens, chunk messages, last event)."""
    tokens = messages = 0
    last = None
    async for event in stub.Iter(request):
        if event.WhichOneof("kind") == "streaming_chunk":
            tokens += event.streaming_chunk.merged or 1
            messages += 1
        last = event
    return tokens, messages, last


async def throughput(server: MeasuredServer, streams: int, merge: bool) -> dict:
    per_stream = max(1, TOTAL_TOKENS // streams)
    async with channel(server.target) as ch:
        stub = pb_grpc.RunnerServiceStub(ch)
        await consume(stub, iter_request({"count": 2000, "prefix": "w"}))  # warm up
        request = iter_request({"count": per_stream, "prefix": "t"}, merge=merge)
        cpu0, t0, client0 = server.cpu(), time.perf_counter(), time.process_time()
        results = await asyncio.gather(*(consume(stub, request) for _ in range(streams)))
        elapsed = time.perf_counter() - t0
        cpu = server.cpu() - cpu0
        client_cpu = time.process_time() - client0
    tokens = sum(r[0] for r in results)
    messages = sum(r[1] for r in results)
    expected = per_stream * streams
    return {
        "streams": streams,
        "merge": merge,
        "tokens": tokens,
        "tokens_expected": expected,
        "messages": messages,
        "seconds": elapsed,
        "tokens_per_s": tokens / elapsed,
        "messages_per_s": messages / elapsed,
        "server_cpu_us_per_token": cpu / max(tokens, 1) * 1e6,
        "server_cpu_us_per_message": cpu / max(messages, 1) * 1e6,
        "client_cpu_us_per_message": client_cpu / max(messages, 1) * 1e6,
    }


async def throughput_rounds(results: dict) -> None:
    """Every throughput configuration THROUGHPUT_ROUNDS times, baseline and service
    interleaved (both servers up), so load from other processes on a shared
    machine hits both alike. Each figure is the round with the median ratio;
    `ratio_rounds` lists every round's ratio to the baseline of the same round."""
    baseline, service = start_baseline(), start_service()
    try:
        for streams in STREAM_COUNTS:
            rounds: dict[str, list[tuple[float, dict]]] = {
                "baseline": [],
                "merge": [],
                "nomerge": [],
            }
            for index in range(THROUGHPUT_ROUNDS):
                print(f"throughput {streams} streams, round {index + 1}", file=sys.stderr)
                ref = await throughput(baseline, streams, True)
                rounds["baseline"].append((ref["messages_per_s"], ref))
                for mode in ("merge", "nomerge"):
                    mine = await throughput(service, streams, mode == "merge")
                    rounds[mode].append((mine["tokens_per_s"] / ref["messages_per_s"], mine))
            results["baseline"][f"throughput_{streams}_merge"] = _median_round(rounds["baseline"])
            for mode in ("merge", "nomerge"):
                figure = _median_round(rounds[mode])
                figure["ratio_rounds"] = [round(r, 3) for r, _ in rounds[mode]]
                results["service"][f"throughput_{streams}_{mode}"] = figure
    finally:
        baseline.stop()
        service.stop()


def _median_round(rounds: list[tuple[float, dict]]) -> dict:
    ordered = sorted(rounds, key=lambda pair: pair[0])
    return dict(ordered[len(ordered) // 2][1])


async def latency(server: MeasuredServer) -> dict:
    """256 paced streams; Event.time (ctx.stream() call) -> receipt, in steady state.

    Samples count once every stream has its first chunk: the start-up burst
    (256 runs starting at once) is reported apart, as `all`.
    """
    count = int(LATENCY_RATE * LATENCY_SECONDS)
    request = iter_request({"count": count, "delay_ms": 1000 / LATENCY_RATE, "prefix": "l"})
    samples: list[tuple[float, float]] = []
    started: set[int] = set()
    steady = {"from": None}

    async def one(stub, index: int) -> None:
        async for event in stub.Iter(request):
            if event.WhichOneof("kind") == "streaming_chunk":
                now = time.time()
                emitted = event.time.seconds + event.time.nanos / 1e9
                samples.append((emitted, now - emitted))
                if index not in started:
                    started.add(index)
                    if len(started) == LATENCY_STREAMS:
                        steady["from"] = now

    async with channel(server.target) as ch:
        stub = pb_grpc.RunnerServiceStub(ch)
        await consume(stub, iter_request({"count": 100}))
        await asyncio.gather(*(one(stub, i) for i in range(LATENCY_STREAMS)))
    since = steady["from"] or 0.0
    ms = [lat * 1000 for emitted, lat in samples if emitted >= since]
    return {
        "streams": LATENCY_STREAMS,
        "rate": LATENCY_RATE,
        **percentiles(ms),
        "all": percentiles([lat * 1000 for _, lat in samples]),
    }


async def stop_latency(server: MeasuredServer, *, forced: bool = False) -> dict:
    """64 live paced streams; stop each in turn; time Stop call -> RunEnded(STOPPED).

    forced: Stop with grace 0, so the node is cancelled at once instead of
    noticing the stop after its current 5 ms sleep (the service's own path)."""
    ended = {}
    first_chunk = {}
    statuses = []

    async def one(stub, workflow_id: str) -> None:
        request = iter_request(
            {"count": 10**6, "delay_ms": STOP_TOKEN_MS, "prefix": "s"}, workflow_id=workflow_id
        )
        async for event in stub.Iter(request):
            kind = event.WhichOneof("kind")
            if kind == "streaming_chunk":
                first_chunk[workflow_id].set()
            elif kind == "run_ended":
                ended[workflow_id] = time.perf_counter()
                statuses.append(event.run_ended.result.status)

    async with channel(server.target) as ch:
        stub = pb_grpc.RunnerServiceStub(ch)
        ids = [f"bench-stop-{uuid.uuid4().hex[:8]}" for _ in range(STOP_STREAMS)]
        for workflow_id in ids:
            first_chunk[workflow_id] = asyncio.Event()
        tasks = [asyncio.create_task(one(stub, w)) for w in ids]
        await asyncio.gather(*(first_chunk[w].wait() for w in ids))
        samples, rpc = [], []
        for workflow_id in ids:
            request = pb.StopRequest(workflow_id=workflow_id)
            if forced:
                request.grace.FromMilliseconds(0)
            start = time.perf_counter()
            await stub.Stop(request)
            rpc.append((time.perf_counter() - start) * 1000)
            while workflow_id not in ended:
                await asyncio.sleep(0.0005)
            samples.append((ended[workflow_id] - start) * 1000)
        await asyncio.gather(*tasks)
    stopped = sum(1 for s in statuses if s == pb.RUN_STATUS_STOPPED)
    return {
        "streams": STOP_STREAMS,
        "token_interval_ms": STOP_TOKEN_MS,
        "forced": forced,
        "stopped": stopped,
        **percentiles(samples),
        "stop_rpc": percentiles(rpc),
    }


async def first_event(server: MeasuredServer) -> dict:
    samples = []
    async with channel(server.target) as ch:
        stub = pb_grpc.RunnerServiceStub(ch)
        await consume(stub, iter_request({"count": 1}))
        for _ in range(FIRST_EVENT_CALLS):
            start = time.perf_counter()
            call = stub.Iter(iter_request({"count": 1}))
            await call.read()
            samples.append((time.perf_counter() - start) * 1000)
            await _drain(call)
    return {"calls": FIRST_EVENT_CALLS, **percentiles(samples)}


async def idle_rss(server: MeasuredServer, *, baseline: bool) -> dict:
    """Open IDLE_STREAMS streams whose node waits; server RSS growth per stream."""
    channels = [channel(server.target, separate=True) for _ in range(IDLE_CHANNELS)]
    stubs = [pb_grpc.RunnerServiceStub(ch) for ch in channels]
    ids = [f"bench-idle-{uuid.uuid4().hex[:8]}" for _ in range(IDLE_STREAMS)]
    values = {"idle_s": 600} if baseline else {"count": 2, "delay_ms": 600_000, "prefix": "i"}
    for stub in stubs:
        await consume(stub, iter_request({"count": 10}))
    rss0 = server.rss()
    calls = []
    for i, workflow_id in enumerate(ids):
        call = stubs[i % len(stubs)].Iter(iter_request(values, workflow_id=workflow_id))
        calls.append(call)
    await asyncio.gather(*(_until_open(call, baseline) for call in calls))
    await asyncio.sleep(0.5)
    rss1 = server.rss()
    for start in range(0, len(ids), 100):
        await asyncio.gather(*(stubs[0].Stop(_stop_now(w)) for w in ids[start : start + 100]))
    await asyncio.gather(*(_drain(call) for call in calls))
    for ch in channels:
        await ch.close()
    return {
        "streams": IDLE_STREAMS,
        "rss_before_mb": rss0 / 2**20,
        "rss_open_mb": rss1 / 2**20,
        "bytes_per_stream": (rss1 - rss0) / IDLE_STREAMS,
    }


def _stop_now(workflow_id: str) -> pb.StopRequest:
    request = pb.StopRequest(workflow_id=workflow_id)
    request.grace.FromMilliseconds(100)  # the idle node sleeps: cancel it
    return request


async def _until_open(call, baseline: bool) -> None:
    """Read until the stream is idle: RunStarted (baseline) or the first chunk (service)."""
    while True:
        event = await call.read()
        if event is grpc.aio.EOF:
            raise RuntimeError("idle stream ended early")
        if baseline or event.WhichOneof("kind") == "streaming_chunk":
            return


async def _drain(call) -> None:
    # read(), not `async for`: grpc.aio refuses to mix the two styles on one call
    while await call.read() is not grpc.aio.EOF:
        pass


async def slow_consumer(server: MeasuredServer, *, read: bool = False) -> dict:
    """One stream whose node emits SLOW_TOKENS tokens; the consumer reads nothing
    until the node is done (read=False), or reads as they come (read=True: the
    control: what the run costs when nothing waits)."""
    async with channel(server.target) as ch:
        stub = pb_grpc.RunnerServiceStub(ch)
        await consume(stub, iter_request({"count": 1000}))
        await asyncio.sleep(0.5)
        rss0 = peak = server.rss()
        call = stub.Iter(iter_request({"count": SLOW_TOKENS, "prefix": "x"}))
        t0 = time.perf_counter()
        counts = {"tokens": 0, "messages": 0, "text_bytes": 0, "status": None}
        reader = asyncio.create_task(_count(call, counts)) if read else None
        server.proc.cpu_percent(None)
        idle_rounds = 0
        while time.perf_counter() - t0 < 60 and idle_rounds < 4:
            await asyncio.sleep(0.25)
            peak = max(peak, server.rss())
            idle_rounds = idle_rounds + 1 if server.proc.cpu_percent(None) < 5 else 0
        held = server.rss()
        await (reader if reader is not None else _count(call, counts))
    return {
        "tokens_emitted": SLOW_TOKENS,
        "tokens_delivered": counts["tokens"],
        "messages": counts["messages"],
        "text_bytes": counts["text_bytes"],
        "status": counts["status"],
        "rss_growth_peak_mb": (peak - rss0) / 2**20,
        "rss_growth_held_mb": (held - rss0) / 2**20,
        "seconds_until_idle": time.perf_counter() - t0,
    }


async def _count(call, counts: dict) -> None:
    while (event := await call.read()) is not grpc.aio.EOF:
        kind = event.WhichOneof("kind")
        if kind == "streaming_chunk":
            counts["tokens"] += event.streaming_chunk.merged or 1
            counts["messages"] += 1
            counts["text_bytes"] += len(event.streaming_chunk.text)
        elif kind == "run_ended":
            counts["status"] = pb.RunStatus.Name(event.run_ended.result.status)


async def slow_consumer_fresh(read: bool) -> dict:
    """On a fresh server each time, so one run's freed memory does not hide the other's."""
    server = start_service()
    try:
        return await slow_consumer(server, read=read)
    finally:
        server.stop()


async def in_process(merge: bool) -> dict:
    """Where the server's time goes, without gRPC: CPU per token of the runtime alone,
    then of runtime + stream sink + pump (encode, seq) writing to a no-op `write`."""
    from bench.graphs import GRAPHS as TEST_GRAPHS
    from hypergraph import AsyncRunner
    from hypergraph_grpc.convert import EventEncoder
    from hypergraph_grpc.streams import StreamSink, pump

    graph, runner, tokens = TEST_GRAPHS["tokens"], AsyncRunner(), TOTAL_TOKENS
    values = {"count": tokens, "prefix": "t"}
    await runner.run(graph, {"count": 1000})  # warm up
    start = time.process_time()
    await runner.run(graph, values)
    runtime_us = (time.process_time() - start) / tokens * 1e6

    written = []

    async def write(message) -> None:
        written.append(1)

    sink = StreamSink(
        EventEncoder("tokens", "bench-inproc"),
        on_overflow=lambda: None,
        max_queued_events=256,
        max_chunk_bytes=65536,
        merge=merge,
        hard_cap=256 * 1024,
    )
    start = time.process_time()
    task = asyncio.ensure_future(
        runner.run(graph, values, workflow_id="bench-inproc", event_processors=[sink])
    )
    task.add_done_callback(sink.task_done)
    await pump(sink, write)
    await task
    delivery_us = (time.process_time() - start) / tokens * 1e6
    return {
        "merge": merge,
        "tokens": tokens,
        "messages": len(written),
        "runtime_cpu_us_per_token": runtime_us,
        "runtime_sink_pump_cpu_us_per_token": delivery_us,
        "sink_pump_cpu_us_per_token": delivery_us - runtime_us,
    }


# ---------------------------------------------------------------------- driver


async def _guarded(results: dict, key: str, coro) -> None:
    try:
        results[key] = await coro
    except Exception as err:  # a failed figure is reported, the others still run
        results[key] = {"error": f"{type(err).__name__}: {err}"}
        print(f"  {key}: FAILED {err}", file=sys.stderr)


async def run_all(only: set[str]) -> dict:
    results: dict = {"service": {}, "baseline": {}}
    want = lambda name: not only or name in only  # noqa: E731
    if want("in_process"):
        for merge in (False, True):
            key = f"in_process_{'merge' if merge else 'nomerge'}"
            print(f"service: {key}", file=sys.stderr)
            await _guarded(results["service"], key, in_process(merge))
    if want("throughput"):
        await _guarded(results, "_throughput", throughput_rounds(results))
        if results.get("_throughput") is None:
            results.pop("_throughput", None)
    for name, start in (("baseline", start_baseline), ("service", start_service)):
        server = start()
        out = results[name]
        try:
            steps = [
                ("latency", lambda s=server: latency(s)),
                ("first_event", lambda s=server: first_event(s)),
                ("idle_rss", lambda s=server, b=name == "baseline": idle_rss(s, baseline=b)),
            ]
            if name == "service":
                steps += [
                    ("stop_latency", lambda s=server: stop_latency(s)),
                    ("stop_latency_forced", lambda s=server: stop_latency(s, forced=True)),
                    ("slow_consumer", lambda: slow_consumer_fresh(read=False)),
                    ("slow_consumer_control", lambda: slow_consumer_fresh(read=True)),
                ]
            for key, make in steps:
                if want(key):
                    print(f"{name}: {key}", file=sys.stderr)
                    await _guarded(out, key, make())
        finally:
            server.stop()
    results["ratios"] = ratios(results)
    return results


def ratios(results: dict) -> dict:
    out = {}
    base, ours = results["baseline"], results["service"]
    for streams in STREAM_COUNTS:
        ref = base.get(f"throughput_{streams}_merge", {})
        for mode in ("merge", "nomerge"):
            mine = ours.get(f"throughput_{streams}_{mode}", {})
            if "ratio_rounds" in mine:  # the median of the paired rounds' ratios
                paired = sorted(mine["ratio_rounds"])
                out[f"tokens_per_s_vs_baseline_{streams}_{mode}"] = paired[len(paired) // 2]
            elif "tokens_per_s" in mine and "messages_per_s" in ref:
                out[f"tokens_per_s_vs_baseline_{streams}_{mode}"] = (
                    mine["tokens_per_s"] / ref["messages_per_s"]
                )
            if "server_cpu_us_per_token" in mine and "server_cpu_us_per_message" in ref:
                out[f"cpu_per_token_vs_baseline_{streams}_{mode}"] = (
                    mine["server_cpu_us_per_token"] / ref["server_cpu_us_per_message"]
                )
    return out


def print_table(results: dict) -> None:
    base, ours, ratio = results["baseline"], results["service"], results["ratios"]
    print(f"\n{'figure':<44}{'service':>14}{'baseline':>14}{'ratio':>9}")

    def row(label, mine, ref=None, r=None, fmt="{:,.0f}"):
        cell = lambda v: "-" if v is None else fmt.format(v)  # noqa: E731
        rtxt = "-" if r is None else f"{r:.2f}"
        print(f"{label:<44}{cell(mine):>14}{cell(ref):>14}{rtxt:>9}")

    for streams in STREAM_COUNTS:
        ref = base.get(f"throughput_{streams}_merge", {})
        for mode in ("merge", "nomerge"):
            mine = ours.get(f"throughput_{streams}_{mode}", {})
            row(
                f"tokens/s, {streams} streams, {mode}",
                mine.get("tokens_per_s"),
                ref.get("messages_per_s"),
                ratio.get(f"tokens_per_s_vs_baseline_{streams}_{mode}"),
            )
            row(
                f"  server CPU us/token, {streams} streams, {mode}",
                mine.get("server_cpu_us_per_token"),
                ref.get("server_cpu_us_per_message"),
                ratio.get(f"cpu_per_token_vs_baseline_{streams}_{mode}"),
                fmt="{:.1f}",
            )
    over = lambda a, b: a / b if a is not None and b else None  # noqa: E731
    lat, lat_ref = ours.get("latency", {}), base.get("latency", {})
    for key, label, mine, ref in (
        ("latency", f"latency ms p50 ({LATENCY_STREAMS} x {LATENCY_RATE}/s)", lat, lat_ref),
        ("latency", "  with start-up burst p50", lat.get("all", {}), lat_ref.get("all", {})),
        ("first_event", "Iter -> first event ms p50", ours.get("first_event", {}), None),
        ("stop_latency", f"Stop -> RunEnded ms p50 ({STOP_STREAMS} live)", None, None),
        ("stop_latency_forced", "  with grace 0 (node cancelled) p50", None, None),
    ):
        mine = ours.get(key, {}) if mine is None else mine
        ref = base.get(key, {}) if ref is None else ref
        for q in ("p50", "p99"):
            a, b = mine.get(q), ref.get(q)
            row(label.replace("p50", q), a, b, over(a, b), fmt="{:.2f}")
    mine, ref = ours.get("idle_rss", {}), base.get("idle_rss", {})
    row(
        f"RSS bytes per idle stream ({IDLE_STREAMS})",
        mine.get("bytes_per_stream"),
        ref.get("bytes_per_stream"),
    )
    for mode in ("nomerge", "merge"):
        inproc = ours.get(f"in_process_{mode}", {})
        row(
            f"no gRPC, {mode}: runtime CPU us/token",
            inproc.get("runtime_cpu_us_per_token"),
            fmt="{:.2f}",
        )
        row(
            f"no gRPC, {mode}: + sink + pump us/token",
            inproc.get("runtime_sink_pump_cpu_us_per_token"),
            fmt="{:.2f}",
        )
    slow, control = ours.get("slow_consumer", {}), ours.get("slow_consumer_control", {})
    row("slow consumer: server RSS peak growth MB", slow.get("rss_growth_peak_mb"), fmt="{:.1f}")
    row(
        "  same run, reading consumer (control) MB", control.get("rss_growth_peak_mb"), fmt="{:.1f}"
    )
    row("slow consumer: tokens delivered", slow.get("tokens_delivered"))
    row("slow consumer: messages (merged)", slow.get("messages"))


def profile_server(path: Path) -> None:
    """Run a throughput round against a server under cProfile; write the top functions."""
    import pstats

    raw = RESULTS / "service.prof"
    server = start_service(profile_to=raw)
    try:
        for merge in (True, False):
            figures = asyncio.run(throughput(server, 16, merge))
            print(json.dumps(figures), file=sys.stderr)
    finally:
        server.popen.send_signal(signal.SIGINT)
        try:
            server.popen.wait(30)
        except subprocess.TimeoutExpired:
            server.stop()
    if not raw.exists():
        print("the server exited without writing its profile", file=sys.stderr)
        return
    out = io.StringIO()
    stats = pstats.Stats(str(raw), stream=out)
    stats.sort_stats("tottime").print_stats(40)
    stats.sort_stats("cumulative").print_stats(40)
    path.write_text(portable_paths(out.getvalue()))
    print(f"profile: {path}", file=sys.stderr)


def portable_paths(text: str) -> str:
    """The profile with this machine's directories taken out: repository files relative
    to the root, standard-library files under ``<stdlib>/``, packages under ``<site>/``."""
    places = {
        sysconfig.get_paths()["purelib"]: "<site>",
        sysconfig.get_paths()["stdlib"]: "<stdlib>",
        str(ROOT): ".",
    }
    for directory, name in places.items():
        text = text.replace(directory + "/", name + "/")
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", action="store_true", help="profile the server instead")
    parser.add_argument("--only", default="", help="comma list: throughput,latency,...")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.profile:
        profile_server(RESULTS / "service-profile.txt")
        return 0
    started = time.time()
    only = {s for s in args.only.split(",") if s}
    results = asyncio.run(run_all(only))
    out = RESULTS / "service.json"
    if only and out.exists():  # a partial run updates the figures it measured
        previous = json.loads(out.read_text())
        for side in ("service", "baseline"):
            results[side] = {**previous.get(side, {}), **results[side]}
        results["ratios"] = ratios(results)
    results["config"] = {
        "scale": SCALE,
        "total_tokens_per_throughput_config": TOTAL_TOKENS,
        "stream_counts": STREAM_COUNTS,
        "throughput_rounds": THROUGHPUT_ROUNDS,
        "latency": {"streams": LATENCY_STREAMS, "rate": LATENCY_RATE, "seconds": LATENCY_SECONDS},
        "stop_streams": STOP_STREAMS,
        "first_event_calls": FIRST_EVENT_CALLS,
        "idle_streams": IDLE_STREAMS,
        "slow_tokens": SLOW_TOKENS,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "grpcio": grpc.__version__,
        },
        "wall_seconds": time.time() - started,
    }
    out.write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)
    print(f"\nwrote {out.relative_to(ROOT)} in {results['config']['wall_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
