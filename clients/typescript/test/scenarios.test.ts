// Runs every case of clients/scenarios.json against a real server started on a
// free loopback port, one named test per case, plus checks of the wrapper's
// own helpers (streamText, break-to-cancel, stop of an unknown id).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import type { Interceptor } from "@connectrpc/connect";
import {
  Code,
  HypergraphError,
  RpcError,
  RunFailedError,
  codeFromName,
  createHypergraphClient,
  ERROR_DOMAIN,
  type HypergraphClient,
  type HypergraphEvent,
  type RunResult,
  type StopOutcome,
} from "../src/index.js";
import { startRelay } from "./relay.js";
import { SCENARIOS_PATH, startServer, type RunningServer } from "./server.js";

interface Scenario {
  name: string;
  kind: "list_graphs" | "run" | "iter" | "stop_mid_stream" | "cancel" | "watch_resume" | "watch_after_cut";
  graph?: string;
  values?: Record<string, unknown>;
  deadline_ms?: number;
  expect_graphs_include?: string[];
  expect_text?: string;
  expect_status?: string;
  expect_values?: Record<string, unknown>;
  expect_error_type?: string;
  expect_error_message_contains?: string;
  expect_stop_found?: boolean;
  expect_stop_state?: string;
  expect_stop_info?: Record<string, unknown>;
  expect_partial_output?: string;
  expect_code?: string;
  expect_message_contains?: string;
  expect_field_violation?: string;
  expect_error_reason?: string;
  stop_after_chunks?: number;
  stop_info?: Record<string, unknown>;
  cancel_after_chunks?: number;
  watch_first_events?: number;
  cut_after_events?: number;
  probe?: { graph: string; values: Record<string, unknown>; retry_code: string; within_ms: number };
}

const scenarios = JSON.parse(readFileSync(SCENARIOS_PATH, "utf8")) as { cases: Scenario[] };

/** A hung server fails the test instead of hanging CI; never reached by a healthy run. */
const TEST_TIMEOUT_MS = 60_000;
let server: RunningServer;
let client: HypergraphClient;
let second: HypergraphClient; // a separate connection, as another process would have

before(async () => {
  server = await startServer();
  client = createHypergraphClient({ baseUrl: server.baseUrl });
  second = createHypergraphClient({ baseUrl: server.baseUrl });
});

after(async () => {
  client?.close();
  second?.close();
  await server?.stop();
});

const uniqueId = (prefix: string) => `${prefix}-${randomBytes(6).toString("hex")}`;

describe("scenarios.json", () => {
  assert.ok(scenarios.cases.length > 0, "scenarios.json has no cases");
  for (const scenario of scenarios.cases) {
    test(scenario.name, { timeout: TEST_TIMEOUT_MS }, () => {
      const runner = RUNNERS[scenario.kind];
      assert.ok(runner, `case ${scenario.name}: unknown kind ${scenario.kind}; teach this test runner the new kind`);
      return runner(scenario);
    });
  }
});

const RUNNERS: Record<Scenario["kind"], (s: Scenario) => Promise<void>> = {
  list_graphs: runListGraphs,
  run: runUnary,
  iter: runIter,
  stop_mid_stream: runStopMidStream,
  cancel: runCancel,
  watch_resume: runWatchResume,
  watch_after_cut: runWatchAfterCut,
};

async function runListGraphs(s: Scenario): Promise<void> {
  const graphs = await client.listGraphs();
  const names = graphs.map((g) => g.name);
  for (const name of s.expect_graphs_include ?? []) {
    assert.ok(names.includes(name), `ListGraphs lacks ${name}: got ${names.join(", ")}`);
  }
  assert.deepEqual(names, [...names].sort(), "graphs are sorted by name");
}

async function runUnary(s: Scenario): Promise<void> {
  const call = client.run(s.graph!, s.values, { timeoutMs: s.deadline_ms });
  if (s.expect_code !== undefined) {
    await assertRpcError(call, s);
    return;
  }
  checkResult(await call, s);
}

async function runIter(s: Scenario): Promise<void> {
  const events = await collect(client.iter(s.graph!, s.values, { timeoutMs: s.deadline_ms }));
  checkSequence(events);
  if (s.expect_text !== undefined) assert.equal(textOf(events), s.expect_text);
  checkResult(lastResult(events), s);
}

