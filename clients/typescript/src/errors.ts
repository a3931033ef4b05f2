// The client's errors: every error it throws is a HypergraphError. A failed
// call is an RpcError carrying the status code and the google.rpc details the
// server attaches (ErrorInfo with domain "hypergraph.dev", BadRequest).
import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema, ErrorInfoSchema } from "./gen/google/rpc/error_details_pb.js";
import type { RunResult } from "./events.js";

export { Code };

/** The domain of every ErrorInfo this server sends. */
export const ERROR_DOMAIN = "hypergraph.dev";

/** The canonical gRPC name of a code: Code.NotFound -> "NOT_FOUND". */
export function codeName(code: Code): string {
  const name = Code[code];
  if (name === undefined) return `CODE_${code}`;
  return name.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

/** The Code for a canonical gRPC name: "NOT_FOUND" -> Code.NotFound. */
export function codeFromName(name: string): Code {
  const camel = name
    .toLowerCase()
    .split("_")
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join("");
  const code = (Code as unknown as Record<string, number>)[camel];
  if (code === undefined) throw new RangeError(`unknown gRPC status code name ${JSON.stringify(name)}`);
  return code as Code;
}

/** The base of every error this client throws. */
export class HypergraphError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** One google.rpc.BadRequest field violation, e.g. field "values.b". */
export interface FieldViolation {
  field: string;
  description: string;
}

/**
 * A call failed with a gRPC status: unknown graph (NOT_FOUND), bad input
 * (INVALID_ARGUMENT with fieldViolations), a workflow id already running
 * (ALREADY_EXISTS), deadline, cancellation, an unreachable server or a failed
 * TLS handshake (UNAVAILABLE), ...
 * A node that raises is not an RpcError: that run's result has status "FAILED".
 */
export class RpcError extends HypergraphError {
  /** The status code, e.g. Code.NotFound. */
  readonly code: Code;
  /** The status message as the server sent it (for a call that never reached it, what went wrong). */
  readonly rawMessage: string;
  /** google.rpc.ErrorInfo reason, e.g. "GRAPH_NOT_FOUND" ("" when the status has none). */
  readonly reason: string;
  /** google.rpc.ErrorInfo domain: ERROR_DOMAIN for this server ("" when none). */
  readonly domain: string;
  /** google.rpc.ErrorInfo metadata. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Every google.rpc.BadRequest field violation. */
  readonly fieldViolations: readonly FieldViolation[];
  /** The transport's error, with every detail (findDetails) and the response metadata. */
  declare readonly cause: ConnectError;

  /** status: the code and message to report instead of the transport's (clientError's TLS rule). */
  constructor(cause: ConnectError, status: { code: Code; message: string } = { code: cause.code, message: cause.rawMessage }) {
    const info = cause.findDetails(ErrorInfoSchema)[0];
    const violations = cause
      .findDetails(BadRequestSchema)
      .flatMap((detail) => detail.fieldViolations.map(({ field, description }) => ({ field, description })));
    const lines = [`${codeName(status.code)}: ${status.message}`, ...violations.map((v) => `  ${v.field}: ${v.description}`)];
    super(lines.join("\n"), { cause });
    this.code = status.code;
    this.rawMessage = status.message;
    this.reason = info?.reason ?? "";
    this.domain = info?.domain ?? "";
    this.metadata = { ...(info?.metadata ?? {}) };
    this.fieldViolations = violations;
  }

  /** The canonical name of the code, e.g. "NOT_FOUND". */
  get codeName(): string {
    return codeName(this.code);
  }
}

/**
 * Thrown by streamText() when the run ended FAILED (a node raised): the RPC
 * itself succeeded, so this is not an RpcError. The result says which node and why.
 */
export class RunFailedError extends HypergraphError {
  constructor(readonly result: RunResult) {
    const e = result.error;
    super(`workflow ${result.workflowId} failed${e?.node ? ` in node ${e.node}` : ""}: ${e?.type ?? "Error"}: ${e?.message ?? ""}`);
  }
}

/**
 * The error a failed call surfaces as: this client's own errors pass through,
 * anything from the transport (ConnectError, or what Connect converts to one) becomes an RpcError.
 * A failed TLS handshake with baseUrl becomes UNAVAILABLE (no connection could be made,
 * as the Go, Python and Java clients report it) saying what to check; cause keeps Connect's error.
 */
export function clientError(err: unknown, baseUrl?: string): HypergraphError {
  if (err instanceof HypergraphError) return err;
  const cause = ConnectError.from(err);
  const tls = tlsFailure(err);
  if (tls === undefined) return new RpcError(cause);
  return new RpcError(cause, { code: Code.Unavailable, message: `TLS handshake with ${baseUrl ?? "the server"} failed: ${tls}` });
}

/**
 * The error of a call the caller aborted while none of its HTTP calls was open (a watch
 * waiting to resume), so no call is left to reject: the one an aborted call gives, by
 * Connect's rule for an abort reason. A ConnectError reason is that error; any other is
 * CANCELED with the reason's message ("This operation was aborted" for abort()). cause is
 * the transport's last error, the lost connection's (`lost`).
 */
export function abortedBetweenCalls(reason: unknown, lost: unknown, baseUrl?: string): HypergraphError {
  if (reason instanceof ConnectError) return clientError(reason, baseUrl);
  const message = reason instanceof Error ? reason.message : String(reason);
  return new RpcError(ConnectError.from(lost), { code: Code.Canceled, message });
}

// The `code` Node gives a server certificate this client refuses: OpenSSL's verification
// errors (Node's tls docs, "X509 certificate error codes") and the host name check.
const SERVER_CERTIFICATE_REFUSED = new Set([
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_CRL",
  "UNABLE_TO_DECRYPT_CERT_SIGNATURE",
  "UNABLE_TO_DECRYPT_CRL_SIGNATURE",
  "UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY",
  "CERT_SIGNATURE_FAILURE",
  "CRL_SIGNATURE_FAILURE",
  "CERT_NOT_YET_VALID",
  "CERT_HAS_EXPIRED",
  "CRL_NOT_YET_VALID",
  "CRL_HAS_EXPIRED",
  "ERROR_IN_CERT_NOT_BEFORE_FIELD",
  "ERROR_IN_CERT_NOT_AFTER_FIELD",
  "ERROR_IN_CRL_LAST_UPDATE_FIELD",
  "ERROR_IN_CRL_NEXT_UPDATE_FIELD",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "CERT_CHAIN_TOO_LONG",
  "CERT_REVOKED",
  "INVALID_CA",
  "PATH_LENGTH_EXCEEDED",
  "INVALID_PURPOSE",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "HOSTNAME_MISMATCH",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

// The TLS alerts of a server that refuses this client's certificate (none, or one it
// cannot verify). Node's code for an OpenSSL error is "ERR_SSL_" + its reason in capitals.
const CLIENT_CERTIFICATE_REFUSED = new Set([
  "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED",
  "ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE",
  "ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE",
  "ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED",
  "ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED",
  "ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN",
  "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA",
]);

/** The errors of err's cause chain (at most 8 deep) that carry a Node error `code`, with it. */
function* causeCodes(err: unknown): Generator<[Error, string]> {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") yield [e, code];
  }
}

/**
 * What failed in a TLS handshake and what to check, from the `code` of an error in
 * err's cause chain; undefined when err is no TLS failure. A mutual-TLS server that
 * closes the connection without an alert (grpc's does) leaves no such code: that stays
 * the transport's CANCELED.
 */
function tlsFailure(err: unknown): string | undefined {
  for (const [e, code] of causeCodes(err)) {
    if (SERVER_CERTIFICATE_REFUSED.has(code)) {
      return `${e.message}; check tls.caFile (the CA that signed the server's certificate) and tls.serverName (a name that certificate carries)`;
    }
    if (!code.startsWith("ERR_SSL_")) continue;
    const reason = code.slice("ERR_SSL_".length).toLowerCase().replaceAll("_", " ");
    if (CLIENT_CERTIFICATE_REFUSED.has(code)) {
      return `the server refused this client's TLS certificate (${reason}); check tls.certFile and tls.keyFile (a certificate signed by a CA the server trusts, and its key)`;
    }
    return `${reason}; check that the server serves TLS at this address (a plaintext one needs an http:// baseUrl and no tls) and, for mutual TLS, tls.certFile and tls.keyFile`;
  }
  return undefined;
}

// The `code` Node gives an error of a connection that went away under a call, or of a new
// one that could not be made (Node's errors docs: "Common system errors", libuv's errno
// names, and the http2 and stream codes). Connect reports a reset connection as ABORTED
// with ECONNRESET as its cause.
const CONNECTION_LOST = new Set([
  "ECONNRESET",
  "ECONNABORTED",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EAI_AGAIN",
  "ERR_HTTP2_SESSION_ERROR",
  "ERR_HTTP2_GOAWAY_SESSION",
  "ERR_HTTP2_INVALID_SESSION",
  "ERR_STREAM_PREMATURE_CLOSE",
]);

/** The header or trailer of a gRPC status: what the server sent, never there for a stream cut under a call. */
const GRPC_STATUS = "grpc-status";

/**
 * Whether err, a call's failure as the transport reported it (before clientError), says
 * the connection was lost, so that watch() may call again: UNAVAILABLE (no connection, a
 * draining server), a Node error of CONNECTION_LOST in its cause chain (a reset connection:
 * ABORTED with ECONNRESET), or the HTTP/2 stream cancelled under the call (a connection
 * closed under it: "http/2 stream closed with error code CANCEL"). That one is CANCELED with
 * no cause and no status: a CANCELLED status the server sent is CANCELED too, but Connect
 * builds it from the grpc-status header or trailer, which its metadata keeps, so it is
 * never a lost connection. A caller's abort, close(), and a mutual-TLS server closing the
 * connection right after the handshake look the same as the stream cancel, so watch rules
 * those out itself. A failed TLS handshake is never a lost connection.
 */
export function connectionLost(err: unknown): boolean {
  if (tlsFailure(err) !== undefined) return false;
  const cause = ConnectError.from(err);
  if (cause.code === Code.Unavailable) return true;
  for (const [, code] of causeCodes(err)) {
    if (CONNECTION_LOST.has(code)) return true;
  }
  return cause.code === Code.Canceled && cause.cause === undefined && !cause.metadata.has(GRPC_STATUS);
}
