// watch() resuming by itself, against a scripted transport: an interceptor answers
// every Watch call with the events and the failure the test lists for it. No server.
// The waits between calls run on node:test's mocked setTimeout: the tests move the
// clock themselves, so they check the waits exactly and never depend on timing.
// Last, the same over real HTTP/2 against a stub server (test/stub.ts), for the errors
// Connect builds itself from what it received.
import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor, type StreamRequest, type StreamResponse } from "@connectrpc/connect";
import { RpcError, createHypergraphClient, type HypergraphClient, type HypergraphEvent, type WatchOptions } from "../src/index.js";
import { EventSchema, RunStatus, type Event as PbEvent, type WatchRequest } from "../src/gen/hypergraph/v1/runner_pb.js";
import { CANCEL, startStub } from "./stub.js";

/** A hung watch fails the test instead of hanging CI; never reached by a healthy run. */
const TEST_TIMEOUT_MS = 30_000;

const started = (seq: number) => create(EventSchema, { seq: BigInt(seq), kind: { case: "runStarted", value: { graph: "g" } } });
const chunk = (seq: number, text: string) =>
  create(EventSchema, { seq: BigInt(seq), kind: { case: "streamingChunk", value: { payload: { case: "text", value: text } } } });
const ended = (seq: number) =>
  create(EventSchema, { seq: BigInt(seq), kind: { case: "runEnded", value: { result: { workflowId: "w", status: RunStatus.COMPLETED } } } });
const eventsLost = (first: number, last: number) =>
  create(EventSchema, { seq: BigInt(last), kind: { case: "eventsLost", value: { firstSeq: BigInt(first), lastSeq: BigInt(last) } } });

/** Node's error of a failed syscall, with its documented `code`. */
function nodeError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

// What connect-node reports when the connection under the stream is reset, and when a
// new connection is refused.
const reset = (n: number) => new ConnectError(`read ECONNRESET (${n})`, Code.Aborted, undefined, undefined, nodeError("ECONNRESET", "read ECONNRESET"));
const refused = (n: number) =>
  new ConnectError(`connect ECONNREFUSED (${n})`, Code.Unavailable, undefined, undefined, nodeError("ECONNREFUSED", "connect ECONNREFUSED"));

// A CANCELLED status the server sent, as Connect builds it from the trailers (metadata).
const cancelledStatus = () =>
  new ConnectError("cancelled by the server", Code.Canceled, new Headers({ "grpc-status": "1", "grpc-message": "cancelled by the server" }));

/** Where a call's response headers arrive when no event comes before its failure. */
const HEADERS = "headers";

/**
 * One Watch call: its events, then its failure (none: the stream ends). Its response headers
 * arrive before its first event, or where HEADERS stands; an Error first fails the call
 * before any headers (a refused connection, a status with no response before it).
 */
type Script = (PbEvent | Error | typeof HEADERS)[];

interface Scripted {
  client: HypergraphClient;
  /** afterSeq of every Watch call made. */
  calls: number[];
}

/** A client whose Watch calls play the scripts in turn; onCall runs as call i is made. */
function scripted(scripts: Script[], onCall?: (i: number) => void): Scripted {
  const calls: Scripted["calls"] = [];
  const play: Interceptor = () => async (req) => {
    const request = req as StreamRequest;
    let afterSeq = -1;
    for await (const message of request.message) afterSeq = Number((message as WatchRequest).afterSeq);
    const i = calls.length;
    calls.push(afterSeq);
    onCall?.(i);
    const script = scripts[i] ?? [new ConnectError(`no script for call ${i}`, Code.Internal)];
    if (script[0] instanceof Error) throw script[0]; // no response: the call fails before its headers
    async function* message(): AsyncGenerator<PbEvent> {
      for (const item of script) {
        if (item === HEADERS) continue;
        if (item instanceof Error) throw item;
        yield item;
      }
    }
    const response = { stream: true, service: req.service, method: req.method, header: new Headers(), trailer: new Headers(), message: message() };
    return response as unknown as StreamResponse;
  };
  return { client: createHypergraphClient({ baseUrl: "http://127.0.0.1:1", interceptors: [play] }), calls };
}