async function runStopMidStream(s: Scenario): Promise<void> {
  const workflowId = uniqueId("ts-stop");
  const events: HypergraphEvent[] = [];
  let chunks = 0;
  let outcome: StopOutcome | undefined;
  for await (const event of client.iter(s.graph!, s.values, { workflowId })) {
    events.push(event);
    if (event.kind === "streamingChunk" && ++chunks === s.stop_after_chunks) {
      outcome = await second.stop(workflowId, { info: s.stop_info });
    }
  }
  assert.ok(outcome !== undefined, "stop was called");
  if (s.expect_stop_found !== undefined) assert.equal(outcome.found, s.expect_stop_found, "StopResponse.found");
  if (s.expect_stop_state !== undefined) assert.equal(outcome.state, s.expect_stop_state, "StopResponse.state");
  checkSequence(events);
  const result = lastResult(events);
  checkResult(result, s);
  if (outcome.found) assert.equal(outcome.runId, result.runId, "StopResponse.run_id is the stream's run");
  if (s.expect_stop_info !== undefined) assert.deepEqual(result.stopInfo, s.expect_stop_info);
  if (s.expect_partial_output !== undefined) {
    // The output holds exactly what was streamed: every chunk, none lost.
    assert.equal(result.values[s.expect_partial_output], textOf(events));
  }
  assert.ok(events.some((e) => e.kind === "stopRequested"), "a stopRequested event was streamed");
}

async function runCancel(s: Scenario): Promise<void> {
  const workflowId = uniqueId("ts-cancel");
  const controller = new AbortController();
  let chunks = 0;
  await assert.rejects(
    (async () => {
      for await (const event of client.iter(s.graph!, s.values, { workflowId, signal: controller.signal })) {
        if (event.kind === "streamingChunk" && ++chunks === s.cancel_after_chunks) controller.abort();
        assert.notEqual(event.kind, "runEnded", "the run must not end by itself before the cancel");
      }
    })(),
    (err: unknown) => err instanceof RpcError && err.code === Code.Canceled,
  );
  await probeUntilEnded(workflowId, s.probe!);
}

/** A detached run watched in part, then resumed with afterSeq = the last seq seen: every event once, in order. */
async function runWatchResume(s: Scenario): Promise<void> {
  const workflowId = uniqueId("ts-watch");
  for await (const event of client.iter(s.graph!, s.values, { workflowId, detach: true })) {
    assert.equal(event.kind, "runStarted");
    break; // detached: leaving the loop leaves the run going
  }
  const events: HypergraphEvent[] = [];
  for await (const event of client.watch(workflowId)) {
    events.push(event);
    if (events.length === s.watch_first_events) break;
  }
  const afterSeq = events.at(-1)!.seq;
  events.push(...(await collect(second.watch(workflowId, { afterSeq }))));
  checkSequence(events);
  if (s.expect_text !== undefined) assert.equal(textOf(events), s.expect_text);
  checkResult(lastResult(events), s);
}

/**
 * A detached run watched through a relay whose connections are cut after cut_after_events
 * events: the same watch resumes by itself and reads every event once, in order.
 */
async function runWatchAfterCut(s: Scenario): Promise<void> {
  const workflowId = uniqueId("ts-cut");
  for await (const event of client.iter(s.graph!, s.values, { workflowId, detach: true })) {
    assert.equal(event.kind, "runStarted");
    break; // detached: leaving the loop leaves the run going
  }
  const relay = await startRelay(server.baseUrl);
  const watcher = createHypergraphClient({ baseUrl: relay.baseUrl });
  try {
    const events: HypergraphEvent[] = [];
    let cut = 0;
    for await (const event of watcher.watch(workflowId)) {
      events.push(event);
      if (events.length === s.cut_after_events) cut = relay.cut();
    }
    assert.ok(events.length > s.cut_after_events!, `the watch read on after the cut (${events.length} events)`);
    assert.equal(cut, 1, "the watch's one connection was cut");
    assert.ok(relay.accepted >= 2, "the watch made a new connection through the relay");
    checkSequence(events);
    if (s.expect_text !== undefined) assert.equal(textOf(events), s.expect_text);
    checkResult(lastResult(events), s);
  } finally {
    watcher.close();
    await relay.close();
  }
}

