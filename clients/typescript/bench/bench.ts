// Benchmark: 16 concurrent Iter streams of the `tokens` graph read by
// this TypeScript client over one HTTP/2 connection. Reports tokens/s (the
// ctx.stream() calls delivered, counting merged chunks), messages/s (chunk
// messages received) and client CPU per message, as JSON.
//
//   node dist/bench/bench.js [--url URL] [--baseline-url URL] [--streams 16]
//        [--count 20000] [--per-call-count 4000] [--rounds 3] [--out FILE]
//
// Runs, each `rounds` times against servers it starts itself (or the given
// URLs), the median round reported:
//   hypergraph                 the server's default: queued text chunks merge
//   hypergraph_disable_merge   one message per ctx.stream() call, through the wrapper
//   generated_client_only      the same per-call streams read with the generated
//                              Connect client alone: wrapper_cpu_ratio is the
//                              wrapper's own cost per message
//   baseline_grpc_aio          bench/baseline_server.py (bare grpc.aio yielding
//                              pre-built messages) read the same way: the ceiling
//                              of a Python gRPC server, the ratios' denominator
// Not a test: nothing is asserted. Client and servers are separate processes.
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { createHypergraphClient, type HypergraphClient } from "../src/index.js";
import { RunStatus } from "../src/gen/hypergraph/v1/runner_pb.js";
import { REPO_ROOT, spawnListening, startServer, type RunningServer } from "../test/server.js";

interface StreamTally {
  tokens: number;
  messages: number;
  firstEventMs: number;
}

interface RunFigures {
  streams: number;
  tokens_per_stream: number;
  elapsed_s: number;
  tokens: number;
  messages: number;
  tokens_per_s: number;
  messages_per_s: number;
  mean_tokens_per_message: number;
  client_cpu_us_per_message: number;
  first_event_ms_p50: number;
}

type Reader = (client: HypergraphClient, count: number, disableMerge: boolean, started: number) => Promise<StreamTally>;

/** One stream read through the wrapper (typed events, native values). */
const wrapperStream: Reader = async (client, count, disableMerge, started) => {
  const tally = { tokens: 0, messages: 0, firstEventMs: -1 };
  let status = "";
  for await (const event of client.iter("tokens", { count, prefix: "b" }, { disableMerge })) {
    if (tally.firstEventMs < 0) tally.firstEventMs = performance.now() - started;
    if (event.kind === "streamingChunk") {
      tally.tokens += event.merged;
      tally.messages += 1;
    } else if (event.kind === "runEnded") {
      status = event.result.status;
    }
  }
  return checked(tally, status, count);
};

/** One stream read with the generated Connect client only (no wrapper). */
const rawStream: Reader = async (client, count, disableMerge, started) => {
  const tally = { tokens: 0, messages: 0, firstEventMs: -1 };
  let status = "";
  const request = { graph: "tokens", values: { count, prefix: "b" }, options: { disableMerge } };
  for await (const event of client.raw.iter(request)) {
    if (tally.firstEventMs < 0) tally.firstEventMs = performance.now() - started;
    if (event.kind.case === "streamingChunk") {
      tally.tokens += event.kind.value.merged || 1;
      tally.messages += 1;
    } else if (event.kind.case === "runEnded") {
      status = RunStatus[event.kind.value.result?.status ?? 0] ?? "";
    }
  }
  return checked(tally, status, count);
};

function checked(tally: StreamTally, status: string, count: number): StreamTally {
  if (status !== "COMPLETED") throw new Error(`a bench stream ended ${status || "without runEnded"}`);
  if (tally.tokens !== count) throw new Error(`a bench stream delivered ${tally.tokens} tokens, expected ${count}`);
  return tally;
}

async function measure(client: HypergraphClient, read: Reader, disableMerge: boolean, streams: number, count: number): Promise<RunFigures> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const runs = await Promise.all(Array.from({ length: streams }, () => read(client, count, disableMerge, t0)));
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const tokens = runs.reduce((n, r) => n + r.tokens, 0);
  const messages = runs.reduce((n, r) => n + r.messages, 0);
  const firsts = runs.map((r) => r.firstEventMs).sort((a, b) => a - b);
  return {
    streams,
    tokens_per_stream: count,
    elapsed_s: round(elapsed, 3),
    tokens,
    messages,
    tokens_per_s: Math.round(tokens / elapsed),
    messages_per_s: Math.round(messages / elapsed),
    mean_tokens_per_message: round(tokens / messages, 2),
    client_cpu_us_per_message: round((cpu.user + cpu.system) / messages, 2),
    first_event_ms_p50: round(firsts[Math.floor(firsts.length / 2)]!, 2),
  };
}

