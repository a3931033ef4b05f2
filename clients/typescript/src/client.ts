// The idiomatic wrapper: createHypergraphClient({ baseUrl }) over the
// generated RunnerService and a Connect gRPC transport (HTTP/2, node:http2).
import { create, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { createClient, type CallOptions, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { DurationSchema, type Duration } from "@bufbuild/protobuf/wkt";
import {
  EventView,
  IterRequestSchema,
  ListRunsRequestSchema,
  RunnerService,
  RunRequestSchema,
  StopRequestSchema,
  StreamOptionsSchema,
  WatchRequestSchema,
  type Event as PbEvent,
  type GraphInfo as PbGraphInfo,
} from "./gen/hypergraph/v1/runner_pb.js";
import {
  toEvent,
  toRunResult,
  toRunSummary,
  toStopOutcome,
  type HypergraphEvent,
  type RunResult,
  type RunSummary,
  type StopOutcome,
} from "./events.js";
import { abortedBetweenCalls, clientError, connectionLost, HypergraphError, RunFailedError } from "./errors.js";
import { secureSessionOptions, type TlsOptions } from "./tls.js";
import { fromValue, toStruct, ValueConversionError } from "./values.js";

/** Options of createHypergraphClient. */
export interface ClientOptions {
  /**
   * Where the server listens: "http://127.0.0.1:50051", or "https://..." for TLS (a bare
   * "host:port" also works: http, or https when `tls` is given).
   */
  baseUrl: string;
  /** Connect over TLS with these certificates (a CA file, a client certificate for mutual TLS). */
  tls?: TlsOptions;
  /** Deadline applied to every call that sets no timeoutMs of its own. */
  defaultTimeoutMs?: number;
  /** Connect interceptors, e.g. to add an authorization header. */
  interceptors?: Interceptor[];
}

/** Per-call options every method accepts. */
export interface CallOpts {
  /** Aborting cancels the call; for iter/streamText this stops the run server-side (unless detach). */
  signal?: AbortSignal;
  /** The call's deadline; the server answers DEADLINE_EXCEEDED and stops the run. */
  timeoutMs?: number;
  /** Extra request headers (metadata). */
  headers?: CallOptions["headers"];
}

/** Options of run(). */
export interface RunOptions extends CallOpts {
  /** The workflow id; the server makes one ("wf-" + 12 hex) when omitted. */
  workflowId?: string;
  /** Output names to return; empty or omitted returns every output. */
  select?: string[];
  /** The most times any one node may run; 0 or omitted: server default. */
  maxIterations?: number;
}

/** Options of iter() and streamText(). */
export interface IterOptions extends RunOptions {
  /** Keep the run going when this stream ends early (abort, disconnect, deadline). */
  detach?: boolean;
  /** One message per ctx.stream() call, never merged (measurement, strict framing). */
  disableMerge?: boolean;
  /** Events queued for this stream before text chunks merge; 0: server default. */
  maxQueuedEvents?: number;
  /** Bytes of text one merged chunk may hold; 0: server default. */
  maxChunkBytes?: number;
  /**
   * "text" leaves out the node lifecycle (superstepStarted, nodeStarted, nodeEnded,
   * routeDecision): runStarted, chunks, node failures, stops and runEnded only, at a
   * lower cost per stream on the server; seq then skips the events left out.
   * streamText() asks for it unless told otherwise. Default "full": every event.
   */
  view?: "full" | "text";
}

/** Options of stop(). */
export interface StopOptions extends CallOpts {
  /** Recorded as the run's stopInfo, e.g. { kind: "user_stop" }. */
  info?: Record<string, unknown>;
  /** After this many ms, still-running nodes are cancelled (result.forced). */
  graceMs?: number;
}

/** Options of listRuns(). */
export interface ListRunsOptions extends CallOpts {
  /** Only runs of this graph. */
  graph?: string;
}

/** Options of watch(). */
export interface WatchOptions extends CallOpts {
  /** Send events with seq greater than this; 0: from the first event. */
  afterSeq?: number;
  /**
   * After a lost connection, call Watch again by itself from the last seq delivered and go
   * on in the same iterable (default true), once the server accepted the watch (its response
   * headers or an event arrived); false: the iterable throws the lost connection's RpcError,
   * as before. timeoutMs applies to each call anew.
   */
  resume?: boolean;
}

/** One input of a registered graph. */
export interface InputInfo {
  name: string;
  required: boolean;
  /** The default of an optional input (undefined when required). */
  defaultValue?: JsonValue;
  description: string;
  /** The Python annotation as text, e.g. "int"; "" when none. */
  type: string;
}

/** A registered graph, as ListGraphs describes it. */
export interface GraphInfo {
  name: string;
  description: string;
  inputs: InputInfo[];
  outputs: { name: string; node: string; description: string }[];
  nodes: string[];
}

/** The text of a run as it streams; `result` settles when the run ends. */
export interface TextStream extends AsyncIterable<string> {
  /** The run's result once RunEnded arrived; rejects if the stream failed or was left early. */
  readonly result: Promise<RunResult>;
  /** The workflow id: the one given in the options, else the server's once the first event arrived. */
  readonly workflowId: string | undefined;
}

/** A hypergraph-grpc client. One HTTP/2 connection, shared by all calls. */
export interface HypergraphClient {
  /** Every registered graph with its inputs, outputs and nodes, sorted by name. */
  listGraphs(opts?: CallOpts): Promise<GraphInfo[]>;
  /** Start a workflow, wait for it to end, return its result (a FAILED run is a result, not an error). */
  run(graph: string, values?: Record<string, unknown>, opts?: RunOptions): Promise<RunResult>;
  /** Start a workflow and yield each of its events, ending with "runEnded". */
  iter(graph: string, values?: Record<string, unknown>, opts?: IterOptions): AsyncIterable<HypergraphEvent>;
  /** Start a workflow and yield only its text chunks; throws RunFailedError if the run FAILED. */
  streamText(graph: string, values?: Record<string, unknown>, opts?: IterOptions): TextStream;
  /** Ask a live workflow to stop; `found` when a live run was reached. Idempotent. */
  stop(workflowId: string, opts?: StopOptions): Promise<StopOutcome>;
  /**
   * Attach to a workflow's events by id: those after `afterSeq`, then live ones until "runEnded".
   * A lost connection resumes by itself after the last event delivered (see WatchOptions.resume).
   */
  watch(workflowId: string, opts?: WatchOptions): AsyncIterable<HypergraphEvent>;
  /** The live runs of the deployment (every replica), oldest first; all pages. */
  listRuns(opts?: ListRunsOptions): Promise<RunSummary[]>;
  /** Close the connection (and any open streams). Idle connections do not keep the process alive. */
  close(): void;
  /** The generated Connect client, for anything the wrapper does not cover. */
  readonly raw: Client<typeof RunnerService>;
}

/** Create a client for a hypergraph-grpc server. */
export function createHypergraphClient(options: ClientOptions): HypergraphClient {
  const baseUrl = normalizeBaseUrl(options.baseUrl, options.tls !== undefined);
  const sessionOptions = options.tls === undefined ? undefined : secureSessionOptions(options.tls);
  const sessionManager = new Http2SessionManager(baseUrl, undefined, sessionOptions);
  const transport = createGrpcTransport({
    baseUrl,
    sessionManager,
    defaultTimeoutMs: options.defaultTimeoutMs,
    interceptors: options.interceptors,
  });
  const raw = createClient(RunnerService, transport);
  const closed = new AbortController(); // aborted by close(): a watch then no longer resumes
  const iter = (graph: string, values?: Record<string, unknown>, opts: IterOptions = {}) => {
    const request = iterRequest(graph, values, opts);
    return events((signal) => raw.iter(request, { ...callOptions(opts), signal }), opts.signal, baseUrl);
  };

  return {
    raw,
    async listGraphs(opts = {}) {
      const response = await unary(raw.listGraphs({}, callOptions(opts)), baseUrl);
      return response.graphs.map(toGraphInfo);
    },
    async run(graph, values, opts = {}) {
      const request = create(RunRequestSchema, {
        graph,
        values: toStruct(values),
        workflowId: opts.workflowId ?? "",
        select: opts.select ?? [],
        maxIterations: opts.maxIterations ?? 0,
      });
      const response = await unary(raw.run(request, callOptions(opts)), baseUrl);
      return toRunResult(response.result);
    },
    iter,
    streamText: (graph, values, opts = {}) =>
      textStream(iter(graph, values, { view: "text", ...opts }), opts.workflowId),
    async stop(workflowId, opts = {}) {
      const request = create(StopRequestSchema, {
        workflowId,
        info: opts.info === undefined ? undefined : toStruct(opts.info, "info"),
        grace: opts.graceMs === undefined ? undefined : durationFromMs(opts.graceMs),
      });
      const response = await unary(raw.stop(request, callOptions(opts)), baseUrl);
      return toStopOutcome(response);
    },
    watch(workflowId, opts = {}) {
      const call = (afterSeq: bigint, signal: AbortSignal, onHeader: () => void) =>
        raw.watch(create(WatchRequestSchema, { workflowId, afterSeq }), { ...callOptions(opts), signal, onHeader });
      const afterSeq = BigInt(opts.afterSeq ?? 0);
      const resume = opts.resume === false ? undefined : { reopen: call, afterSeq, closed: closed.signal };
      return events((signal, onHeader) => call(afterSeq, signal, onHeader), opts.signal, baseUrl, resume);
    },
    async listRuns(opts = {}) {
      const runs: RunSummary[] = [];
      let pageToken = "";
      do {
        const request = create(ListRunsRequestSchema, { graph: opts.graph ?? "", pageToken });
        const page = await unary(raw.listRuns(request, callOptions(opts)), baseUrl);
        runs.push(...page.runs.map(toRunSummary));
        pageToken = page.nextPageToken;
      } while (pageToken !== "");
      return runs;
    },
    close() {
      closed.abort();
      sessionManager.abort();
    },
  };
}

function iterRequest(graph: string, values: Record<string, unknown> | undefined, opts: IterOptions) {
  return create(IterRequestSchema, {
    graph,
    values: toStruct(values),
    workflowId: opts.workflowId ?? "",
    select: opts.select ?? [],
    maxIterations: opts.maxIterations ?? 0,
    options: create(StreamOptionsSchema, {
      detach: opts.detach ?? false,
      disableMerge: opts.disableMerge ?? false,
      maxQueuedEvents: opts.maxQueuedEvents ?? 0,
      maxChunkBytes: opts.maxChunkBytes ?? 0,
      view: opts.view === "text" ? EventView.TEXT : EventView.UNSPECIFIED,
    }),
  });
}

// Watch resumes: how many calls in a row may fail after a lost connection, and the
// wait before each (doubling up to the most); the same as the Python and Go clients.
const RESUME_ATTEMPTS = 6;
const RESUME_FIRST_WAIT_MS = 100;
const RESUME_MAX_WAIT_MS = 2000;

/**
 * How a watch resumes: call Watch again for the events after afterSeq (onHeader: Connect's
 * callback for the call's response headers); `closed` is aborted by close().
 */
interface Resume {
  reopen: (afterSeq: bigint, signal: AbortSignal, onHeader: () => void) => AsyncIterable<PbEvent>;
  afterSeq: bigint;
  closed: AbortSignal;
}

// Connect's stream iterables have no return(): leaving a `for await` loop early
// (break, throw) would leave the HTTP/2 stream open and the run going. So each
// stream gets its own AbortController, aborted when the generator finishes for
// any reason; the server then stops the run (unless detach). The caller's
// signal is forwarded to it, so aborting that still ends with Code.Canceled.
//
// With resume (watch), a call that fails with a lost connection (connectionLost) is
// made again after the seq of the last event yielded, after a wait, and its events
// go on in the same generator. Only once the watch is established: its response headers
// arrived (the server sends them as soon as it accepts the Watch, before any event, which
// on a quiet run may be minutes away) or an event did. So a first call that fails before
// them (no server, a refused TLS handshake, NOT_FOUND) fails at once. Never after runEnded,
// nor once the caller aborted or the client was closed; at most RESUME_ATTEMPTS times
// without an event in between (headers alone do not start the count again).
async function* events(
  start: (signal: AbortSignal, onHeader: () => void) => AsyncIterable<PbEvent>,
  callerSignal: AbortSignal | undefined,
  baseUrl: string,
  resume?: Resume,
): AsyncGenerator<HypergraphEvent> {
  const controller = new AbortController();
  const forward = () => controller.abort(callerSignal?.reason);
  if (callerSignal?.aborted) forward();
  callerSignal?.addEventListener("abort", forward, { once: true });
  let established = false;
  const onHeader = () => {
    established = true;
  };
  try {
    let stream = start(controller.signal, onHeader)[Symbol.asyncIterator]();
    let lastSeq = resume?.afterSeq ?? 0n;
    let ended = false;
    let failures = 0; // calls made again in a row without an event
    for (;;) {
      let next: IteratorResult<PbEvent>;
      try {
        next = await stream.next();
      } catch (err) {
        const again =
          resume !== undefined &&
          established &&
          !ended &&
          failures < RESUME_ATTEMPTS &&
          !controller.signal.aborted &&
          !resume.closed.aborted &&
          connectionLost(err);
        if (!again) throw err;
        await wait(Math.min(RESUME_FIRST_WAIT_MS * 2 ** failures, RESUME_MAX_WAIT_MS), controller.signal, resume.closed);
        failures++;
        // Aborted while waiting: no call is left to reject, so errors.ts gives what an aborted call would.
        if (controller.signal.aborted) throw abortedBetweenCalls(controller.signal.reason, err);
        if (resume.closed.aborted) throw err;
        stream = resume.reopen(lastSeq, controller.signal, onHeader)[Symbol.asyncIterator]();
        continue;
      }
      if (next.done) return;
      const event = toEvent(next.value);
      lastSeq = next.value.seq;
      established = true;
      failures = 0;
      ended ||= event.kind === "runEnded";
      yield event;
    }
  } catch (err) {
    throw clientError(err, baseUrl);
  } finally {
    callerSignal?.removeEventListener("abort", forward);
    controller.abort();
  }
}

/** Resolve after ms, or as soon as one of the signals is aborted. */
function wait(ms: number, ...signals: AbortSignal[]): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      for (const signal of signals) signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    for (const signal of signals) signal.addEventListener("abort", done, { once: true });
  });
}