/** Read the watch to its end: its events, or the error it threw with the events before it. */
async function read(client: HypergraphClient, opts?: WatchOptions): Promise<{ events: HypergraphEvent[]; error?: unknown }> {
  const events: HypergraphEvent[] = [];
  try {
    for await (const event of client.watch("w", opts)) events.push(event);
    return { events };
  } catch (error) {
    return { events, error };
  } finally {
    client.close();
  }
}

const seqs = (events: HypergraphEvent[]) => events.map((e) => e.seq);

/** Mock setTimeout for this test: time passes only by tick(). */
function mockTime(t: TestContext): (ms: number) => Promise<void> {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  return async (ms) => {
    t.mock.timers.tick(ms);
    await settle();
  };
}

/** Let everything that is not waiting for a timer run (setImmediate is not mocked). */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** The outcome of reading, if it ended without any more time passing. */
async function endedNow<T>(reading: Promise<T>): Promise<T> {
  const pending = Symbol("pending");
  const outcome = await Promise.race([reading, settle().then(() => pending)]);
  assert.notEqual(outcome, pending, "the watch is still waiting");
  return outcome as T;
}

function assertRpcError(error: unknown, code: Code, message: string): asserts error is RpcError {
  assert.ok(error instanceof RpcError, `expected an RpcError, got ${String(error)}`);
  assert.equal(error.code, code, error.message);
  assert.equal(error.rawMessage, message);
}

test("a lost connection resumes after the last seq delivered, in the same iterable", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const tick = mockTime(t);
  const { client, calls } = scripted([
    [started(1), chunk(2, "a"), reset(1)],
    [chunk(3, "b"), chunk(5, "cd"), ended(6)],
  ]);
  const reading = read(client, { afterSeq: 0 });
  await settle();
  await tick(99);
  assert.deepEqual(calls, [0], "no call again before 100 ms");
  await tick(1);
  const { events, error } = await endedNow(reading);
  assert.equal(error, undefined);
  assert.deepEqual(seqs(events), [1, 2, 3, 5, 6]);
  assert.deepEqual(calls, [0, 2]);
});

test("an eventsLost event first on a resumed call is passed on like any other", { timeout: TEST_TIMEOUT_MS }, async () => {
  const { client, calls } = scripted([
    [chunk(8, "a"), reset(1)],
    [eventsLost(9, 12), chunk(13, "b"), ended(14)],
  ]);
  const { events, error } = await read(client, { afterSeq: 7 });
  assert.equal(error, undefined);
  assert.deepEqual(events.map((e) => `${e.kind}@${e.seq}`), ["streamingChunk@8", "eventsLost@12", "streamingChunk@13", "runEnded@14"]);
  assert.deepEqual(calls, [7, 8]);
});

test("waits double up to 2 s, an event resets them, and the 6th failed call in a row gives up", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const tick = mockTime(t);
  const { client, calls } = scripted([
    [started(1), reset(0)],
    [refused(1)],
    [chunk(2, "a"), reset(2)], // delivers an event: the count starts again
    [refused(3)],
    [HEADERS, reset(4)], // headers without an event: the count goes on
    [refused(5)],
    [refused(6)],
    [refused(7)],
    [refused(8)],
  ]);
  const reading = read(client);
  await settle();
  for (const [i, ms] of [100, 200, 100, 200, 400, 800, 1600, 2000].entries()) {
    await tick(ms - 1);
    assert.equal(calls.length, i + 1, `call ${i + 2} not before ${ms} ms`);
    await tick(1);
    assert.equal(calls.length, i + 2, `call ${i + 2} after ${ms} ms`);
  }
  const { events, error } = await endedNow(reading);
  assertRpcError(error, Code.Unavailable, "connect ECONNREFUSED (8)");
  assert.deepEqual(seqs(events), [1, 2]);
  assert.deepEqual(calls, [0, 1, 1, 2, 2, 2, 2, 2, 2]);
});