/** Run the probe graph under the same workflow id until the cancelled run has ended. */
async function probeUntilEnded(workflowId: string, probe: NonNullable<Scenario["probe"]>): Promise<void> {
  const retryCode = codeFromName(probe.retry_code);
  const deadline = Date.now() + probe.within_ms;
  for (;;) {
    try {
      const result = await client.run(probe.graph, probe.values, { workflowId });
      assert.equal(result.status, "COMPLETED");
      return;
    } catch (err) {
      const retry = err instanceof RpcError && err.code === retryCode && Date.now() < deadline;
      if (!retry) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

async function assertRpcError(call: Promise<unknown>, s: Scenario): Promise<void> {
  await assert.rejects(call, (err: unknown) => {
    assert.ok(err instanceof RpcError, `expected an RpcError, got ${String(err)}`);
    assert.equal(err.codeName, s.expect_code, `status code (message: ${err.rawMessage})`);
    if (s.expect_message_contains !== undefined) assert.ok(err.rawMessage.includes(s.expect_message_contains), err.rawMessage);
    if (s.expect_error_reason !== undefined) {
      assert.equal(err.reason, s.expect_error_reason);
      assert.equal(err.domain, ERROR_DOMAIN, "ErrorInfo.domain");
    }
    if (s.expect_field_violation !== undefined) {
      const fields = err.fieldViolations.map((v) => v.field);
      assert.ok(fields.includes(s.expect_field_violation), `field violations ${JSON.stringify(fields)}`);
    }
    return true;
  });
}

function checkResult(result: RunResult, s: Scenario): void {
  if (s.expect_status !== undefined) assert.equal(result.status, s.expect_status, JSON.stringify(result.error));
  if (s.expect_values !== undefined) assert.deepStrictEqual(result.values, s.expect_values);
  if (s.expect_error_type !== undefined) assert.equal(result.error?.type, s.expect_error_type);
  if (s.expect_error_message_contains !== undefined) {
    assert.ok(result.error?.message.includes(s.expect_error_message_contains), JSON.stringify(result.error));
  }
}

/** seq advances by merged for a chunk and by 1 otherwise (no other gaps); the last event is runEnded. */
function checkSequence(events: HypergraphEvent[]): void {
  assert.ok(events.length > 0, "no events");
  let expected = 0;
  const want = events.map((e) => (expected += e.kind === "streamingChunk" ? Math.max(1, e.merged) : 1));
  assert.deepEqual(events.map((e) => e.seq), want, "seq = previous seq + merged, no other gaps");
  assert.equal(events.at(-1)!.kind, "runEnded", "the last event is runEnded");
  assert.equal(events[0]!.kind, "runStarted", "the first event is runStarted");
}

function lastResult(events: HypergraphEvent[]): RunResult {
  const last = events.at(-1);
  assert.ok(last?.kind === "runEnded", "the stream ended with runEnded");
  return last.result;
}

function textOf(events: HypergraphEvent[]): string {
  return events.map((e) => (e.kind === "streamingChunk" ? (e.text ?? "") : "")).join("");
}

/** The URL of a loopback port that nothing listens on (bound, then closed). */
async function closedPortUrl(): Promise<string> {
  const listener = createServer();
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
  const { port } = listener.address() as AddressInfo;
  await new Promise<void>((resolve) => listener.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of source) out.push(item);
  return out;
}

describe("wrapper helpers against the server", () => {
  test("streamText yields the text and resolves result", { timeout: TEST_TIMEOUT_MS }, async () => {
    const stream = client.streamText("tokens", { count: 5, prefix: "w" });
    let text = "";
    for await (const token of stream) text += token;
    assert.equal(text, "w0 w1 w2 w3 w4 ");
    const result = await stream.result;
    assert.equal(result.status, "COMPLETED");
    assert.equal(result.values.text, text);
    assert.equal(stream.workflowId, result.workflowId);
    assert.match(stream.workflowId ?? "", /^wf-/);
  });

  test("the text view leaves out the node lifecycle", { timeout: TEST_TIMEOUT_MS }, async () => {
    const events = await collect(client.iter("tokens", { count: 3 }, { view: "text" }));
    const kinds = new Set(events.map((e) => e.kind));
    assert.deepEqual([...kinds].sort(), ["runEnded", "runStarted", "streamingChunk"]);
    assert.equal(events[0].kind, "runStarted");
    assert.equal(events[events.length - 1].kind, "runEnded");
  });

  test("streamText throws RunFailedError for a FAILED run", { timeout: TEST_TIMEOUT_MS }, async () => {
    const stream = client.streamText("fail", { message: "kaput" });
    await assert.rejects(collect(stream), (err: unknown) => {
      assert.ok(err instanceof RunFailedError);
      assert.equal(err.result.error?.type, "ValueError");
      assert.match(err.message, /kaput/);
      return true;
    });
    assert.equal((await stream.result).status, "FAILED");
  });

  test("leaving the loop with break stops the run on the server", { timeout: TEST_TIMEOUT_MS }, async () => {
    const workflowId = uniqueId("ts-break");
    let chunks = 0;
    for await (const event of client.iter("tokens", { count: 100000, delay_ms: 5 }, { workflowId })) {
      if (event.kind === "streamingChunk" && ++chunks === 3) break;
    }
    await probeUntilEnded(workflowId, { graph: "add", values: { a: 1, b: 1 }, retry_code: "ALREADY_EXISTS", within_ms: 5000 });
  });

  test("detach: leaving the loop keeps the run going until stopped", { timeout: TEST_TIMEOUT_MS }, async () => {
    const workflowId = uniqueId("ts-detach");
    let chunks = 0;
    for await (const event of client.iter("tokens", { count: 100000, delay_ms: 5 }, { workflowId, detach: true })) {
      if (event.kind === "streamingChunk" && ++chunks === 3) break;
    }
    const outcome = await second.stop(workflowId, { info: { kind: "cleanup" } });
    assert.equal(outcome.found, true, "the detached run is still live");
    assert.equal(outcome.state, "STOPPING");
    assert.match(outcome.runId, /\S/, "the run id of the detached run");
    await probeUntilEnded(workflowId, { graph: "add", values: { a: 1, b: 1 }, retry_code: "ALREADY_EXISTS", within_ms: 5000 });
  });

  test("listRuns shows a live run with its graph and state", { timeout: TEST_TIMEOUT_MS }, async () => {
    const workflowId = uniqueId("ts-listed");
    for await (const event of client.iter("tokens", { count: 100000, delay_ms: 5 }, { workflowId, detach: true })) {
      assert.equal(event.kind, "runStarted");
      break; // detached: the run goes on
    }
    const runs = await second.listRuns({ graph: "tokens" });
    await second.stop(workflowId);
    const listed = runs.find((r) => r.workflowId === workflowId);
    assert.ok(listed, `listRuns lacks ${workflowId}`);
    assert.equal(listed.graph, "tokens");
    assert.equal(listed.state, "RUNNING");
    assert.ok(listed.owner !== "" && listed.runId !== "");
  });

  // A quiet run (a model thinking for a minute): the Watch was accepted, so its response
  // headers came, but its next event is 10 s away. A connection lost then resumes too.
  test("a watch cut after its headers, before any event, resumes", { timeout: TEST_TIMEOUT_MS }, async () => {
    const workflowId = uniqueId("ts-quiet");
    let afterSeq: number | undefined;
    for await (const event of client.iter("tokens", { count: 3, delay_ms: 10_000 }, { workflowId, detach: true })) {
      if (event.kind !== "streamingChunk") continue;
      afterSeq = event.seq; // the first token; the next one is 10 s away
      break; // detached: leaving the loop leaves the run going
    }
    assert.ok(afterSeq !== undefined, "the run streamed its first token");
    // Each Watch call's response headers, as they arrive (Connect resolves a call's
    // response once its headers came).
    const headers: (() => void)[] = [];
    const watchHeaders = [new Promise<void>((r) => headers.push(r)), new Promise<void>((r) => headers.push(r))];
    const seeHeaders: Interceptor = (next) => async (req) => {
      const response = await next(req);
      if (req.method.name === "Watch") headers.shift()?.();
      return response;
    };
    const relay = await startRelay(server.baseUrl);
    const watcher = createHypergraphClient({ baseUrl: relay.baseUrl, interceptors: [seeHeaders] });
    try {
      const events: HypergraphEvent[] = [];
      const reading = (async () => {
        for await (const event of watcher.watch(workflowId, { afterSeq })) events.push(event);
      })();
      const endedFirst = reading.then(() => assert.fail("the watch ended before it was called again"));
      await Promise.race([watchHeaders[0], endedFirst]);
      assert.equal(relay.cut(), 1, "the watch's one connection was cut");
      await Promise.race([watchHeaders[1], endedFirst]); // throws the watch's error if it gave up
      assert.equal(events.length, 0, "no event before the stop");
      // graceMs: the node sleeping to its next token is cancelled instead of waited for.
      const outcome = await second.stop(workflowId, { graceMs: 100 });
      assert.equal(outcome.found, true, "the run was still live");
      await reading;
      assert.ok(relay.accepted >= 2, "the watch made a new connection through the relay");
      let expected = afterSeq;
      const want = events.map((e) => (expected += e.kind === "streamingChunk" ? Math.max(1, e.merged) : 1));
      assert.deepEqual(events.map((e) => e.seq), want, "the events after afterSeq, each once, in order");
      assert.ok(events.some((e) => e.kind === "stopRequested"), "a stopRequested event was watched");
      assert.equal(lastResult(events).status, "STOPPED");
    } finally {
      watcher.close();
      await relay.close();
      await second.stop(workflowId, { graceMs: 0 }); // idempotent: a failed test leaves no run going
    }
  });

  test("watch of an unknown workflow answers NOT_FOUND", { timeout: TEST_TIMEOUT_MS }, async () => {
    await assert.rejects(collect(client.watch(uniqueId("ts-watch"))), (err: unknown) => {
      assert.ok(err instanceof RpcError, String(err));
      assert.equal(err.code, Code.NotFound, err.rawMessage);
      return true;
    });
  });

  test("an iter past its deadline fails with DeadlineExceeded and the run ends", { timeout: TEST_TIMEOUT_MS }, async () => {
    const workflowId = uniqueId("ts-deadline");
    let chunks = 0;
    await assert.rejects(
      (async () => {
        for await (const event of client.iter("tokens", { count: 100000, delay_ms: 5 }, { workflowId, timeoutMs: 300 })) {
          assert.notEqual(event.kind, "runEnded", "the run must not end by itself before the deadline");
          if (event.kind === "streamingChunk") chunks++;
        }
      })(),
      (err: unknown) => err instanceof RpcError && err.code === Code.DeadlineExceeded,
    );
    assert.ok(chunks > 0, "chunks arrived before the deadline");
    await probeUntilEnded(workflowId, { graph: "add", values: { a: 1, b: 1 }, retry_code: "ALREADY_EXISTS", within_ms: 5000 });
  });

  test("stop of an unknown workflow is not found, with no run id", { timeout: TEST_TIMEOUT_MS }, async () => {
    const outcome = await client.stop(uniqueId("ts-none"), { info: { kind: "user_stop" }, graceMs: 100 });
    assert.deepEqual(outcome, { found: false, runId: "", state: "UNSPECIFIED" });
  });

  test("an unreachable server is an RpcError UNAVAILABLE", { timeout: TEST_TIMEOUT_MS }, async () => {
    const closed = createHypergraphClient({ baseUrl: await closedPortUrl() });
    try {
      await assert.rejects(closed.listGraphs(), (err: unknown) => {
        assert.ok(err instanceof RpcError, `expected an RpcError, got ${String(err)}`);
        assert.equal(err.code, Code.Unavailable, err.message);
        return true;
      });
    } finally {
      closed.close();
    }
  });

  // Node's TLS layer fails the handshake (OpenSSL: wrong version number); nothing is
  // answered in plaintext, and the client says the server may not serve TLS.
  test("a TLS client is refused by the plaintext server", { timeout: TEST_TIMEOUT_MS }, async () => {
    const tlsClient = createHypergraphClient({ baseUrl: server.baseUrl.replace("http://", ""), tls: { serverName: "localhost" } });
    try {
      await assert.rejects(tlsClient.listGraphs(), (err: unknown) => {
        assert.ok(err instanceof RpcError, `expected an RpcError, got ${String(err)}`);
        assert.equal(err.code, Code.Unavailable, err.message);
        assert.match(err.rawMessage, /^TLS handshake with https:\/\/127\.0\.0\.1:\d+ failed: .*; check that the server serves TLS/);
        return true;
      });
    } finally {
      tlsClient.close();
    }
  });

  test("a value JSON cannot carry is refused before the call, with its path", { timeout: TEST_TIMEOUT_MS }, async () => {
    await assert.rejects(client.run("echo", { value: { when: undefined } }), (err: unknown) => {
      assert.ok(err instanceof HypergraphError && !(err instanceof RpcError), String(err));
      assert.match(err.message, /values\.value\.when: undefined/);
      return true;
    });
  });
});