/** A unary call whose failure surfaces as this client's error. */
async function unary<T>(call: Promise<T>, baseUrl: string): Promise<T> {
  try {
    return await call;
  } catch (err) {
    throw clientError(err, baseUrl);
  }
}

function textStream(source: AsyncIterable<HypergraphEvent>, workflowId: string | undefined): TextStream {
  let settle!: { resolve: (r: RunResult) => void; reject: (e: unknown) => void };
  const result = new Promise<RunResult>((resolve, reject) => (settle = { resolve, reject }));
  result.catch(() => undefined); // a caller that only wants the text need not await result
  let settled = false;
  const finish = (outcome: { ok: RunResult } | { err: unknown }) => {
    if (settled) return;
    settled = true;
    if ("ok" in outcome) settle.resolve(outcome.ok);
    else settle.reject(outcome.err);
  };
  async function* text(): AsyncGenerator<string> {
    try {
      for await (const event of source) {
        workflowId ??= event.workflowId;
        if (event.kind === "streamingChunk" && event.text !== undefined) {
          yield event.text;
        } else if (event.kind === "runEnded") {
          finish({ ok: event.result });
          if (event.result.status === "FAILED") throw new RunFailedError(event.result);
          return;
        }
      }
      throw new HypergraphError("the event stream ended without a runEnded event; the server closed it early");
    } catch (err) {
      finish({ err });
      throw err;
    } finally {
      finish({ err: new HypergraphError("the text stream was left before the run ended") });
    }
  }
  // defineProperty, not Object.assign: assign would copy the getter's value once.
  return Object.defineProperties(text(), {
    result: { value: result, enumerable: true },
    workflowId: { get: () => workflowId, enumerable: true },
  }) as AsyncGenerator<string> & TextStream;
}

