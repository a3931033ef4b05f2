// Unit tests: value conversion, event/result conversion, error helpers. No hypergraph
// server (an in-process HTTP/2 stub answers the calls whose errors Connect must build).
import assert from "node:assert/strict";
import { test } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate, ValueSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  HypergraphError,
  createHypergraphClient,
  RpcError,
  RunFailedError,
  ValueConversionError,
  codeFromName,
  codeName,
  durationFromMs,
  fromValue,
  toEvent,
  toRunResult,
  toStruct,
} from "../src/index.js";
import * as api from "../src/index.js";
import { clientError, connectionLost } from "../src/errors.js";
import { secureSessionOptions } from "../src/tls.js";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  EventSchema,
  RunRequestSchema,
  RunResultSchema,
  RunState,
  RunStatus,
  StopResponseSchema,
  StreamingChunkSchema,
} from "../src/gen/hypergraph/v1/runner_pb.js";
import { toStopOutcome } from "../src/events.js";
import { CANCEL, startStub, type Answer } from "./stub.js";
import { BadRequestSchema, ErrorInfoSchema } from "../src/gen/google/rpc/error_details_pb.js";

test("public API names are pinned", () => {
  assert.deepEqual(Object.keys(api).sort(), [
    "Code",
    "ERROR_DOMAIN",
    "HypergraphError",
    "RpcError",
    "RunFailedError",
    "ValueConversionError",
    "codeFromName",
    "codeName",
    "createHypergraphClient",
    "durationFromMs",
    "fromValue",
    "toEvent",
    "toJsonValue",
    "toRunResult",
    "toStruct",
  ]);
});

test("values survive the wire; ints stay integral numbers", () => {
  const values = { a: 2, b: 40, big: 2 ** 53 - 1, neg: -7, x: 1.5, s: "héllo", ok: true, l: [1, "two", null], o: { n: 7 } };
  const wire = toBinary(RunRequestSchema, create(RunRequestSchema, { graph: "g", values: toStruct(values) }));
  const back = fromBinary(RunRequestSchema, wire).values!;
  assert.deepStrictEqual(back, values);
  assert.ok(Number.isInteger(back.b) && Number.isSafeInteger(back.big));
  assert.equal(typeof back.a, "number");
});

test("toStruct converts safe bigints and Dates", () => {
  assert.deepStrictEqual(toStruct({ n: 5n, when: new Date("2024-01-02T03:04:05Z") }), { n: 5, when: "2024-01-02T03:04:05.000Z" });
  assert.deepStrictEqual(toStruct(undefined), {});
});

test("toStruct refuses what JSON cannot carry, naming the path", () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ a: { b: undefined } }, /^values\.a\.b: undefined cannot be sent/],
    [{ a: [1, NaN] }, /^values\.a\[1\]: NaN is not a JSON number/],
    [{ f: () => 1 }, /^values\.f: a function cannot be sent/],
    [{ m: new Map() }, /^values\.m: an instance of Map cannot be sent/],
    [{ n: 2n ** 60n }, /^values\.n: bigint 1152921504606846976 is outside/],
  ];
  for (const [input, message] of cases) {
    assert.throws(() => toStruct(input), (err: unknown) => err instanceof ValueConversionError && message.test(err.message));
  }
  assert.throws(() => toStruct([1, 2] as unknown as Record<string, unknown>), /expected a plain object/);
});

test("fromValue converts nested google.protobuf.Value", () => {
  const value = create(ValueSchema, {
    kind: {
      case: "structValue",
      value: {
        fields: {
          n: create(ValueSchema, { kind: { case: "numberValue", value: 3 } }),
          l: create(ValueSchema, {
            kind: {
              case: "listValue",
              value: { values: [create(ValueSchema, { kind: { case: "nullValue", value: 0 } }), create(ValueSchema, { kind: { case: "stringValue", value: "x" } })] },
            },
          }),
        },
      },
    },
  });
  assert.deepStrictEqual(fromValue(value), { n: 3, l: [null, "x"] });
  assert.equal(fromValue(undefined), null);
});

