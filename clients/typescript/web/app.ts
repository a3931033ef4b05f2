// The live-runs page served by `hypergraph-grpc serve --http-port` at "/".
// Plain DOM, no framework: it lists the graphs with their inputs, starts a run
// and shows its tokens per node as they arrive, stops it, draws its events as a
// timeline, lists the live runs, and re-attaches to a run by id (Watch) after a
// reload. It talks Connect (JSON) to the origin it was served from, with the
// TypeScript client's generated code and event conversion.
import { createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { RunnerService, RunState, type Event as PbEvent, type GraphInfo, type InputInfo } from "../src/gen/hypergraph/v1/runner_pb.js";
import { toEvent, type HypergraphEvent, type RunResult } from "../src/events.js";
import { clientError } from "../src/errors.js";
import { fromValue } from "../src/values.js";

const TOKEN_KEY = "hypergraph.token";
// A dropped Watch/Iter stream of a live run is resumed after its last seq this many times.
const RESUMES = 5;

const byId = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const ui = {
  status: byId<HTMLParagraphElement>("status"),
  graphs: byId<HTMLUListElement>("graph-list"),
  form: byId<HTMLFormElement>("run-form"),
  graph: byId<HTMLSelectElement>("graph"),
  inputs: byId<HTMLDivElement>("inputs"),
  workflowId: byId<HTMLInputElement>("workflow-id"),
  detach: byId<HTMLInputElement>("detach"),
  token: byId<HTMLInputElement>("token"),
  start: byId<HTMLButtonElement>("start"),
  stop: byId<HTMLButtonElement>("stop"),
  attachForm: byId<HTMLFormElement>("attach-form"),
  attachId: byId<HTMLInputElement>("attach-id"),
  runId: byId<HTMLElement>("run-id"),
  runStatus: byId<HTMLElement>("run-status"),
  outputs: byId<HTMLDivElement>("outputs"),
  timeline: byId<HTMLTableSectionElement>("timeline-rows"),
  runs: byId<HTMLTableSectionElement>("run-rows"),
  refreshRuns: byId<HTMLButtonElement>("refresh-runs"),
};

const withToken: Interceptor = (next) => async (req) => {
  const token = ui.token.value.trim();
  if (token) req.header.set("authorization", `Bearer ${token}`);
  return next(req);
};
const client = createClient(
  RunnerService,
  createConnectTransport({ baseUrl: location.origin, interceptors: [withToken] }),
);

let graphs: GraphInfo[] = [];
let current: RunView | undefined;

function say(text: string, isError = false): void {
  ui.status.textContent = text;
  ui.status.classList.toggle("error", isError);
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, text = "", className = ""): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (text) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function describe(value: JsonValue | undefined): string {
  return value === undefined ? "" : JSON.stringify(value);
}

function describeUsage(usage: JsonObject | undefined): string {
  if (!usage) return "";
  return Object.entries(usage)
    .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`)
    .join(" ");
}

// --- graphs and the run form ------------------------------------------------------

async function loadGraphs(): Promise<void> {
  try {
    graphs = (await client.listGraphs({})).graphs;
  } catch (err) {
    say(`Cannot list graphs: ${clientError(err).message}`, true);
    return;
  }
  ui.graphs.replaceChildren(
    ...graphs.map((g) => {
      const item = element("li");
      item.append(element("strong", g.name), ` (${g.inputs.map((i) => i.name + (i.required ? "" : "?")).join(", ")})`);
      if (g.description) item.append(element("span", ` — ${g.description}`, "muted"));
      return item;
    }),
  );
  const chosen = ui.graph.value;
  ui.graph.replaceChildren(...graphs.map((g) => new Option(g.name, g.name)));
  if (chosen && graphs.some((g) => g.name === chosen)) ui.graph.value = chosen;
  drawInputs();
}

function drawInputs(): void {
  const graph = graphs.find((g) => g.name === ui.graph.value);
  ui.inputs.replaceChildren(...(graph?.inputs ?? []).map(inputField));
}

function inputField(input: InputInfo): HTMLElement {
  const id = `input-${input.name}`;
  const label = element("label");
  label.htmlFor = id;
  label.append(element("span", input.name, "name"), element("span", input.type ? ` ${input.type}` : "", "muted"));
  if (input.required) label.append(element("span", " (required)", "required"));
  const kind = input.type.replace(/\s*\|\s*None$/, "");
  let field: HTMLInputElement | HTMLTextAreaElement;
  if (kind === "str" && input.name === "prompt") {
    field = element("textarea");
    field.rows = 2;
  } else {
    field = element("input");
    if (kind === "int" || kind === "float") {
      field.type = "number";
      field.step = kind === "int" ? "1" : "any";
    }
  }
  field.id = id;
  field.name = input.name;
  field.dataset.kind = kind;
  field.required = input.required;
  const fallback = input.defaultValue === undefined ? undefined : fromValue(input.defaultValue);
  if (fallback !== undefined && fallback !== null && fallback !== "") field.placeholder = describe(fallback);
  if (input.description) field.title = input.description;
  const row = element("div", "", "field");
  row.append(label, field);
  if (input.description) row.append(element("small", input.description, "muted"));
  return row;
}

// An empty optional field is left out: the graph's default applies.
function readValues(): JsonObject {
  const values: JsonObject = {};
  for (const field of ui.inputs.querySelectorAll<HTMLInputElement | HTMLTextAreaElement>("input, textarea")) {
    const text = field.value;
    if (text === "") continue;
    const kind = field.dataset.kind ?? "";
    if (kind === "int" || kind === "float") values[field.name] = Number(text);
    else if (kind === "str") values[field.name] = text;
    else {
      try {
        values[field.name] = JSON.parse(text) as JsonValue;
      } catch {
        values[field.name] = text;
      }
    }
  }
  return values;
}

// --- one run on the page --------------------------------------------------------------

class RunView {
  lastSeq = 0n;
  ended = false;
  private readonly abort = new AbortController();
  private readonly nodes = new Map<string, { text: HTMLPreElement; count: HTMLElement; chunks: number }>();
  private startedAt: number | undefined;

  constructor(readonly workflowId: string) {
    ui.outputs.replaceChildren();
    ui.timeline.replaceChildren();
    ui.runId.textContent = workflowId;
    this.setStatus("starting");
    ui.stop.disabled = false;
    history.replaceState(null, "", `#run=${encodeURIComponent(workflowId)}`);
  }

  close(): void {
    this.abort.abort();
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  setStatus(text: string): void {
    ui.runStatus.textContent = text;
    ui.runStatus.dataset.status = text;
  }

  /** Read a stream of the run's events to its end; resume it with Watch if it drops early. */
  async follow(stream: AsyncIterable<PbEvent>): Promise<void> {
    for (let resumes = 0; ; resumes++) {
      try {
        for await (const pb of stream) this.show(pb);
        if (this.ended) return;
      } catch (err) {
        if (this.signal.aborted) return;
        if (resumes >= RESUMES || this.lastSeq === 0n) {
          this.setStatus("error");
          say(clientError(err).message, true);
          ui.stop.disabled = true;
          return;
        }
      }
      if (this.signal.aborted || this.ended) return;
      say(`Stream interrupted; resuming ${this.workflowId} after seq ${this.lastSeq}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
      stream = client.watch({ workflowId: this.workflowId, afterSeq: this.lastSeq }, { signal: this.signal });
    }
  }

  private show(pb: PbEvent): void {
    if (pb.seq > this.lastSeq) this.lastSeq = pb.seq;
    if (pb.kind.case === "eventsLost") {
      const lost = pb.kind.value;
      this.row(pb, "events lost", "", `seq ${lost.firstSeq}..${lost.lastSeq} are no longer kept`);
      return;
    }
    const event = toEvent(pb);
    if (this.startedAt === undefined && event.time) this.startedAt = event.time.getTime();
    switch (event.kind) {
      case "runStarted":
        this.setStatus("running");
        this.row(pb, "run started", "", event.graph);
        return;
      case "superstepStarted":
        this.row(pb, "superstep", "", String(event.superstep));
        return;
      case "nodeStarted":
        this.node(event.node);
        this.row(pb, "node started", event.node, "");
        return;
      case "streamingChunk":
        this.chunk(event);
        return;
      case "nodeEnded":
        this.row(pb, "node ended", event.node, describeUsage(event.usage), event.durationMs);
        return;
      case "nodeFailed":
        this.row(pb, "node failed", event.node, `${event.error.type}: ${event.error.message}`);
        return;
      case "routeDecision":
        this.row(pb, "route", event.node, event.end ? "END" : event.decision);
        return;
      case "stopRequested":
        this.setStatus("stopping");
        this.row(pb, "stop requested", "", describe(event.info));
        return;
      case "runEnded":
        this.end(pb, event.result, event.durationMs);
        return;
      default:
        this.row(pb, "event", event.node, "(a kind this page does not know)");
    }
  }

  private node(name: string) {
    let view = this.nodes.get(name);
    if (view === undefined) {
      const section = element("section", "", "node");
      const heading = element("h3", name);
      const count = element("span", "", "muted count");
      heading.append(" ", count);
      const text = element("pre", "", "tokens");
      text.dataset.node = name;
      text.setAttribute("aria-label", `output of node ${name}`);
      section.append(heading, text);
      ui.outputs.append(section);
      view = { text, count, chunks: 0 };
      this.nodes.set(name, view);
    }
    return view;
  }

  private chunk(event: Extract<HypergraphEvent, { kind: "streamingChunk" }>): void {
    const view = this.node(event.node);
    if (event.payload === "text") view.text.append(event.text ?? "");
    else if (event.payload === "value") view.text.append(`${describe(event.value)}\n`);
    else if (event.payload === "data") view.text.append(`[${event.data?.length ?? 0} bytes]\n`);
    view.chunks += event.merged;
    view.count.textContent = `${view.chunks} chunks`;
  }

  private end(pb: PbEvent, result: RunResult, durationMs: number): void {
    this.ended = true;
    this.setStatus(result.status);
    ui.stop.disabled = true;
    const parts: string[] = [result.status];
    if (result.error) parts.push(`${result.error.type}: ${result.error.message}`);
    if (result.stopInfo) parts.push(`stop ${describe(result.stopInfo)}`);
    if (result.forced) parts.push("forced");
    const usage = describeUsage(result.usage);
    if (usage) parts.push(usage);
    this.row(pb, "run ended", "", parts.join(" · "), durationMs);
    history.replaceState(null, "", location.pathname);
    say(`${this.workflowId} ended ${result.status}`);
    void refreshRuns();
  }

  private row(pb: PbEvent, what: string, node: string, detail: string, durationMs?: number): void {
    const row = element("tr");
    const at = pb.time ? timestampDate(pb.time).getTime() : undefined;
    const since = at !== undefined && this.startedAt !== undefined ? `+${(at - this.startedAt).toFixed(1)}` : "";
    row.append(
      element("td", String(pb.seq), "num"),
      element("td", since, "num"),
      element("td", what),
      element("td", node),
      element("td", durationMs === undefined ? "" : durationMs.toFixed(1), "num"),
      element("td", detail),
    );
    row.dataset.kind = what;
    ui.timeline.append(row);
  }
}

async function start(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  current?.close();
  const workflowId = ui.workflowId.value.trim() || newWorkflowId();
  const view = new RunView(workflowId);
  current = view;
  say(`Started ${workflowId}`);
  const stream = client.iter(
    { graph: ui.graph.value, values: readValues(), workflowId, options: { detach: ui.detach.checked } },
    { signal: view.signal },
  );
  await view.follow(stream);
}

// Chosen here rather than by the server, so Stop and a reload's re-attach know it at once.
function newWorkflowId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return `web-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

async function stop(): Promise<void> {
  if (!current) return;
  ui.stop.disabled = true;
  try {
    const view = current;
    const outcome = await client.stop({ workflowId: view.workflowId, info: { kind: "user_stop" } });
    // The run's end may have been shown before this answer arrived.
    if (!view.ended) say(outcome.found ? `Stopping ${view.workflowId}` : `${view.workflowId} is not running`);
  } catch (err) {
    ui.stop.disabled = false;
    say(`Stop failed: ${clientError(err).message}`, true);
  }
}

async function attach(workflowId: string): Promise<void> {
  current?.close();
  const view = new RunView(workflowId);
  current = view;
  say(`Watching ${workflowId}`);
  await view.follow(client.watch({ workflowId, afterSeq: 0n }, { signal: view.signal }));
}

// --- live runs ------------------------------------------------------------------------

async function refreshRuns(): Promise<void> {
  let runs;
  try {
    runs = (await client.listRuns({})).runs;
  } catch (err) {
    ui.runs.replaceChildren(rowOf([`cannot list runs: ${clientError(err).message}`]));
    return;
  }
  if (runs.length === 0) {
    ui.runs.replaceChildren(rowOf(["no live runs"]));
    return;
  }
  ui.runs.replaceChildren(
    ...runs.map((run) => {
      const watch = element("button", "Watch");
      watch.type = "button";
      watch.addEventListener("click", () => void attach(run.workflowId));
      const started = run.startTime ? timestampDate(run.startTime).toLocaleTimeString() : "";
      const row = rowOf([run.workflowId, run.graph, run.owner, started, RunState[run.state] ?? ""]);
      const cell = element("td");
      cell.append(watch);
      row.append(cell);
      return row;
    }),
  );
}

function rowOf(cells: string[]): HTMLTableRowElement {
  const row = element("tr");
  row.append(...cells.map((text) => element("td", text)));
  return row;
}

// --- wiring -----------------------------------------------------------------------------

ui.token.value = sessionStorage.getItem(TOKEN_KEY) ?? "";
ui.token.addEventListener("change", () => {
  sessionStorage.setItem(TOKEN_KEY, ui.token.value.trim());
  void loadGraphs();
  void refreshRuns();
});
ui.graph.addEventListener("change", drawInputs);
ui.form.addEventListener("submit", (event) => void start(event));
ui.stop.addEventListener("click", () => void stop());
ui.attachForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const id = ui.attachId.value.trim();
  if (id) void attach(id);
});
ui.refreshRuns.addEventListener("click", () => void refreshRuns());

void loadGraphs();
void refreshRuns();
const resume = new URLSearchParams(location.hash.slice(1)).get("run");
if (resume) void attach(resume);