/** The round with the median tokens/s. */
function median(rounds: RunFigures[]): RunFigures {
  return [...rounds].sort((a, b) => a.tokens_per_s - b.tokens_per_s)[Math.floor(rounds.length / 2)]!;
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: "string" },
      "baseline-url": { type: "string" },
      streams: { type: "string", default: "16" },
      count: { type: "string", default: "20000" },
      "per-call-count": { type: "string", default: "4000" },
      rounds: { type: "string", default: "3" },
      out: { type: "string" },
    },
  });
  const streams = Number(values.streams);
  const count = Number(values.count);
  const perCall = Number(values["per-call-count"]);
  const rounds = Number(values.rounds);
  const servers: RunningServer[] = [];
  const start = async (url: string | undefined, spawnIt: () => Promise<RunningServer>) => {
    if (url !== undefined) return url;
    const server = await spawnIt();
    servers.push(server);
    return server.baseUrl;
  };
  const python = process.env.HYPERGRAPH_PYTHON ?? resolve(REPO_ROOT, ".venv/bin/python");
  const client = createHypergraphClient({ baseUrl: await start(values.url, () => startServer()) });
  const baseline = createHypergraphClient({
    baseUrl: await start(values["baseline-url"], () => spawnListening(python, [resolve(REPO_ROOT, "bench/baseline_server.py"), "--port", "0"])),
  });
  const plan: [string, HypergraphClient, Reader, boolean, number][] = [
    ["hypergraph", client, wrapperStream, false, count],
    ["hypergraph_disable_merge", client, wrapperStream, true, perCall],
    ["generated_client_only", client, rawStream, true, perCall],
    ["baseline_grpc_aio", baseline, rawStream, true, perCall],
  ];
  try {
    await measure(client, wrapperStream, false, 2, 1000); // warm-up: connections, JIT, server imports
    await measure(baseline, rawStream, true, 2, 1000);
    const runs: Record<string, RunFigures> = {};
    for (const [name, target, read, disableMerge, n] of plan) {
      const all = [];
      for (let i = 0; i < rounds; i++) all.push(await measure(target, read, disableMerge, streams, n));
      runs[name] = median(all);
      console.error(`${name}: ${runs[name]!.tokens_per_s} tokens/s, ${runs[name]!.messages_per_s} messages/s, ${runs[name]!.client_cpu_us_per_message} us client CPU/message`);
    }
    const base = runs.baseline_grpc_aio!;
    const report = {
      benchmark: "clients-ts",
      description:
        `TypeScript client (@connectrpc/connect-node gRPC transport, one HTTP/2 connection per server) reading ${streams} concurrent Iter ` +
        "streams of the `tokens` graph (no delay); median of rounds; ratios are against bare grpc.aio (bench/baseline_server.py) read by the same client in the same run",
      node: process.version,
      cpus: cpus().length,
      rounds,
      when: new Date().toISOString(),
      runs,
      // The first shape of this file, still read by bench/merge_clients.py (_from_ts).
      results: [
        { mode: "merged", ...runs.hypergraph! },
        { mode: "per_call", ...runs.hypergraph_disable_merge! },
      ],
      ratio_messages_per_s_vs_baseline: {
        hypergraph_disable_merge: round(runs.hypergraph_disable_merge!.messages_per_s / base.messages_per_s, 3),
      },
      ratio_tokens_per_s_vs_baseline: {
        hypergraph: round(runs.hypergraph!.tokens_per_s / base.tokens_per_s, 3),
        hypergraph_disable_merge: round(runs.hypergraph_disable_merge!.tokens_per_s / base.tokens_per_s, 3),
      },
      // The wrapper's own cost: client CPU per message through typed events over
      // the same per-call streams read with the generated client alone.
      wrapper_cpu_ratio: round(
        runs.hypergraph_disable_merge!.client_cpu_us_per_message / runs.generated_client_only!.client_cpu_us_per_message,
        2,
      ),
    };
    const text = JSON.stringify(report, null, 2);
    if (values.out) writeFileSync(values.out, text + "\n");
    console.log(text);
  } finally {
    client.close();
    baseline.close();
    for (const server of servers) await server.stop();
  }
}

await main();
