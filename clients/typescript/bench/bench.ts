// Benchmark (issue 6): N concurrent Iter streams of the `tokens` graph read by
// this TypeScript client over one HTTP/2 connection. Reports tokens/s (the
// ctx.stream() calls delivered, counting merged chunks), messages/s (chunk
// messages received) and client CPU per message, as JSON.
//
//   node dist/bench/bench.js [--url URL] [--streams 16] [--count 20000]
//                            [--per-call-count 4000] [--out FILE]
//
// Without --url it starts its own server (like the tests). Modes, one after
// the other in the same run: "merged" (server default: queued text chunks
// merge), "per_call" (disable_merge: one message per ctx.stream() call), and
// "per_call_raw", the baseline: the same per-call streams read with the
// generated Connect client alone, so wrapper_cpu_ratio is the wrapper's own
// cost per message. Not a test: nothing is asserted.
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { parseArgs } from "node:util";
import { createHypergraphClient, type HypergraphClient } from "../src/index.js";
import { RunStatus } from "../src/gen/hypergraph/v1/runner_pb.js";
import { startServer, type RunningServer } from "../test/server.js";

interface ModeResult {
  mode: string;
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

interface StreamTally {
  tokens: number;
  messages: number;
  firstEventMs: number;
}

/** One stream read through the wrapper (typed events, native values). */
async function wrapperStream(client: HypergraphClient, count: number, disableMerge: boolean, started: number): Promise<StreamTally> {
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
}

/** The baseline: the same stream read with the generated Connect client only. */
async function rawStream(client: HypergraphClient, count: number, disableMerge: boolean, started: number): Promise<StreamTally> {
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
}

function checked(tally: StreamTally, status: string, count: number): StreamTally {
  if (status !== "COMPLETED") throw new Error(`a bench stream ended ${status || "without runEnded"}`);
  if (tally.tokens !== count) throw new Error(`a bench stream delivered ${tally.tokens} tokens, expected ${count}`);
  return tally;
}

const MODES = {
  merged: { read: wrapperStream, disableMerge: false },
  per_call: { read: wrapperStream, disableMerge: true },
  per_call_raw: { read: rawStream, disableMerge: true },
} as const;

async function measure(client: HypergraphClient, mode: keyof typeof MODES, streams: number, count: number): Promise<ModeResult> {
  const { read, disableMerge } = MODES[mode];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const runs = await Promise.all(Array.from({ length: streams }, () => read(client, count, disableMerge, t0)));
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const tokens = runs.reduce((n, r) => n + r.tokens, 0);
  const messages = runs.reduce((n, r) => n + r.messages, 0);
  const firsts = runs.map((r) => r.firstEventMs).sort((a, b) => a - b);
  return {
    mode,
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

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: "string" },
      streams: { type: "string", default: "16" },
      count: { type: "string", default: "20000" },
      "per-call-count": { type: "string", default: "4000" },
      out: { type: "string" },
    },
  });
  const streams = Number(values.streams);
  const counts = { merged: Number(values.count), per_call: Number(values["per-call-count"]), per_call_raw: Number(values["per-call-count"]) };
  let server: RunningServer | undefined;
  const baseUrl = values.url ?? (server = await startServer()).baseUrl;
  const client = createHypergraphClient({ baseUrl });
  try {
    await measure(client, "merged", 2, 1000); // warm-up: connection, JIT, server imports
    await measure(client, "per_call_raw", 2, 1000);
    const results: Record<string, ModeResult> = {};
    for (const mode of ["merged", "per_call_raw", "per_call"] as const) {
      const result = await measure(client, mode, streams, counts[mode]);
      console.error(`${mode}: ${result.tokens_per_s} tokens/s, ${result.messages_per_s} messages/s, ${result.client_cpu_us_per_message} us client CPU/message`);
      results[mode] = result;
    }
    const report = {
      benchmark: "clients-ts",
      description: `${streams} concurrent Iter streams of the tokens graph (no delay; count per stream in each result) read by the TypeScript client (@connectrpc/connect-node gRPC transport, one HTTP/2 connection); client and server in separate processes`,
      node: process.version,
      cpus: cpus().length,
      server: values.url ?? "started by the benchmark (scenarios.json server_args)",
      when: new Date().toISOString(),
      results: Object.values(results),
      // The wrapper's cost: client CPU per message through createHypergraphClient's
      // typed events, over the same stream read with the generated client alone.
      wrapper_cpu_ratio: round(results.per_call!.client_cpu_us_per_message / results.per_call_raw!.client_cpu_us_per_message, 2),
    };
    const text = JSON.stringify(report, null, 2);
    if (values.out) writeFileSync(values.out, text + "\n");
    console.log(text);
  } finally {
    client.close();
    await server?.stop();
  }
}

await main();