test("toEvent flattens the envelope and the oneof into a typed event", () => {
  const time = new Date("2025-06-01T12:00:00.250Z");
  const pb = create(EventSchema, {
    workflowId: "wf-1",
    runId: "run-1",
    seq: 7n,
    time: timestampFromDate(time),
    node: "emit",
    spanId: "s2",
    parentSpanId: "s1",
    kind: { case: "streamingChunk", value: create(StreamingChunkSchema, { payload: { case: "text", value: "hi" }, merged: 3 }) },
  });
  const event = toEvent(fromBinary(EventSchema, toBinary(EventSchema, pb)));
  assert.deepStrictEqual(event, {
    workflowId: "wf-1",
    runId: "run-1",
    seq: 7,
    time,
    node: "emit",
    spanId: "s2",
    parentSpanId: "s1",
    kind: "streamingChunk",
    payload: "text",
    text: "hi",
    merged: 3,
  });
});

test("toEvent handles value chunks, runEnded and unknown kinds", () => {
  const chunk = toEvent(
    create(EventSchema, {
      seq: 1n,
      kind: { case: "streamingChunk", value: { payload: { case: "value", value: create(ValueSchema, { kind: { case: "numberValue", value: 4 } }) } } },
    }),
  );
  assert.equal(chunk.kind, "streamingChunk");
  assert.ok(chunk.kind === "streamingChunk" && chunk.payload === "value" && chunk.value === 4 && chunk.merged === 1);

  const ended = toEvent(
    create(EventSchema, {
      seq: 2n,
      kind: { case: "runEnded", value: { durationMs: 1.5, result: { workflowId: "w", status: RunStatus.STOPPED, stopInfo: { kind: "user_stop" }, values: { text: "a" } } } },
    }),
  );
  assert.ok(ended.kind === "runEnded");
  assert.equal(ended.result.status, "STOPPED");
  assert.deepStrictEqual(ended.result.stopInfo, { kind: "user_stop" });
  assert.deepStrictEqual(ended.result.values, { text: "a" });

  assert.equal(toEvent(create(EventSchema, { seq: 3n })).kind, "unknown");

  const lost = toEvent(create(EventSchema, { seq: 9n, kind: { case: "eventsLost", value: { firstSeq: 4n, lastSeq: 9n } } }));
  assert.ok(lost.kind === "eventsLost" && lost.firstSeq === 4 && lost.lastSeq === 9 && lost.seq === 9);
});

test("toRunResult maps FAILED with its error", () => {
  const result = toRunResult(
    create(RunResultSchema, { workflowId: "w", runId: "r", status: RunStatus.FAILED, error: { type: "ValueError", message: "boom", node: "raise_error" } }),
  );
  assert.deepStrictEqual(result, {
    workflowId: "w",
    runId: "r",
    status: "FAILED",
    values: {},
    forced: false,
    error: { type: "ValueError", message: "boom", node: "raise_error" },
  });
  assert.throws(() => toRunResult(undefined), /without its result/);
});

test("code names map both ways", () => {
  assert.equal(codeName(Code.NotFound), "NOT_FOUND");
  assert.equal(codeName(Code.DeadlineExceeded), "DEADLINE_EXCEEDED");
  assert.equal(codeName(Code.InvalidArgument), "INVALID_ARGUMENT");
  assert.equal(codeFromName("ALREADY_EXISTS"), Code.AlreadyExists);
  assert.equal(codeFromName("RESOURCE_EXHAUSTED"), Code.ResourceExhausted);
  assert.throws(() => codeFromName("NO_SUCH_CODE"), /unknown gRPC status code name "NO_SUCH_CODE"/);
});