function toGraphInfo(graph: PbGraphInfo): GraphInfo {
  return {
    name: graph.name,
    description: graph.description,
    inputs: graph.inputs.map((input) => {
      const info: InputInfo = {
        name: input.name,
        required: input.required,
        description: input.description,
        type: input.type,
      };
      if (input.defaultValue !== undefined) info.defaultValue = fromValue(input.defaultValue);
      return info;
    }),
    outputs: graph.outputs.map(({ name, node, description }) => ({ name, node, description })),
    nodes: [...graph.nodes],
  };
}

function callOptions(opts: CallOpts): CallOptions {
  return { signal: opts.signal, timeoutMs: opts.timeoutMs, headers: opts.headers };
}

/** A google.protobuf.Duration for a number of milliseconds (>= 0). */
export function durationFromMs(ms: number): Duration {
  if (!Number.isFinite(ms) || ms < 0) {
    throw new ValueConversionError("graceMs", `a finite number of milliseconds >= 0 is required, got ${ms}`);
  }
  const nanos = BigInt(Math.round(ms * 1e6));
  return create(DurationSchema, { seconds: nanos / 1_000_000_000n, nanos: Number(nanos % 1_000_000_000n) });
}

function normalizeBaseUrl(baseUrl: string, tls: boolean): string {
  if (!baseUrl.includes("://")) return `${tls ? "https" : "http"}://${baseUrl}`;
  if (tls && !baseUrl.startsWith("https://")) {
    throw new HypergraphError(`tls needs an https:// baseUrl, got ${JSON.stringify(baseUrl)}`);
  }
  return baseUrl;
}

export type { JsonObject, JsonValue };
