//! Native types for what the server sends: events, run results and graph
//! descriptions, with every protobuf `Struct`/`Value` turned into
//! `serde_json` values.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use crate::pb;
use crate::value::{from_optional_struct, from_proto_struct, from_proto_value};

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunStatus {
    /// Not set (a server newer than this client, or a broken one).
    Unspecified,
    /// Nothing was left to run.
    Completed,
    /// A node raised; `RunResult::error` says which and why.
    Failed,
    /// A stop request (or a cancelled client) ended the run.
    Stopped,
}

impl RunStatus {
    /// The short name used in clients/scenarios.json: "COMPLETED", "FAILED", ...
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Unspecified => "UNSPECIFIED",
            RunStatus::Completed => "COMPLETED",
            RunStatus::Failed => "FAILED",
            RunStatus::Stopped => "STOPPED",
        }
    }
}

impl From<i32> for RunStatus {
    fn from(v: i32) -> Self {
        match pb::RunStatus::try_from(v) {
            Ok(pb::RunStatus::Completed) => RunStatus::Completed,
            Ok(pb::RunStatus::Failed) => RunStatus::Failed,
            Ok(pb::RunStatus::Stopped) => RunStatus::Stopped,
            _ => RunStatus::Unspecified,
        }
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A run's lifecycle state as Stop saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunState {
    /// No live run was found (or a server newer than this client).
    Unspecified,
    /// The run is live and stopping.
    Stopping,
    /// The run has already ended.
    Ended,
    /// The run is live and no stop reached it (ListRuns).
    Running,
}

impl RunState {
    /// The short name used in clients/scenarios.json: "STOPPING", "ENDED", "RUNNING", "UNSPECIFIED".
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Unspecified => "UNSPECIFIED",
            RunState::Stopping => "STOPPING",
            RunState::Ended => "ENDED",
            RunState::Running => "RUNNING",
        }
    }
}

impl From<i32> for RunState {
    fn from(v: i32) -> Self {
        match pb::RunState::try_from(v) {
            Ok(pb::RunState::Stopping) => RunState::Stopping,
            Ok(pb::RunState::Ended) => RunState::Ended,
            Ok(pb::RunState::Running) => RunState::Running,
            _ => RunState::Unspecified,
        }
    }
}

impl std::fmt::Display for RunState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What Stop answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopOutcome {
    /// True when a live run was reached; it will end `Stopped` (also for a repeated
    /// request). False for unknown or already ended workflows.
    pub found: bool,
    /// The run that was reached (empty when not found).
    pub run_id: String,
    /// The run's state after the request.
    pub state: RunState,
}

impl From<pb::StopResponse> for StopOutcome {
    fn from(reply: pb::StopResponse) -> Self {
        StopOutcome { found: reply.found, run_id: reply.run_id, state: RunState::from(reply.state) }
    }
}

/// A live run as ListRuns shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSummary {
    /// The workflow id (what `stop` and `watch` take).
    pub workflow_id: String,
    /// The run id (empty until the run has started).
    pub run_id: String,
    /// The registered name of the graph being run.
    pub graph: String,
    /// The replica running it.
    pub owner: String,
    /// When the run was started, if the server said.
    pub start_time: Option<SystemTime>,
    /// `Running`, or `Stopping` once a Stop reached it.
    pub state: RunState,
}

impl From<pb::RunSummary> for RunSummary {
    fn from(r: pb::RunSummary) -> Self {
        RunSummary {
            start_time: r.start_time.as_ref().and_then(timestamp_to_system),
            state: RunState::from(r.state),
            workflow_id: r.workflow_id,
            run_id: r.run_id,
            graph: r.graph,
            owner: r.owner,
        }
    }
}

/// The error that failed a run or a node.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunError {
    /// The error's qualified type name, e.g. "ValueError".
    pub error_type: String,
    /// The error message.
    pub message: String,
    /// The node that raised, when known.
    pub node: String,
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error_type, self.message)?;
        if !self.node.is_empty() {
            write!(f, " (node {})", self.node)?;
        }
        Ok(())
    }
}

impl From<&pb::ErrorInfo> for RunError {
    fn from(e: &pb::ErrorInfo) -> Self {
        RunError { error_type: e.r#type.clone(), message: e.message.clone(), node: e.node.clone() }
    }
}

/// The outcome of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunResult {
    /// The workflow the run belongs to.
    pub workflow_id: String,
    /// The run's own id.
    pub run_id: String,
    /// How the run ended.
    pub status: RunStatus,
    /// The last written value of every (selected) output; ints stay ints.
    pub values: Map<String, Value>,
    /// The error when `status` is `Failed`.
    pub error: Option<RunError>,
    /// The info given with the stop request when `status` is `Stopped` by a request.
    pub stop_info: Option<Map<String, Value>>,
    /// True when nodes were cancelled (grace ran out, or the client went away).
    pub forced: bool,
    /// Usage reported by the run's nodes (tokens, stop reason...); empty if none.
    pub usage: Map<String, Value>,
}

