// Reading gRPC errors: status code names and the google.rpc details the
// server attaches (ErrorInfo with domain "hypergraph.dev", BadRequest).
import { Code, ConnectError } from "@connectrpc/connect";
import {
  BadRequestSchema,
  ErrorInfoSchema,
  type BadRequest_FieldViolation,
  type ErrorInfo,
} from "./gen/google/rpc/error_details_pb.js";
import type { RunResult } from "./events.js";

export { Code, ConnectError };

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

/** The google.rpc.ErrorInfo detail of an error, if it has one. */
export function errorInfo(err: unknown): ErrorInfo | undefined {
  return asConnectError(err)?.findDetails(ErrorInfoSchema)[0];
}

/** The machine-readable reason (e.g. "GRAPH_NOT_FOUND", "INVALID_INPUT"), or undefined. */
export function errorReason(err: unknown): string | undefined {
  return errorInfo(err)?.reason;
}

/** Every google.rpc.BadRequest field violation of an error (field, description, reason). */
export function fieldViolations(err: unknown): BadRequest_FieldViolation[] {
  const error = asConnectError(err);
  if (error === undefined) return [];
  return error.findDetails(BadRequestSchema).flatMap((detail) => detail.fieldViolations);
}

function asConnectError(err: unknown): ConnectError | undefined {
  if (err instanceof ConnectError) return err;
  if (err instanceof Error) return ConnectError.from(err);
  return undefined;
}

/**
 * Thrown by streamText() when the run ended FAILED (a node raised): the RPC
 * itself succeeded, so this is not a ConnectError. The result says which node
 * and why.
 */
export class RunFailedError extends Error {
  constructor(readonly result: RunResult) {
    const e = result.error;
    super(`workflow ${result.workflowId} failed${e?.node ? ` in node ${e.node}` : ""}: ${e?.type ?? "Error"}: ${e?.message ?? ""}`);
    this.name = "RunFailedError";
  }
}
