// Typed events and results: the one place generated messages become the
// wrapper's plain objects (native values, string status names, number seq).
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import {
  RunState as PbRunState,
  RunStatus as PbRunStatus,
  type ErrorInfo as PbErrorInfo,
  type Event as PbEvent,
  type RunResult as PbRunResult,
  type RunSummary as PbRunSummary,
  type StopResponse as PbStopResponse,
} from "./gen/hypergraph/v1/runner_pb.js";
import { HypergraphError } from "./errors.js";
import { fromValue } from "./values.js";

/** How a run ended. */
export type RunStatus = "COMPLETED" | "FAILED" | "STOPPED" | "UNSPECIFIED";

/** A run's lifecycle state as Stop saw it. */
export type RunState = "RUNNING" | "STOPPING" | "ENDED" | "UNSPECIFIED";

/** What stop() answered. */
export interface StopOutcome {
  /** True when a live run was reached; it will end STOPPED (also for a repeated stop). */
  found: boolean;
  /** The run that was reached ("" when not found). */
  runId: string;
  /** The run's state after the request ("UNSPECIFIED" when not found). */
  state: RunState;
}

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
    /**
     * watch() only, its first event (also on a call a resume makes): the server no longer
     * keeps seqs firstSeq..lastSeq, so they are skipped; seq is lastSeq.
     */
    | { kind: "eventsLost"; firstSeq: number; lastSeq: number }
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

const STATE_NAMES: Record<number, RunState> = {
  [PbRunState.RUNNING]: "RUNNING",
  [PbRunState.STOPPING]: "STOPPING",
  [PbRunState.ENDED]: "ENDED",
};

/** A live run as ListRuns shows it. */
export interface RunSummary {
  workflowId: string;
  /** "" until the run has started. */
  runId: string;
  graph: string;
  /** The replica running it. */
  owner: string;
  startTime: Date | undefined;
  /** "RUNNING", or "STOPPING" once a Stop reached it. */
  state: RunState;
}

/** Convert a generated RunSummary to a RunSummary. */
export function toRunSummary(pb: PbRunSummary): RunSummary {
  return {
    workflowId: pb.workflowId,
    runId: pb.runId,
    graph: pb.graph,
    owner: pb.owner,
    startTime: pb.startTime ? timestampDate(pb.startTime) : undefined,
    state: STATE_NAMES[pb.state] ?? "UNSPECIFIED",
  };
}

/** Convert a generated StopResponse to a StopOutcome. */
export function toStopOutcome(pb: PbStopResponse): StopOutcome {
  return { found: pb.found, runId: pb.runId, state: STATE_NAMES[pb.state] ?? "UNSPECIFIED" };
}

/** Convert a generated RunResult message to a RunResult with native values. */
export function toRunResult(pb: PbRunResult | undefined): RunResult {
  if (pb === undefined) {
    throw new HypergraphError("the server sent a run result without its result field; this is a server bug");
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
  // One object, filled in place: this runs once per received message, and an
  // object spread of envelope + body costs ~50x more in V8 than these stores.
  const event: Record<string, unknown> = {
    workflowId: pb.workflowId,
    runId: pb.runId,
    seq: Number(pb.seq),
    node: pb.node,
    spanId: pb.spanId,
    parentSpanId: pb.parentSpanId,
  };
  if (pb.time !== undefined) event.time = timestampDate(pb.time);
  fillBody(event, pb.kind);
  return event as unknown as HypergraphEvent;
}

function fillBody(event: Record<string, unknown>, kind: PbEvent["kind"]): void {
  event.kind = kind.case ?? "unknown";
  switch (kind.case) {
    case "runStarted":
      event.graph = kind.value.graph;
      return;
    case "superstepStarted":
      event.superstep = kind.value.superstep;
      return;
    case "nodeStarted":
      return;
    case "streamingChunk":
      fillChunk(event, kind.value);
      return;
    case "nodeEnded":
      event.durationMs = kind.value.durationMs;
      if (kind.value.usage !== undefined) event.usage = kind.value.usage;
      return;
    case "nodeFailed":
      event.error = toRunError(kind.value.error);
      return;
    case "routeDecision":
      event.decision = kind.value.decision;
      event.end = kind.value.end;
      return;
    case "stopRequested":
      event.info = kind.value.info ?? {};
      return;
    case "runEnded":
      event.result = toRunResult(kind.value.result);
      event.durationMs = kind.value.durationMs;
      return;
    case "eventsLost":
      event.firstSeq = Number(kind.value.firstSeq);
      event.lastSeq = Number(kind.value.lastSeq);
      return;
    default:
      event.kind = "unknown"; // a oneof case newer than this client
  }
}

function fillChunk(event: Record<string, unknown>, chunk: Extract<PbEvent["kind"], { case: "streamingChunk" }>["value"]): void {
  const payload = chunk.payload;
  event.payload = payload.case ?? "none";
  switch (payload.case) {
    case "text":
      event.text = payload.value;
      break;
    case "value":
      event.value = fromValue(payload.value);
      break;
    case "data":
      event.data = payload.value;
      break;
  }
  event.merged = chunk.merged || 1;
}
