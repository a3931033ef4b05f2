// Benchmark (issue 6): N concurrent Iter streams of the `tokens` graph read by
// this TypeScript client over one HTTP/2 connection. Reports tokens/s (the
// ctx.stream() calls delivered, counting merged chunks), messages/s (chunk
// messages received) and client CPU per message, as JSON.
//
//   node dist/bench/bench.js [--url URL] [--streams 16] [--count 20000] [--out FILE]
//
// Without --url it starts its own server (like the tests). Two modes per run:
// "merged" (server default: queued text chunks merge) and "per_call"
// (disable_merge: one message per ctx.stream() call), the latter being the
// message-rate ceiling this client reads. Not a test: nothing is asserted.
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { parseArgs } from "node:util";
import { createHypergraphClient, type HypergraphClient } from "../src/index.js";
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

async function oneStream(client: HypergraphClient, count: number, disableMerge: boolean, started: number) {
  let tokens = 0;
  let messages = 0;
  let firstEventMs = -1;
  let status = "";
  for await (const event of client.iter("tokens", { count, prefix: "b" }, { disableMerge })) {
    if (firstEventMs < 0) firstEventMs = performance.now() - started;
    if (event.kind === "streamingChunk") {
      tokens += event.merged;
      messages += 1;
    } else if (event.kind === "runEnded") {
      status = event.result.status;
    }
  }
  if (status !== "COMPLETED") throw new Error(`a bench stream ended ${status || "without runEnded"}`);
  if (tokens !== count) throw new Error(`a bench stream delivered ${tokens} tokens, expected ${count}`);
  return { tokens, messages, firstEventMs };
}

async function measure(client: HypergraphClient, mode: string, streams: number, count: number): Promise<ModeResult> {
  const disableMerge = mode === "per_call";
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const runs = await Promise.all(Array.from({ length: streams }, () => oneStream(client, count, disableMerge, t0)));
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
      out: { type: "string" },
    },
  });
  const streams = Number(values.streams);
  const count = Number(values.count);
  let server: RunningServer | undefined;
  const baseUrl = values.url ?? (server = await startServer()).baseUrl;
  const client = createHypergraphClient({ baseUrl });
  try {
    await measure(client, "merged", 2, 1000); // warm-up: connection, JIT, server imports
    const results = [];
    for (const mode of ["merged", "per_call"]) {
      const result = await measure(client, mode, streams, count);
      console.error(`${mode}: ${result.tokens_per_s} tokens/s, ${result.messages_per_s} messages/s`);
      results.push(result);
    }
    const report = {
      benchmark: "clients-ts",
      description: `${streams} concurrent Iter streams of the tokens graph (count=${count}, no delay) read by the TypeScript client (@connectrpc/connect-node gRPC transport, one HTTP/2 connection); client and server in separate processes`,
      node: process.version,
      cpus: cpus().length,
      server: values.url ?? "started by the benchmark (scenarios.json server_args)",
      when: new Date().toISOString(),
      results,
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