impl RunResult {
    /// The value of one output, if the run produced it.
    pub fn get(&self, output: &str) -> Option<&Value> {
        self.values.get(output)
    }
}

impl From<&pb::RunResult> for RunResult {
    fn from(r: &pb::RunResult) -> Self {
        RunResult {
            workflow_id: r.workflow_id.clone(),
            run_id: r.run_id.clone(),
            status: r.status.into(),
            values: from_optional_struct(r.values.as_ref()),
            error: r.error.as_ref().map(RunError::from),
            stop_info: r.stop_info.as_ref().map(from_proto_struct),
            forced: r.forced,
            usage: from_optional_struct(r.usage.as_ref()),
        }
    }
}

/// What a `StreamingChunk` carries.
#[derive(Debug, Clone, PartialEq)]
pub enum Chunk {
    /// Text (merged chunks are concatenated).
    Text(String),
    /// Any other JSON-like value.
    Value(Value),
    /// Raw bytes (merged chunks are concatenated).
    Data(Vec<u8>),
    /// No payload set (a server newer than this client).
    Empty,
}

/// What happened, one variant per `Event.kind` of the contract.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    /// The run started.
    RunStarted { graph: String },
    /// A superstep started.
    SuperstepStarted { superstep: u32 },
    /// A node execution started.
    NodeStarted,
    /// A node streamed a chunk; `merged` says how many `ctx.stream()` calls it holds.
    StreamingChunk { chunk: Chunk, merged: u32 },
    /// A node execution ended.
    NodeEnded { duration_ms: f64, usage: Map<String, Value> },
    /// A node execution raised or was cancelled.
    NodeFailed { error: RunError },
    /// A gate decided where the run goes next ("END" when `end`).
    RouteDecision { decision: String, end: bool },
    /// A stop was requested for the run.
    StopRequested { info: Map<String, Value> },
    /// The run ended; always the last event of a run.
    RunEnded { result: RunResult, duration_ms: f64 },
    /// Watch only, first event: the seqs `first_seq..=last_seq` are no longer kept.
    EventsLost { first_seq: u64, last_seq: u64 },
    /// A kind this client does not know (the server is newer); skip it.
    Unknown,
}

/// One event of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The workflow this run belongs to.
    pub workflow_id: String,
    /// The run this event belongs to.
    pub run_id: String,
    /// The run's number of this event (the same on every stream); a merged chunk
    /// carries its last call's, so seq advances by `merged`.
    pub seq: u64,
    /// When it happened, if the server said.
    pub time: Option<SystemTime>,
    /// The node the event belongs to; empty for run-level events.
    pub node: String,
    /// The span of the node execution (or of the run).
    pub span_id: String,
    /// The parent span (empty for run events).
    pub parent_span_id: String,
    /// What happened.
    pub kind: EventKind,
}

impl Event {
    /// The text of a text chunk, else None.
    pub fn text(&self) -> Option<&str> {
        match &self.kind {
            EventKind::StreamingChunk { chunk: Chunk::Text(t), .. } => Some(t),
            _ => None,
        }
    }

    /// The run's result if this is the RunEnded event.
    pub fn result(&self) -> Option<&RunResult> {
        match &self.kind {
            EventKind::RunEnded { result, .. } => Some(result),
            _ => None,
        }
    }

    /// True for a streaming chunk of any payload.
    pub fn is_chunk(&self) -> bool {
        matches!(self.kind, EventKind::StreamingChunk { .. })
    }
}

impl From<pb::Event> for Event {
    fn from(e: pb::Event) -> Self {
        Event {
            kind: e.kind.as_ref().map(kind_from).unwrap_or(EventKind::Unknown),
            time: e.time.as_ref().and_then(timestamp_to_system),
            workflow_id: e.workflow_id,
            run_id: e.run_id,
            seq: e.seq,
            node: e.node,
            span_id: e.span_id,
            parent_span_id: e.parent_span_id,
        }
    }
}

fn kind_from(kind: &pb::event::Kind) -> EventKind {
    use pb::event::Kind as K;
    match kind {
        K::RunStarted(k) => EventKind::RunStarted { graph: k.graph.clone() },
        K::SuperstepStarted(k) => EventKind::SuperstepStarted { superstep: k.superstep },
        K::NodeStarted(_) => EventKind::NodeStarted,
        K::StreamingChunk(k) => EventKind::StreamingChunk { chunk: chunk_from(k), merged: k.merged },
        K::NodeEnded(k) => {
            EventKind::NodeEnded { duration_ms: k.duration_ms, usage: from_optional_struct(k.usage.as_ref()) }
        }
        K::NodeFailed(k) => EventKind::NodeFailed { error: k.error.as_ref().map(RunError::from).unwrap_or_default() },
        K::RouteDecision(k) => EventKind::RouteDecision { decision: k.decision.clone(), end: k.end },
        K::StopRequested(k) => EventKind::StopRequested { info: from_optional_struct(k.info.as_ref()) },
        K::EventsLost(k) => EventKind::EventsLost { first_seq: k.first_seq, last_seq: k.last_seq },
        K::RunEnded(k) => EventKind::RunEnded {
            result: k.result.as_ref().map(RunResult::from).unwrap_or_else(empty_result),
            duration_ms: k.duration_ms,
        },
    }
}