// A quiet run: the server answers a Watch's headers once it accepted it, and the next event
// may be minutes away. A connection lost after those headers resumes, as after an event.
test("a lost connection after the response headers resumes though no event came", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const tick = mockTime(t);
  const { client, calls } = scripted([
    [HEADERS, reset(1)],
    [HEADERS, new ConnectError("http/2 stream closed with error code CANCEL (0x8)", Code.Canceled)],
    [chunk(8, "a"), ended(9)],
  ]);
  const reading = read(client, { afterSeq: 7 });
  await settle();
  await tick(100);
  await tick(200);
  const { events, error } = await endedNow(reading);
  assert.equal(error, undefined);
  assert.deepEqual(seqs(events), [8, 9]);
  assert.deepEqual(calls, [7, 7, 7]);
});

test("no resume after runEnded, before the response headers, for other errors, or with resume: false", { timeout: TEST_TIMEOUT_MS }, async () => {
  const unresumed = async (scripts: Script[], code: Code, message: string, opts?: WatchOptions) => {
    const { client, calls } = scripted(scripts);
    const { error } = await read(client, opts);
    assertRpcError(error, code, message);
    assert.equal(calls.length, 1, `one call only for ${message}`);
  };
  await unresumed([[started(1), ended(2), reset(1)]], Code.Aborted, "read ECONNRESET (1)");
  await unresumed([[refused(1)]], Code.Unavailable, "connect ECONNREFUSED (1)");
  await unresumed([[reset(1)]], Code.Aborted, "read ECONNRESET (1)");
  // what a mutual-TLS server that closes the connection after the handshake leaves
  await unresumed([[new ConnectError("http/2 stream closed with error code CANCEL (0x8)", Code.Canceled)]], Code.Canceled, "http/2 stream closed with error code CANCEL (0x8)");
  await unresumed([[new ConnectError("no such workflow", Code.NotFound)]], Code.NotFound, "no such workflow");
  await unresumed([[started(1), new ConnectError("no such workflow", Code.NotFound)]], Code.NotFound, "no such workflow");
  // a status is no lost connection, CANCELLED included
  await unresumed([[HEADERS, cancelledStatus()]], Code.Canceled, "cancelled by the server");
  await unresumed([[started(1), cancelledStatus()]], Code.Canceled, "cancelled by the server");
  await unresumed([[started(1), new ConnectError("the operation timed out", Code.DeadlineExceeded)]], Code.DeadlineExceeded, "the operation timed out");
  await unresumed([[started(1), new ConnectError("boom", Code.Internal)]], Code.Internal, "boom");
  await unresumed([[started(1), reset(1)]], Code.Aborted, "read ECONNRESET (1)", { resume: false });
  // a failed TLS handshake on the way: not resumed, and converted as clientError does
  const tls = nodeError("UNABLE_TO_VERIFY_LEAF_SIGNATURE", "unable to verify the first certificate");
  const { client, calls } = scripted([[started(1), new ConnectError(tls.message, Code.Internal, undefined, undefined, tls)]]);
  const { error } = await read(client);
  assert.ok(error instanceof RpcError && error.code === Code.Unavailable && /^TLS handshake with/.test(error.rawMessage), String(error));
  assert.equal(calls.length, 1);
});

/** A watch in its third wait (400 ms) after a lost connection and two refused calls, 10 ms into it. */
async function inThirdWait(t: TestContext, opts?: WatchOptions) {
  const tick = mockTime(t);
  const { client, calls } = scripted([[started(1), reset(0)], [refused(1)], [refused(2)], [started(1), ended(2)]]);
  const reading = read(client, opts);
  await settle();
  await tick(100);
  await tick(200);
  await tick(10);
  assert.equal(calls.length, 3);
  return { client, calls, reading };
}