test("an RpcError carries the code, ErrorInfo and BadRequest field violations of the status", () => {
  const cause = new ConnectError("bad input", Code.InvalidArgument, undefined, [
    { desc: ErrorInfoSchema, value: { reason: "INVALID_INPUT", domain: "hypergraph.dev", metadata: { graph: "add" } } },
    { desc: BadRequestSchema, value: { fieldViolations: [{ field: "values.b", description: "missing" }] } },
  ]);
  const err = new RpcError(cause);
  assert.ok(err instanceof HypergraphError);
  assert.equal(err.name, "RpcError");
  assert.equal(err.code, Code.InvalidArgument);
  assert.equal(err.codeName, "INVALID_ARGUMENT");
  assert.equal(err.rawMessage, "bad input");
  assert.equal(err.reason, "INVALID_INPUT");
  assert.equal(err.domain, "hypergraph.dev");
  assert.deepEqual(err.metadata, { graph: "add" });
  assert.deepEqual(err.fieldViolations, [{ field: "values.b", description: "missing" }]);
  assert.equal(err.message, "INVALID_ARGUMENT: bad input\n  values.b: missing");
  assert.equal(err.cause, cause);
});

test("a status without details has an empty reason and no violations", () => {
  const err = new RpcError(new ConnectError("gone", Code.Unavailable));
  assert.equal(err.reason, "");
  assert.equal(err.domain, "");
  assert.deepEqual(err.fieldViolations, []);
});

test("every failure surfaces as a HypergraphError; the client's own pass through unchanged", () => {
  const connect = clientError(new ConnectError("late", Code.DeadlineExceeded));
  assert.ok(connect instanceof RpcError && connect.code === Code.DeadlineExceeded);
  const plain = clientError(new TypeError("socket hang up"));
  assert.ok(plain instanceof RpcError, "a non-Connect transport error is wrapped too");
  assert.equal(plain.code, Code.Unknown);
  const own = new ValueConversionError("values.x", "undefined cannot be sent");
  assert.equal(clientError(own), own);
  const failed = new RunFailedError({ workflowId: "wf-1", runId: "r", status: "FAILED", values: {}, forced: false });
  assert.ok(failed instanceof HypergraphError);
  assert.equal(clientError(failed), failed);
});

// What Node and Connect throw when a handshake fails: Node's error (its documented `code`)
// as the ConnectError's cause, for a refused client certificate under the stream's cancel error.
function nodeError(code: string, message: string, cause?: Error): Error {
  return Object.assign(new Error(message, { cause }), { code });
}

