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
 * (ALREADY_EXISTS), deadline, cancellation, an unreachable server (UNAVAILABLE), ...
 * A node that raises is not an RpcError: that run's result has status "FAILED".
 */
export class RpcError extends HypergraphError {
  /** The status code, e.g. Code.NotFound. */
  readonly code: Code;
  /** The status message as the server sent it. */
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

  constructor(cause: ConnectError) {
    const info = cause.findDetails(ErrorInfoSchema)[0];
    const violations = cause
      .findDetails(BadRequestSchema)
      .flatMap((detail) => detail.fieldViolations.map(({ field, description }) => ({ field, description })));
    const lines = [`${codeName(cause.code)}: ${cause.rawMessage}`, ...violations.map((v) => `  ${v.field}: ${v.description}`)];
    super(lines.join("\n"), { cause });
    this.code = cause.code;
    this.rawMessage = cause.rawMessage;
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
 */
export function clientError(err: unknown): HypergraphError {
  if (err instanceof HypergraphError) return err;
  return new RpcError(ConnectError.from(err));
}