fn chunk_from(c: &pb::StreamingChunk) -> Chunk {
    use pb::streaming_chunk::Payload;
    match &c.payload {
        Some(Payload::Text(t)) => Chunk::Text(t.clone()),
        Some(Payload::Value(v)) => Chunk::Value(from_proto_value(v)),
        Some(Payload::Data(d)) => Chunk::Data(d.clone()),
        None => Chunk::Empty,
    }
}

fn empty_result() -> RunResult {
    RunResult::from(&pb::RunResult::default())
}

fn timestamp_to_system(t: &prost_types::Timestamp) -> Option<SystemTime> {
    let secs = u64::try_from(t.seconds).ok()?;
    let nanos = u32::try_from(t.nanos).ok()?;
    UNIX_EPOCH.checked_add(Duration::new(secs, nanos))
}

/// One input of a graph.
#[derive(Debug, Clone, PartialEq)]
pub struct InputInfo {
    /// The input name, a key of the call's values.
    pub name: String,
    /// True when a call without it fails with INVALID_ARGUMENT.
    pub required: bool,
    /// The default of an optional input.
    pub default_value: Option<Value>,
    /// A human description, when the graph gives one.
    pub description: String,
    /// The Python annotation as text (e.g. "int"), if any.
    pub type_name: String,
}

/// One output of a graph.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputInfo {
    /// The output name, a key of `RunResult::values`.
    pub name: String,
    /// The node that produces it.
    pub node: String,
    /// A human description, when the graph gives one.
    pub description: String,
}

/// A registered graph, as ListGraphs describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphInfo {
    /// The name to pass to `run`/`iter`.
    pub name: String,
    /// What the graph does.
    pub description: String,
    /// Its inputs, required ones first.
    pub inputs: Vec<InputInfo>,
    /// Its outputs, in node order.
    pub outputs: Vec<OutputInfo>,
    /// Its node names, in graph order.
    pub nodes: Vec<String>,
}

impl From<pb::GraphInfo> for GraphInfo {
    fn from(g: pb::GraphInfo) -> Self {
        GraphInfo {
            name: g.name,
            description: g.description,
            inputs: g
                .inputs
                .into_iter()
                .map(|i| InputInfo {
                    default_value: i.default_value.as_ref().map(from_proto_value),
                    name: i.name,
                    required: i.required,
                    description: i.description,
                    type_name: i.r#type,
                })
                .collect(),
            outputs: g
                .outputs
                .into_iter()
                .map(|o| OutputInfo { name: o.name, node: o.node, description: o.description })
                .collect(),
            nodes: g.nodes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn run_ended_event_converts_with_native_values() {
        let values = crate::value::to_proto_struct(json!({"sum": 42}).as_object().unwrap(), "").unwrap();
        let pe = pb::Event {
            workflow_id: "wf-1".into(),
            seq: 5,
            kind: Some(pb::event::Kind::RunEnded(pb::RunEnded {
                result: Some(pb::RunResult {
                    workflow_id: "wf-1".into(),
                    status: pb::RunStatus::Completed as i32,
                    values: Some(values),
                    ..Default::default()
                }),
                duration_ms: 1.0,
            })),
            ..Default::default()
        };
        let e = Event::from(pe);
        let r = e.result().unwrap();
        assert_eq!(r.status, RunStatus::Completed);
        assert_eq!(r.get("sum"), Some(&json!(42)));
        assert!(r.get("sum").unwrap().is_i64());
        assert_eq!(r.stop_info, None);
    }

    #[test]
    fn text_chunk_is_text() {
        let pe = pb::Event {
            kind: Some(pb::event::Kind::StreamingChunk(pb::StreamingChunk {
                payload: Some(pb::streaming_chunk::Payload::Text("hi ".into())),
                merged: 2,
            })),
            ..Default::default()
        };
        let e = Event::from(pe);
        assert_eq!(e.text(), Some("hi "));
        assert!(e.is_chunk());
    }

    #[test]
    fn missing_kind_is_unknown() {
        assert_eq!(Event::from(pb::Event::default()).kind, EventKind::Unknown);
    }

    #[test]
    fn status_names_match_scenarios() {
        assert_eq!(RunStatus::from(pb::RunStatus::Stopped as i32).as_str(), "STOPPED");
        assert_eq!(RunStatus::from(99), RunStatus::Unspecified);
    }

    #[test]
    fn stop_response_converts_to_the_whole_outcome() {
        let reply = pb::StopResponse { found: true, run_id: "run-1".into(), state: pb::RunState::Stopping as i32 };
        let want = StopOutcome { found: true, run_id: "run-1".into(), state: RunState::Stopping };
        assert_eq!(StopOutcome::from(reply), want);
        assert_eq!(RunState::from(pb::RunState::Ended as i32).as_str(), "ENDED");
        assert_eq!(RunState::from(99), RunState::Unspecified);
    }
}
