// Typed events and results: the one place generated messages become the
// wrapper's plain objects (native values, string status names, number seq).
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import {
  RunStatus as PbRunStatus,
  type ErrorInfo as PbErrorInfo,
  type Event as PbEvent,
  type RunResult as PbRunResult,
} from "./gen/hypergraph/v1/runner_pb.js";
import { fromValue } from "./values.js";

/** How a run ended. */
export type RunStatus = "COMPLETED" | "FAILED" | "STOPPED" | "UNSPECIFIED";

/** The error that failed a run or a node. */
export interface RunError {
  /** The error's type name, e.g. "ValueError". */
  type: string;
  message: string;
  /** The node that raised, when known (else ""). */
  node: string;
}

/** The outcome of one run, with native values. */
export interface RunResult {
  workflowId: string;
  runId: string;
  status: RunStatus;
  /** The last value of every (selected) output; ints are integral numbers. */
  values: JsonObject;
  /** Set when status is FAILED. */
  error?: RunError;
  /** The info given to Stop when status is STOPPED by a request. */
  stopInfo?: JsonObject;
  /** True when nodes were cancelled (grace ran out, or the client went away). */
  forced: boolean;
  /** Usage reported by LLM nodes (input_tokens, output_tokens, stop_reason...). */
  usage?: JsonObject;
}

/** Fields every event carries. */
export interface EventEnvelope {
  workflowId: string;
  runId: string;
  /** 1, 2, 3... within a run, without gaps (a merged chunk takes one number). */
  seq: number;
  time?: Date;
  /** The node the event belongs to; "" for run-level events. */
  node: string;
  spanId: string;
  parentSpanId: string;
}

/** One event of a run: a discriminated union on `kind`. */
export type HypergraphEvent = EventEnvelope &
  (
    | { kind: "runStarted"; graph: string }
    | { kind: "superstepStarted"; superstep: number }
    | { kind: "nodeStarted" }
    | {
        kind: "streamingChunk";
        /** Which payload the chunk holds. */
        payload: "text" | "value" | "data" | "none";
        /** Set for text chunks (merged chunks are concatenated). */
        text?: string;
        /** Set for value chunks. */
        value?: JsonValue;
        /** Set for bytes chunks. */
        data?: Uint8Array;
        /** How many ctx.stream() calls this message holds. */
        merged: number;
      }
    | { kind: "nodeEnded"; durationMs: number; usage?: JsonObject }
    | { kind: "nodeFailed"; error: RunError }
    | { kind: "routeDecision"; decision: string; end: boolean }
    | { kind: "stopRequested"; info: JsonObject }
    | { kind: "runEnded"; result: RunResult; durationMs: number }
    /** An event kind newer than this client; skip it. */
    | { kind: "unknown" }
  );

/** The kinds of HypergraphEvent. */
export type EventKind = HypergraphEvent["kind"];

const STATUS_NAMES: Record<number, RunStatus> = {
  [PbRunStatus.COMPLETED]: "COMPLETED",
  [PbRunStatus.FAILED]: "FAILED",
  [PbRunStatus.STOPPED]: "STOPPED",
};

/** Convert a generated RunResult message to a RunResult with native values. */
export function toRunResult(pb: PbRunResult | undefined): RunResult {
  if (pb === undefined) {
    throw new Error("the server sent a run result without its result field; this is a server bug");
  }
  const result: RunResult = {
    workflowId: pb.workflowId,
    runId: pb.runId,
    status: STATUS_NAMES[pb.status] ?? "UNSPECIFIED",
    values: pb.values ?? {},
    forced: pb.forced,
  };
  if (pb.error !== undefined) result.error = toRunError(pb.error);
  if (pb.stopInfo !== undefined) result.stopInfo = pb.stopInfo;
  if (pb.usage !== undefined) result.usage = pb.usage;
  return result;
}

function toRunError(pb: PbErrorInfo | undefined): RunError {
  return { type: pb?.type ?? "", message: pb?.message ?? "", node: pb?.node ?? "" };
}

/** Convert a generated Event message to a HypergraphEvent. */
export function toEvent(pb: PbEvent): HypergraphEvent {
  const envelope: EventEnvelope = {
    workflowId: pb.workflowId,
    runId: pb.runId,
    seq: Number(pb.seq),
    node: pb.node,
    spanId: pb.spanId,
    parentSpanId: pb.parentSpanId,
  };
  if (pb.time !== undefined) envelope.time = timestampDate(pb.time);
  return { ...envelope, ...eventBody(pb.kind) };
}

// Distribute Omit over the union so each member keeps its own fields.
type Body<E> = E extends HypergraphEvent ? Omit<E, keyof EventEnvelope> : never;

function eventBody(kind: PbEvent["kind"]): Body<HypergraphEvent> {
  switch (kind.case) {
    case "runStarted":
      return { kind: "runStarted", graph: kind.value.graph };
    case "superstepStarted":
      return { kind: "superstepStarted", superstep: kind.value.superstep };
    case "nodeStarted":
      return { kind: "nodeStarted" };
    case "streamingChunk":
      return chunkBody(kind.value);
    case "nodeEnded": {
      const body: Body<Extract<HypergraphEvent, { kind: "nodeEnded" }>> = {
        kind: "nodeEnded",
        durationMs: kind.value.durationMs,
      };
      if (kind.value.usage !== undefined) body.usage = kind.value.usage;
      return body;
    }
    case "nodeFailed":
      return { kind: "nodeFailed", error: toRunError(kind.value.error) };
    case "routeDecision":
      return { kind: "routeDecision", decision: kind.value.decision, end: kind.value.end };
    case "stopRequested":
      return { kind: "stopRequested", info: kind.value.info ?? {} };
    case "runEnded":
      return { kind: "runEnded", result: toRunResult(kind.value.result), durationMs: kind.value.durationMs };
    default:
      return { kind: "unknown" };
  }
}

function chunkBody(chunk: Extract<PbEvent["kind"], { case: "streamingChunk" }>["value"]): Body<HypergraphEvent> {
  const merged = chunk.merged || 1;
  const payload = chunk.payload;
  switch (payload.case) {
    case "text":
      return { kind: "streamingChunk", payload: "text", text: payload.value, merged };
    case "value":
      return { kind: "streamingChunk", payload: "value", value: fromValue(payload.value), merged };
    case "data":
      return { kind: "streamingChunk", payload: "data", data: payload.value, merged };
    default:
      return { kind: "streamingChunk", payload: "none", merged };
  }
}