test("the caller's abort during a wait ends the watch at once with CANCELED", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const controller = new AbortController();
  const { calls, reading } = await inThirdWait(t, { signal: controller.signal });
  controller.abort();
  const { events, error } = await endedNow(reading);
  assertRpcError(error, Code.Canceled, "This operation was aborted");
  assert.equal(error.cause.rawMessage, "connect ECONNREFUSED (2)", "cause: the transport's last error");
  assert.deepEqual(seqs(events), [1]);
  assert.equal(calls.length, 3, "no call after the abort");
});

/** What a Watch call aborted with reason ends with: Connect's own answer (the call never gets out). */
async function abortedCall(reason: unknown): Promise<RpcError> {
  const { error } = await read(createHypergraphClient({ baseUrl: "http://127.0.0.1:1" }), { signal: AbortSignal.abort(reason) });
  assert.ok(error instanceof RpcError, `expected an RpcError, got ${String(error)}`);
  return error;
}

const ABORT_REASONS: [string, unknown][] = [
  ["abort()", undefined],
  ["an Error", new Error("the user left")],
  ["a string", "bye"],
  ["a ConnectError", new ConnectError("gave up", Code.DeadlineExceeded)],
];

for (const [name, reason] of ABORT_REASONS) {
  test(`an abort during a wait, with ${name} as reason, ends as an aborted call does`, { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const expected = await abortedCall(reason);
    const controller = new AbortController();
    const { calls, reading } = await inThirdWait(t, { signal: controller.signal });
    controller.abort(reason);
    const { error } = await endedNow(reading);
    assertRpcError(error, expected.code, expected.rawMessage);
    assert.equal(error.message, expected.message);
    assert.equal(calls.length, 3, "no call after the abort");
  });
}

test("close() during a wait ends the watch at once with the lost connection's error", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { client, calls, reading } = await inThirdWait(t);
  client.close();
  const { error } = await endedNow(reading);
  assertRpcError(error, Code.Unavailable, "connect ECONNREFUSED (2)");
  assert.equal(calls.length, 3, "no call after close()");
});

test("leaving the loop ends the watch: no call is made again", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const tick = mockTime(t);
  const { client, calls } = scripted([[started(1), chunk(2, "a"), reset(1)]]);
  for await (const event of client.watch("w")) {
    assert.equal(event.seq, 1);
    break;
  }
  await tick(5000);
  client.close();
  assert.equal(calls.length, 1);
});

// The same over real HTTP/2, against a stub server: the errors are Connect's own, built from
// what the stub sent. The wait before calling again is a real 0.1 s here.
const stubEvent = (event: PbEvent) => ({ data: toBinary(EventSchema, event) });

test("over HTTP/2: a stream cancelled after the headers resumes; a CANCELLED status ends the watch", { timeout: TEST_TIMEOUT_MS }, async () => {
  const cancelledStub = await startStub([[{ headers: true }, { reset: CANCEL }], [{ headers: true }, stubEvent(chunk(8, "a")), stubEvent(ended(9)), { status: 0 }]]);
  const statusStub = await startStub([[{ headers: true }, { status: Code.Canceled, message: "cancelled by the server" }]]);
  try {
    const resumed = await read(createHypergraphClient({ baseUrl: cancelledStub.baseUrl }), { afterSeq: 7 });
    assert.equal(resumed.error, undefined);
    assert.deepEqual(seqs(resumed.events), [8, 9]);
    assert.equal(cancelledStub.calls, 2);
    const { error } = await read(createHypergraphClient({ baseUrl: statusStub.baseUrl }), { afterSeq: 7 });
    assertRpcError(error, Code.Canceled, "cancelled by the server");
    assert.equal(statusStub.calls, 1, "no call again after a status");
  } finally {
    await cancelledStub.close();
    await statusStub.close();
  }
});