test("a failed TLS handshake is UNAVAILABLE and says what to check; Connect's error stays the cause", () => {
  const baseUrl = "https://runner.internal:443";
  const leaf = nodeError("UNABLE_TO_VERIFY_LEAF_SIGNATURE", "unable to verify the first certificate");
  const connect = new ConnectError(leaf.message, Code.Internal, undefined, undefined, leaf);
  const untrusted = clientError(connect, baseUrl);
  assert.ok(untrusted instanceof RpcError);
  assert.equal(untrusted.code, Code.Unavailable);
  assert.equal(
    untrusted.message,
    "UNAVAILABLE: TLS handshake with https://runner.internal:443 failed: unable to verify the first certificate; " +
      "check tls.caFile (the CA that signed the server's certificate) and tls.serverName (a name that certificate carries)",
  );
  assert.equal(untrusted.cause, connect);
  assert.equal(untrusted.cause.cause, leaf);

  const message = (err: Error) => (clientError(err, baseUrl) as RpcError).rawMessage;
  for (const code of ["SELF_SIGNED_CERT_IN_CHAIN", "DEPTH_ZERO_SELF_SIGNED_CERT", "CERT_HAS_EXPIRED", "ERR_TLS_CERT_ALTNAME_INVALID"]) {
    assert.match(message(nodeError(code, "refused")), /failed: refused; check tls\.caFile .* and tls\.serverName/, code);
  }
  const required = nodeError("ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED", "error:0A00045C:SSL routines::tlsv13 alert certificate required");
  const reset = nodeError("ERR_HTTP2_STREAM_CANCEL", "The pending stream has been canceled", required);
  assert.equal(
    message(new ConnectError(reset.message, Code.Internal, undefined, undefined, reset)),
    "TLS handshake with https://runner.internal:443 failed: the server refused this client's TLS certificate " +
      "(tlsv13 alert certificate required); check tls.certFile and tls.keyFile (a certificate signed by a CA the server trusts, and its key)",
  );
  assert.match(message(nodeError("ERR_SSL_TLSV1_ALERT_UNKNOWN_CA", "x")), /refused this client's TLS certificate \(tlsv1 alert unknown ca\)/);
  assert.match(message(nodeError("ERR_SSL_WRONG_VERSION_NUMBER", "x")), /failed: wrong version number; check that the server serves TLS/);
});

test("failures that are no TLS handshake keep the transport's code", () => {
  const reset = clientError(nodeError("ECONNRESET", "socket hang up"), "https://runner:443");
  assert.ok(reset instanceof RpcError && reset.code === Code.Unknown && reset.rawMessage === "socket hang up");
  const key = nodeError("ERR_OSSL_X509_KEY_VALUES_MISMATCH", "key values mismatch");
  const mismatch = clientError(new ConnectError(key.message, Code.Internal, undefined, undefined, key), "https://runner:443");
  assert.ok(mismatch instanceof RpcError && mismatch.code === Code.Internal);
  // what a mutual-TLS server that closes without an alert leaves: nothing to tell it from any other reset
  const canceled = clientError(new ConnectError("http/2 stream closed with error code CANCEL (0x8)", Code.Canceled), "https://runner:443");
  assert.ok(canceled instanceof RpcError && canceled.code === Code.Canceled);
});

// What connect-node reported when the connection under a Watch stream was cut: ABORTED with
// Node's ECONNRESET (an RST), CANCELED without a cause or status (a FIN, or the server killed).
test("connectionLost: a reset or closed connection, UNAVAILABLE; never a TLS failure or a status", () => {
  const connect = (message: string, code: Code, cause?: Error) => new ConnectError(message, code, undefined, undefined, cause);
  const lost = [
    connect("read ECONNRESET", Code.Aborted, nodeError("ECONNRESET", "read ECONNRESET")),
    connect("http/2 stream closed with error code CANCEL (0x8)", Code.Canceled),
    connect("connect ECONNREFUSED 127.0.0.1:1", Code.Unavailable, nodeError("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:1")),
    connect("the server is draining", Code.Unavailable),
    connect("Session closed with error code 2", Code.Internal, nodeError("ERR_HTTP2_SESSION_ERROR", "Session closed with error code 2")),
    connect("premature close", Code.Unknown, nodeError("ERR_STREAM_PREMATURE_CLOSE", "Premature close")),
    nodeError("EPIPE", "write EPIPE"),
  ];
  for (const err of lost) assert.equal(connectionLost(err), true, err.message);
  const required = nodeError("ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED", "tlsv13 alert certificate required");
  const other = [
    connect("no such workflow", Code.NotFound),
    connect("the operation timed out", Code.DeadlineExceeded),
    connect("boom", Code.Internal),
    connect("Stream closed with error code 2", Code.Internal, nodeError("ERR_HTTP2_STREAM_ERROR", "Stream closed with error code 2")),
    connect("unable to verify the first certificate", Code.Internal, nodeError("UNABLE_TO_VERIFY_LEAF_SIGNATURE", "unable to verify")),
    connect("wrong version number", Code.Internal, nodeError("ERR_SSL_WRONG_VERSION_NUMBER", "wrong version number")),
    connect("canceled", Code.Canceled, nodeError("ERR_HTTP2_STREAM_CANCEL", "The pending stream has been canceled", required)),
    // a CANCELLED status: Connect keeps the trailers it came in as metadata (see the next test)
    new ConnectError("cancelled by the server", Code.Canceled, new Headers({ "grpc-status": "1", "grpc-message": "cancelled by the server" })),
  ];
  for (const err of other) assert.equal(connectionLost(err), false, err.message);
});

/** What Connect reports for a Watch the stub answers with answer: a real call's error. */
async function watchFailure(answer: Answer): Promise<ConnectError> {
  const stub = await startStub([answer]);
  const client = createHypergraphClient({ baseUrl: stub.baseUrl });
  let failure: unknown;
  try {
    for await (const event of client.raw.watch({ workflowId: "w" })) assert.equal(event.seq, 1n);
  } catch (err) {
    failure = err;
  } finally {
    client.close();
    await stub.close();
  }
  assert.ok(failure instanceof ConnectError, `expected a ConnectError, got ${String(failure)}`);
  return failure;
}

// The errors as Connect builds them from what a server sent, not made up: a CANCELLED status
// (in the trailers after an event, or trailers-only) is CANCELED without a cause, just like
// the HTTP/2 stream cancel a cut connection leaves (RST_STREAM CANCEL); only the status
// keeps grpc-status in its metadata.
test("connectionLost: never a CANCELLED status the server sent; a cancelled HTTP/2 stream is", { timeout: 30_000 }, async () => {
  const started = { data: toBinary(EventSchema, create(EventSchema, { seq: 1n, kind: { case: "runStarted", value: { graph: "g" } } })) };
  const cancelled = { status: Code.Canceled, message: "cancelled by the server" };
  const statuses = [await watchFailure([{ headers: true }, started, cancelled]), await watchFailure([cancelled])];
  for (const err of statuses) {
    assert.equal(err.code, Code.Canceled);
    assert.equal(err.rawMessage, "cancelled by the server");
    assert.equal(err.cause, undefined);
    assert.equal(connectionLost(err), false, "a CANCELLED status");
  }
  const reset = await watchFailure([{ headers: true }, started, { reset: CANCEL }]);
  assert.equal(reset.code, Code.Canceled);
  assert.equal(reset.rawMessage, "http/2 stream closed with error code CANCEL (0x8)");
  assert.equal(reset.cause, undefined);
  assert.equal(connectionLost(reset), true, "an HTTP/2 stream cancelled under the call");
  const draining = await watchFailure([{ headers: true }, started, { status: Code.Unavailable, message: "draining" }]);
  assert.equal(connectionLost(draining), true, "UNAVAILABLE, a status too, is a lost connection");
});

test("a StopResponse becomes a StopOutcome with the state's name", () => {
  const outcome = toStopOutcome(create(StopResponseSchema, { found: true, runId: "run-1", state: RunState.STOPPING }));
  assert.deepEqual(outcome, { found: true, runId: "run-1", state: "STOPPING" });
  assert.equal(toStopOutcome(create(StopResponseSchema, { state: RunState.ENDED })).state, "ENDED");
  assert.deepEqual(toStopOutcome(create(StopResponseSchema, {})), { found: false, runId: "", state: "UNSPECIFIED" });
});

test("durationFromMs splits seconds and nanos", () => {
  const d = durationFromMs(1500.25);
  assert.equal(d.seconds, 1n);
  assert.equal(d.nanos, 500_250_000);
  assert.throws(() => durationFromMs(-1), (err: unknown) => err instanceof ValueConversionError && /^graceMs: /.test(err.message));
});

test("tls options read the CA, certificate and key files into the session options", () => {
  const dir = mkdtempSync(join(tmpdir(), "hg-tls-"));
  const file = (name: string) => {
    const path = join(dir, name);
    writeFileSync(path, `-----BEGIN ${name}-----\n`);
    return path;
  };
  const options = secureSessionOptions({ caFile: file("ca"), certFile: file("cert"), keyFile: file("key"), serverName: "runner" });
  assert.equal(String(options.ca), "-----BEGIN ca-----\n");
  assert.equal(String(options.cert), "-----BEGIN cert-----\n");
  assert.equal(String(options.key), "-----BEGIN key-----\n");
  assert.equal(options.servername, "runner");
  assert.equal(secureSessionOptions({}).ca, undefined, "no caFile: Node's trusted roots");
});

test("tls options that cannot be used are refused as HypergraphErrors", () => {
  const refused = (make: () => unknown, message: RegExp) =>
    assert.throws(make, (err: unknown) => err instanceof HypergraphError && message.test(err.message));
  refused(() => secureSessionOptions({ caFile: "/nonexistent/ca.pem" }), /cannot read caFile \/nonexistent\/ca\.pem/);
  refused(() => secureSessionOptions({ certFile: "/nonexistent/cert.pem" }), /needs both certFile and keyFile/);
  refused(() => createHypergraphClient({ baseUrl: "http://127.0.0.1:1", tls: {} }), /tls needs an https:\/\/ baseUrl/);
});
