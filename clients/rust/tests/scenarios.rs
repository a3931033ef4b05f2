//! Runs every case of clients/scenarios.json (plus a few Rust-only live checks)
//! against a real `hypergraph-grpc serve` on a free loopback port.
//!
//! Own main (harness = false): one server for all cases, each case reported by
//! name in libtest style. `cargo test --test scenarios -- NAME` runs only the
//! cases whose name contains NAME. No case asserts a timing.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod common;

use common::LocalServer;
use hypergraph_client::{
    code_name, CallOptions, Client, Error, Event, EventKind, EventStream, RunResult, RunState, RunStatus, StopOutcome,
};
use serde_json::{json, Map, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{AbortHandle, JoinHandle};

type Outcome = Result<(), String>;

/// Fields this suite understands; a case using another one fails, so a new
/// scenario field is never silently ignored.
const KNOWN_FIELDS: &[&str] = &[
    "name",
    "kind",
    "graph",
    "values",
    "deadline_ms",
    "expect_graphs_include",
    "expect_text",
    "expect_status",
    "expect_values",
    "expect_error_type",
    "expect_error_message_contains",
    "stop_after_chunks",
    "watch_first_events",
    "stop_info",
    "expect_stop_found",
    "expect_stop_state",
    "expect_stop_info",
    "expect_partial_output",
    "cancel_after_chunks",
    "probe",
    "expect_code",
    "expect_message_contains",
    "expect_field_violation",
    "expect_error_reason",
    "cut_after_events",
];

/// The server's "HOST:PORT", for the live checks that need more than a `Client`.
static SERVER_ADDR: OnceLock<String> = OnceLock::new();

/// A case's own per-case limit, so one hung case cannot hang the suite.
const CASE_LIMIT: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // libtest-style arguments: NAME filters (substring), --skip NAME, --list; other flags are ignored.
    let (mut filters, mut skips) = (Vec::new(), Vec::new());
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--skip" => skips.extend(it.next()),
            _ if !a.starts_with('-') => filters.push(a),
            _ => {}
        }
    }
    let table = load_table();
    let mut names: Vec<String> = table["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| format!("scenario::{}", c["name"].as_str().unwrap()))
        .collect();
    names.extend(EXTRAS.iter().map(|(n, _)| format!("extra::{n}")));
    if args.iter().any(|a| a == "--list") {
        names.iter().for_each(|n| println!("{n}: test"));
        return ExitCode::SUCCESS;
    }
    let wanted = |n: &String| {
        (filters.is_empty() || filters.iter().any(|f| n.contains(f.as_str())))
            && !skips.iter().any(|s| n.contains(s.as_str()))
    };
    let selected: Vec<&String> = names.iter().filter(|n| wanted(n)).collect();
    if selected.is_empty() {
        println!("\nrunning 0 tests\n\ntest result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; {} filtered out; finished in 0.00s\n", names.len());
        return ExitCode::SUCCESS;
    }
    let server_args: Vec<String> =
        table["server_args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect();
    // The server logs every run; keep them in a file, shown when something fails.
    let log_path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("scenarios-server.log");
    let mut cmd = LocalServer::serve_command(LocalServer::default_program(), &server_args);
    cmd.stderr(std::fs::File::create(&log_path).expect("server log file"));
    let server = match LocalServer::spawn(cmd, Duration::from_secs(90)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot run the scenarios: {e}\n{}", tail(&log_path));
            return ExitCode::FAILURE;
        }
    };
    SERVER_ADDR.set(server.addr().to_string()).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let started = Instant::now();
    println!("\nrunning {} tests (server at {})", selected.len(), server.addr());
    let mut failures = Vec::new();
    for name in &selected {
        let outcome = rt.block_on(run_named(name, &table, server.addr()));
        println!("test {name} ... {}", if outcome.is_ok() { "ok" } else { "FAILED" });
        if let Err(why) = outcome {
            failures.push(format!("---- {name} ----\n{why}"));
        }
    }
    drop(server);
    if !failures.is_empty() {
        println!("\nfailures:\n\n{}\n\n{}", failures.join("\n\n"), tail(&log_path));
    }
    let (passed, failed) = (selected.len() - failures.len(), failures.len());
    let verdict = if failed == 0 { "ok" } else { "FAILED" };
    println!(
        "\ntest result: {verdict}. {passed} passed; {failed} failed; 0 ignored; 0 measured; {} filtered out; finished in {:.2}s\n",
        names.len() - selected.len(),
        started.elapsed().as_secs_f64()
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The last lines of the server's log, for a failure report.
fn tail(log: &std::path::Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(40);
    format!("---- server log ({}), last {} lines ----\n{}", log.display(), lines.len() - from, lines[from..].join("\n"))
}

fn load_table() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", path.display()))
}

async fn run_named(name: &str, table: &Value, addr: &str) -> Outcome {
    let work = async {
        let client = Client::connect(addr).await.map_err(|e| e.to_string())?;
        if let Some(case_name) = name.strip_prefix("scenario::") {
            let case = table["cases"].as_array().unwrap().iter().find(|c| c["name"] == case_name).unwrap();
            run_case(&client, case, addr).await
        } else {
            let (_, f) = EXTRAS.iter().find(|(n, _)| Some(*n) == name.strip_prefix("extra::")).unwrap();
            f(client).await
        }
    };
    match tokio::time::timeout(CASE_LIMIT, work).await {
        Ok(outcome) => outcome,
        Err(_) => Err(format!("did not finish within {CASE_LIMIT:?}")),
    }
}

// --- the scenario table --------------------------------------------------------

async fn run_case(client: &Client, case: &Value, addr: &str) -> Outcome {
    let case = case.as_object().unwrap();
    if let Some(unknown) = case.keys().find(|k| !KNOWN_FIELDS.contains(&k.as_str())) {
        return Err(format!("unknown scenario field {unknown:?}: teach tests/scenarios.rs what it means"));
    }
    match case["kind"].as_str().unwrap_or("") {
        "list_graphs" => list_graphs_case(client, case).await,
        "run" => run_case_kind(client, case).await,
        "iter" => iter_case(client, case).await,
        "stop_mid_stream" => stop_mid_stream_case(client, case, addr).await,
        "cancel" => cancel_case(client, case).await,
        "watch_resume" => watch_resume_case(client, case).await,
        "watch_after_cut" => watch_after_cut_case(client, case, addr).await,
        other => Err(format!("unknown scenario kind {other:?}")),
    }
}

async fn list_graphs_case(client: &Client, case: &Map<String, Value>) -> Outcome {
    let graphs = client.list_graphs().await.map_err(|e| e.to_string())?;
    let names: Vec<&str> = graphs.iter().map(|g| g.name.as_str()).collect();
    for want in case["expect_graphs_include"].as_array().unwrap() {
        check(names.contains(&want.as_str().unwrap()), format!("ListGraphs lacks {want}; got {names:?}"))?;
    }
    check(names.is_sorted(), format!("graphs are not sorted by name: {names:?}"))
}

async fn run_case_kind(client: &Client, case: &Map<String, Value>) -> Outcome {
    let outcome = client.run_with(graph(case), values(case), options(case)).await;
    match (outcome, case.get("expect_code")) {
        (Err(e), Some(_)) => check_error(&e, case),
        (Err(e), None) => Err(format!("unexpected error: {e}")),
        (Ok(r), Some(code)) => Err(format!("expected {code}, got a result: {r:?}")),
        (Ok(r), None) => check_result(&r, case),
    }
}

async fn iter_case(client: &Client, case: &Map<String, Value>) -> Outcome {
    let mut events = client.iter(graph(case), values(case), options(case)).await.map_err(|e| e.to_string())?;
    let mut seen = Vec::new();
    while let Some(event) = events.next().await {
        seen.push(event.map_err(|e| format!("stream failed after {} events: {e}", seen.len()))?);
    }
    check_whole_run(&seen, case)
}

/// A whole run's events: the seq rule, the streamed text, and the RunEnded result.
fn check_whole_run(seen: &[Event], case: &Map<String, Value>) -> Outcome {
    check_sequence(seen)?;
    if let Some(want) = case.get("expect_text") {
        let text = concat_text(seen);
        check(text == want.as_str().unwrap(), format!("text {text:?} != expected {want}"))?;
    }
    check_result(seen.last().unwrap().result().unwrap(), case)
}

async fn stop_mid_stream_case(client: &Client, case: &Map<String, Value>, addr: &str) -> Outcome {
    let wf = workflow_id("stop");
    let mut events =
        client.iter(graph(case), values(case), options(case).workflow_id(&wf)).await.map_err(|e| e.to_string())?;
    let mut seen = Vec::new();
    let stop_after = case["stop_after_chunks"].as_u64().unwrap() as usize;
    let mut outcome: Option<StopOutcome> = None;
    while let Some(event) = events.next().await {
        seen.push(event.map_err(|e| e.to_string())?);
        if outcome.is_none() && seen.iter().filter(|e| e.is_chunk()).count() >= stop_after {
            // A second client, on its own connection, stops the run by id.
            let other = Client::connect(addr).await.map_err(|e| e.to_string())?;
            outcome = Some(other.stop(&wf, case["stop_info"].clone(), None).await.map_err(|e| e.to_string())?);
        }
    }
    let outcome = outcome.ok_or(format!("the run ended before {stop_after} chunks"))?;
    if let Some(want) = case.get("expect_stop_found") {
        check(want.as_bool() == Some(outcome.found), format!("Stop found = {}, expected {want}", outcome.found))?;
    }
    if let Some(want) = case.get("expect_stop_state") {
        check(
            want.as_str() == Some(outcome.state.as_str()),
            format!("Stop state = {}, expected {want}", outcome.state),
        )?;
    }
    check_sequence(&seen)?;
    let result = seen.last().unwrap().result().unwrap();
    check(result.workflow_id == wf, format!("result workflow_id {:?} != {wf:?}", result.workflow_id))?;
    if outcome.found {
        check(
            outcome.run_id == result.run_id,
            format!("Stop run_id {:?} != the stream's {:?}", outcome.run_id, result.run_id),
        )?;
    }
    if let Some(output) = case.get("expect_partial_output") {
        let text = concat_text(&seen);
        let got = result.get(output.as_str().unwrap());
        check(
            got == Some(&Value::String(text.clone())),
            format!("output {output} = {got:?}, expected the streamed text {text:?}"),
        )?;
    }
    check_result(result, case)
}

/// A detached run watched in part, then resumed with after_seq = the last seq seen:
/// every event once, in order.
async fn watch_resume_case(client: &Client, case: &Map<String, Value>) -> Outcome {
    let wf = workflow_id("watch");
    let opts = options(case).workflow_id(&wf).detach(true);
    let mut started = client.iter(graph(case), values(case), opts).await.map_err(|e| e.to_string())?;
    let first = started.next().await.ok_or("no first event")?.map_err(|e| e.to_string())?;
    check(matches!(first.kind, EventKind::RunStarted { .. }), format!("first event {:?}", first.kind))?;
    drop(started); // detached: dropping the stream leaves the run going
    let wanted = case["watch_first_events"].as_u64().unwrap() as usize;
    let mut seen = Vec::new();
    let mut watching = client.watch(&wf, 0, CallOptions::new()).await.map_err(|e| e.to_string())?;
    while seen.len() < wanted {
        let event = watching.next().await.ok_or("the Watch ended early")?;
        seen.push(event.map_err(|e| e.to_string())?);
    }
    drop(watching);
    let after = seen.last().unwrap().seq;
    let mut rest = client.watch(&wf, after, CallOptions::new()).await.map_err(|e| e.to_string())?;
    while let Some(event) = rest.next().await {
        seen.push(event.map_err(|e| format!("resumed Watch failed after {} events: {e}", seen.len()))?);
    }
    check_whole_run(&seen, case)
}

/// A detached run watched through a loopback TCP relay whose connections are cut after
/// `cut_after_events` events: the same Watch resumes by itself (through a new
/// connection of the relay) and reads on to RunEnded, every event once, in order.
async fn watch_after_cut_case(client: &Client, case: &Map<String, Value>, addr: &str) -> Outcome {
    let cut_after = case["cut_after_events"].as_u64().unwrap() as usize;
    let wf = workflow_id("cut");
    let (relay, mut watching, mut seen) =
        watch_until_cut(client, case, &wf, addr, cut_after, CallOptions::new()).await?;
    while let Some(event) = watching.next().await {
        let failed = |e| format!("the Watch failed after {} events (cut after {cut_after}): {e}", seen.len());
        seen.push(event.map_err(failed)?);
    }
    let accepted = relay.accepted();
    check(accepted >= 2, format!("the relay accepted {accepted} connection(s): the Watch did not re-connect"))?;
    check_whole_run(&seen, case)
}

/// Starts the case's run detached as `wf` (a fresh workflow id; its Iter is closed
/// after the first event), watches it from seq 0 with `opts` through a new relay to
/// `addr` for `events` events, then cuts every connection of the relay. Returns the
/// relay, the Watch and the events read.
async fn watch_until_cut(
    client: &Client,
    case: &Map<String, Value>,
    wf: &str,
    addr: &str,
    events: usize,
    opts: CallOptions,
) -> Result<(Relay, EventStream, Vec<Event>), String> {
    let mut started = client
        .iter(graph(case), values(case), options(case).workflow_id(wf).detach(true))
        .await
        .map_err(|e| e.to_string())?;
    let first = started.next().await.ok_or("no first event")?.map_err(|e| e.to_string())?;
    check(matches!(first.kind, EventKind::RunStarted { .. }), format!("first event {:?}", first.kind))?;
    drop(started); // detached: the run goes on
    let relay = Relay::start(addr).await.map_err(|e| format!("cannot start the relay: {e}"))?;
    let through = Client::connect(relay.addr().to_string()).await.map_err(|e| e.to_string())?;
    let mut watching = through.watch(wf, 0, opts).await.map_err(|e| e.to_string())?;
    let mut seen = Vec::new();
    while seen.len() < events {
        let event = watching.next().await.ok_or("the Watch ended before the cut")?;
        let event = event.map_err(|e| format!("the Watch failed after {} events, before the cut: {e}", seen.len()))?;
        check(event.result().is_none(), format!("the run ended after {} events, before the cut", seen.len()))?;
        seen.push(event);
    }
    let cut = relay.cut();
    check(cut > 0, "the relay had no connection to cut".into())?;
    Ok((relay, watching, seen))
}

async fn cancel_case(client: &Client, case: &Map<String, Value>) -> Outcome {
    let wf = workflow_id("cancel");
    let mut events =
        client.iter(graph(case), values(case), options(case).workflow_id(&wf)).await.map_err(|e| e.to_string())?;
    let cancel_after = case["cancel_after_chunks"].as_u64().unwrap() as usize;
    let mut chunks = 0;
    while chunks < cancel_after {
        let event = events.next().await.ok_or("the stream ended early")?.map_err(|e| e.to_string())?;
        check(event.result().is_none(), format!("the run ended after {chunks} chunks, before the cancel"))?;
        chunks += event.is_chunk() as usize;
    }
    drop(events); // Rust's cancellation: dropping the stream resets the HTTP/2 stream.
    probe_until_free(client, &case["probe"], &wf).await
}

/// Runs the probe graph with the cancelled run's workflow id until the server
/// accepts it (the cancelled run has ended), retrying only on `retry_code`.
async fn probe_until_free(client: &Client, probe: &Value, wf: &str) -> Outcome {
    let within = Duration::from_millis(probe["within_ms"].as_u64().unwrap());
    let retry = probe["retry_code"].as_str().unwrap();
    let start = Instant::now();
    let mut tries = 0;
    loop {
        tries += 1;
        let opts = CallOptions::new().workflow_id(wf);
        match client.run_with(probe["graph"].as_str().unwrap(), probe["values"].clone(), opts).await {
            Ok(r) => return check(r.status == RunStatus::Completed, format!("probe run ended {}: {r:?}", r.status)),
            Err(e) if code_name(e.code()) == retry && start.elapsed() < within => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => {
                return Err(format!("probe failed after {tries} tries: {e} (the cancelled run may still be running)"))
            }
        }
    }
}

// --- checks ----------------------------------------------------------------------

fn check(ok: bool, why: String) -> Outcome {
    if ok {
        Ok(())
    } else {
        Err(why)
    }
}

fn check_error(e: &Error, case: &Map<String, Value>) -> Outcome {
    let want = case["expect_code"].as_str().unwrap();
    check(code_name(e.code()) == want, format!("code {} != expected {want}: {e}", code_name(e.code())))?;
    let rpc = e.rpc().ok_or(format!("expected a server status, got a local error: {e}"))?;
    if let Some(part) = case.get("expect_message_contains") {
        check(rpc.message.contains(part.as_str().unwrap()), format!("message {:?} lacks {part}", rpc.message))?;
    }
    if let Some(field) = case.get("expect_field_violation") {
        let fields: Vec<&str> = e.field_violations().iter().map(|v| v.field.as_str()).collect();
        check(fields.contains(&field.as_str().unwrap()), format!("field violations {fields:?} lack {field}"))?;
    }
    if let Some(reason) = case.get("expect_error_reason") {
        check(e.reason() == reason.as_str(), format!("ErrorInfo.reason {:?} != {reason}", e.reason()))?;
        check(
            rpc.domain.as_deref() == Some("hypergraph.dev"),
            format!("ErrorInfo.domain {:?} != hypergraph.dev", rpc.domain),
        )?;
    }
    Ok(())
}

fn check_result(r: &RunResult, case: &Map<String, Value>) -> Outcome {
    if let Some(want) = case.get("expect_status") {
        check(r.status.as_str() == want.as_str().unwrap(), format!("status {} != {want}; result {r:?}", r.status))?;
    }
    if let Some(want) = case.get("expect_values") {
        // serde_json keeps 42 and 42.0 apart, so this also checks ints stay ints.
        let got = Value::Object(r.values.clone());
        check(&got == want, format!("values {got} != expected {want}"))?;
    }
    if let Some(want) = case.get("expect_error_type") {
        let got = r.error.as_ref().map(|e| e.error_type.as_str());
        check(got == want.as_str(), format!("error type {got:?} != {want}"))?;
    }
    if let Some(part) = case.get("expect_error_message_contains") {
        let got = r.error.as_ref().map(|e| e.message.as_str()).unwrap_or("");
        check(got.contains(part.as_str().unwrap()), format!("error message {got:?} lacks {part}"))?;
    }
    if let Some(want) = case.get("expect_stop_info") {
        let got = r.stop_info.clone().map(Value::Object);
        check(got.as_ref() == Some(want), format!("stop_info {got:?} != {want}"))?;
    }
    Ok(())
}

/// Seq advances by `merged` for a chunk and by 1 otherwise (no other gaps), and the
/// only RunEnded is the last event.
fn check_sequence(events: &[Event]) -> Outcome {
    check(!events.is_empty(), "no events".into())?;
    let mut expected = 0u64;
    for (i, e) in events.iter().enumerate() {
        expected += match e.kind {
            EventKind::StreamingChunk { merged, .. } => u64::from(merged.max(1)),
            _ => 1,
        };
        check(e.seq == expected, format!("event {i} has seq {} (expected {expected})", e.seq))?;
    }
    let ends = events.iter().filter(|e| e.result().is_some()).count();
    check(ends == 1 && events.last().unwrap().result().is_some(), format!("{ends} RunEnded events, or not last"))?;
    check(matches!(events[0].kind, EventKind::RunStarted { .. }), format!("first event is {:?}", events[0].kind))
}

fn concat_text(events: &[Event]) -> String {
    events.iter().filter_map(Event::text).collect()
}

fn graph(case: &Map<String, Value>) -> &str {
    case["graph"].as_str().unwrap()
}

fn values(case: &Map<String, Value>) -> Value {
    case.get("values").cloned().unwrap_or(Value::Null)
}

fn options(case: &Map<String, Value>) -> CallOptions {
    let mut opts = CallOptions::new();
    if let Some(ms) = case.get("deadline_ms").and_then(Value::as_u64) {
        opts = opts.timeout(Duration::from_millis(ms));
    }
    opts
}

fn workflow_id(kind: &str) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    format!("rust-{kind}-{}-{nanos}", std::process::id())
}

// --- Rust-only live checks ---------------------------------------------------------

type Extra = fn(Client) -> std::pin::Pin<Box<dyn std::future::Future<Output = Outcome>>>;

const EXTRAS: &[(&str, Extra)] = &[
    ("stream_text_yields_tokens_and_keeps_result", |c| Box::pin(stream_text_yields_tokens(c))),
    ("stream_text_failed_run_is_an_error", |c| Box::pin(stream_text_failed_run(c))),
    ("text_view_leaves_out_the_node_lifecycle", |c| Box::pin(text_view_leaves_out_lifecycle(c))),
    ("stop_unknown_workflow_is_not_found", |c| Box::pin(stop_unknown(c))),
    ("iter_unknown_graph_is_not_found", |c| Box::pin(iter_unknown_graph(c))),
    ("list_graphs_describes_inputs", |c| Box::pin(list_graphs_inputs(c))),
    ("hashmap_values_and_select", |c| Box::pin(hashmap_values_and_select(c))),
    ("watch_unknown_workflow_is_refused", |c| Box::pin(watch_unknown(c))),
    ("detach_keeps_run_alive_after_drop", |c| Box::pin(detach_keeps_run(c))),
    ("list_runs_shows_a_live_run", |c| Box::pin(list_runs_shows_a_live_run(c))),
    ("into_result_reads_to_the_end", |c| Box::pin(into_result_reads_to_the_end(c))),
    ("iter_deadline_ends_stream_and_run", |c| Box::pin(iter_deadline_ends_stream_and_run(c))),
    ("watch_without_resume_fails_at_a_cut", |c| Box::pin(watch_without_resume_fails_at_a_cut(c))),
    ("watch_resumes_after_a_cut_before_its_first_event", |c| Box::pin(watch_resumes_before_its_first_event(c))),
];

/// The server answers a Watch's response headers as soon as it accepts it, so `watch`
/// returns before any event. A Watch of a quiet run (its next token is 10 s away) whose
/// connection is cut then resumes by itself after the caller's `after_seq`, through a
/// new relay connection, and ends with the RunEnded of a Stop sent from another client.
async fn watch_resumes_before_its_first_event(client: Client) -> Outcome {
    let wf = workflow_id("quiet");
    let values = json!({"count": 3, "delay_ms": 10000, "prefix": "q"});
    let opts = CallOptions::new().workflow_id(&wf).detach(true);
    let mut started = client.iter("tokens", values, opts).await.map_err(|e| e.to_string())?;
    let after = loop {
        let event = started.next().await.ok_or("the run ended before its first chunk")?.map_err(|e| e.to_string())?;
        if event.is_chunk() {
            break event.seq;
        }
    };
    drop(started); // detached: the run goes on
    let outcome = watch_quiet_run_through_a_cut(&client, &wf, after).await;
    client.stop(&wf, json!({"kind": "test_cleanup"}), None).await.map_err(|e| e.to_string())?;
    outcome
}

/// Watches `wf` after `after` through a relay, cuts it 300 ms after `watch` returned (no
/// event yet), stops the run from `client`, and reads the Watch to its end.
async fn watch_quiet_run_through_a_cut(client: &Client, wf: &str, after: u64) -> Outcome {
    let addr = SERVER_ADDR.get().unwrap();
    let relay = Relay::start(addr).await.map_err(|e| format!("cannot start the relay: {e}"))?;
    let through = Client::connect(relay.addr().to_string()).await.map_err(|e| e.to_string())?;
    let mut watching = through.watch(wf, after, CallOptions::new()).await.map_err(|e| e.to_string())?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    check(relay.cut() > 0, "the relay had no connection to cut".into())?;
    // The node sleeps 10 s between tokens: a short grace cancels it instead of waiting.
    let grace = Some(Duration::from_millis(100));
    let stopped = client.stop(wf, json!({"kind": "user_stop"}), grace).await.map_err(|e| e.to_string())?;
    check(stopped.found, format!("Stop did not find the run: {stopped:?}"))?;
    let mut seen = Vec::new();
    while let Some(event) = watching.next().await {
        seen.push(event.map_err(|e| format!("the Watch failed after {} events since the cut: {e}", seen.len()))?);
    }
    check(relay.accepted() >= 2, format!("the Watch did not resume: the relay accepted {}", relay.accepted()))?;
    // Every event after `after` once, in order (the seq rule), the first one included.
    let mut expected = after;
    for e in &seen {
        expected += match e.kind {
            EventKind::StreamingChunk { merged, .. } => u64::from(merged.max(1)),
            _ => 1,
        };
        check(e.seq == expected, format!("an event has seq {} (expected {expected}; watched after {after})", e.seq))?;
    }
    // The run was stopped before its next token: a Watch that had waited for it
    // (no response headers before the first event) would show it.
    check(!seen.iter().any(Event::is_chunk), format!("the Watch saw a chunk after the first: {seen:?}"))?;
    let result = seen.last().and_then(Event::result).ok_or(format!("the Watch ended without RunEnded: {seen:?}"))?;
    check(result.status == RunStatus::Stopped, format!("the run ended {}: {result:?}", result.status))
}

/// `CallOptions::resume(false)`: a Watch whose connection is cut yields UNAVAILABLE
/// and ends, as every Watch did before it resumed by itself.
async fn watch_without_resume_fails_at_a_cut(client: Client) -> Outcome {
    let case = json!({"graph": "tokens", "values": {"count": 100000, "delay_ms": 5, "prefix": "n"}});
    let wf = workflow_id("noresume");
    let addr = SERVER_ADDR.get().unwrap();
    let opts = CallOptions::new().resume(false);
    let watched = watch_until_cut(&client, case.as_object().unwrap(), &wf, addr, 5, opts).await;
    let outcome = match watched {
        Err(why) => Err(why),
        Ok((relay, mut watching, _)) => match watching.next().await {
            Some(Err(e)) if e.code() == hypergraph_client::Code::Unavailable => match watching.next().await {
                None => check(relay.accepted() == 1, format!("the relay accepted {} connections", relay.accepted())),
                other => Err(format!("the Watch went on after its error: {other:?}")),
            },
            other => Err(format!("expected UNAVAILABLE after the cut, got {other:?}")),
        },
    };
    client.stop(&wf, json!({"kind": "test_cleanup"}), None).await.map_err(|e| e.to_string())?;
    outcome
}

/// A streaming call past its deadline: the stream yields DEADLINE_EXCEEDED and ends, and
/// the server ends the run (its workflow id becomes free again).
async fn iter_deadline_ends_stream_and_run(client: Client) -> Outcome {
    let wf = workflow_id("deadline");
    let values = json!({"count": 100000, "delay_ms": 5, "prefix": "d"});
    let opts = CallOptions::new().workflow_id(&wf).timeout(Duration::from_millis(300));
    let mut events = client.iter("tokens", values, opts).await.map_err(|e| e.to_string())?;
    let (mut chunks, mut failure) = (0, None);
    while let Some(event) = events.next().await {
        match event {
            Ok(e) if e.result().is_some() => return Err(format!("the run ended before its deadline: {e:?}")),
            Ok(e) => chunks += e.is_chunk() as usize,
            Err(e) => failure = Some(e),
        }
    }
    let err = failure.ok_or("the stream ended without an error")?;
    check(err.code() == hypergraph_client::Code::DeadlineExceeded, format!("expected DEADLINE_EXCEEDED, got {err}"))?;
    check(chunks > 0, "no chunk arrived before the deadline".into())?;
    let probe = json!({"graph": "add", "values": {"a": 1, "b": 1}, "retry_code": "ALREADY_EXISTS", "within_ms": 5000});
    probe_until_free(&client, &probe, &wf).await
}

async fn stream_text_yields_tokens(client: Client) -> Outcome {
    let mut text = client
        .stream_text("tokens", json!({"count": 5, "prefix": "x"}), CallOptions::new())
        .await
        .map_err(|e| e.to_string())?;
    let mut got = String::new();
    while let Some(t) = text.next().await {
        got.push_str(&t.map_err(|e| e.to_string())?);
    }
    check(got == "x0 x1 x2 x3 x4 ", format!("text {got:?}"))?;
    let r = text.result().ok_or("no result after the stream ended")?;
    check(r.status == RunStatus::Completed && r.get("text") == Some(&json!(got)), format!("result {r:?}"))
}

async fn text_view_leaves_out_lifecycle(client: Client) -> Outcome {
    let opts = CallOptions::new().text_view(true);
    let mut events = client.iter("tokens", json!({"count": 3}), opts).await.map_err(|e| e.to_string())?;
    let mut kinds = Vec::new();
    while let Some(event) = events.next().await {
        let kind = match event.map_err(|e| e.to_string())?.kind {
            EventKind::RunStarted { .. } => "started",
            EventKind::StreamingChunk { .. } => "chunk",
            EventKind::RunEnded { .. } => "ended",
            other => return Err(format!("the text view sent {other:?}")),
        };
        if kinds.last() != Some(&kind) {
            kinds.push(kind);
        }
    }
    check(kinds == ["started", "chunk", "ended"], format!("events {kinds:?}"))
}

async fn stream_text_failed_run(client: Client) -> Outcome {
    let mut text =
        client.stream_text("fail", json!({"message": "kaput"}), CallOptions::new()).await.map_err(|e| e.to_string())?;
    let mut last = None;
    while let Some(item) = text.next().await {
        last = Some(item);
    }
    match last {
        Some(Err(Error::RunFailed(e))) => {
            check(e.error_type == "ValueError" && e.message.contains("kaput"), format!("error {e:?}"))
        }
        other => Err(format!("expected RunFailed last, got {other:?}")),
    }
}

async fn stop_unknown(client: Client) -> Outcome {
    let outcome =
        client.stop(&workflow_id("nobody"), json!({"kind": "user_stop"}), None).await.map_err(|e| e.to_string())?;
    let not_found = StopOutcome { found: false, run_id: String::new(), state: RunState::Unspecified };
    check(outcome == not_found, format!("Stop of an unknown workflow answered {outcome:?}"))?;
    let err = client.stop("x", json!("not an object"), None).await.err().ok_or("non-object stop info accepted")?;
    check(matches!(err, Error::InvalidValue(_)), format!("expected a local InvalidValue, got {err}"))
}

async fn iter_unknown_graph(client: Client) -> Outcome {
    // The status may come with the call or with the first read; either is fine.
    let err = match client.iter("no_such_graph", json!({}), CallOptions::new()).await {
        Err(e) => e,
        Ok(mut events) => match events.next().await {
            Some(Err(e)) => e,
            other => return Err(format!("expected NOT_FOUND, got {other:?}")),
        },
    };
    check(err.code() == hypergraph_client::Code::NotFound, format!("expected NOT_FOUND, got {err}"))?;
    check(err.reason() == Some("GRAPH_NOT_FOUND"), format!("reason {:?}", err.reason()))
}

async fn list_graphs_inputs(client: Client) -> Outcome {
    let graphs = client.list_graphs().await.map_err(|e| e.to_string())?;
    let add = graphs.iter().find(|g| g.name == "add").ok_or("no add graph")?;
    let inputs: Vec<(&str, bool)> = add.inputs.iter().map(|i| (i.name.as_str(), i.required)).collect();
    check(inputs == [("a", true), ("b", true)], format!("add inputs {inputs:?}"))?;
    let outputs: Vec<&str> = add.outputs.iter().map(|o| o.name.as_str()).collect();
    check(outputs == ["sum"], format!("add outputs {outputs:?}"))?;
    let tokens = graphs.iter().find(|g| g.name == "tokens").ok_or("no tokens graph")?;
    let prefix = tokens.inputs.iter().find(|i| i.name == "prefix").ok_or("tokens has no prefix input")?;
    check(!prefix.required && prefix.default_value == Some(json!("tok")), format!("prefix input {prefix:?}"))
}

async fn hashmap_values_and_select(client: Client) -> Outcome {
    let values: std::collections::HashMap<String, Value> =
        [("a".to_string(), json!(-5)), ("b".to_string(), json!(3))].into();
    let r = client.run_with("add", values, CallOptions::new().select(["sum"])).await.map_err(|e| e.to_string())?;
    check(Value::Object(r.values.clone()) == json!({"sum": -2}), format!("values {:?}", r.values))
}

async fn watch_unknown(client: Client) -> Outcome {
    // The server keeps no events for this id: NOT_FOUND.
    let err = match client.watch(&workflow_id("nobody"), 0, CallOptions::new()).await {
        Err(e) => e,
        Ok(mut events) => match events.next().await {
            Some(Err(e)) => e,
            other => return Err(format!("expected an error, got {other:?}")),
        },
    };
    let code = code_name(err.code());
    check(code == "NOT_FOUND", format!("expected NOT_FOUND, got {err}"))
}

async fn detach_keeps_run(client: Client) -> Outcome {
    let wf = workflow_id("detach");
    let values = json!({"count": 100000, "delay_ms": 5, "prefix": "d"});
    let opts = CallOptions::new().workflow_id(&wf).detach(true);
    let mut events = client.iter("tokens", values, opts).await.map_err(|e| e.to_string())?;
    let mut chunks = 0;
    while chunks < 3 {
        chunks += events.next().await.ok_or("stream ended early")?.map_err(|e| e.to_string())?.is_chunk() as usize;
    }
    drop(events);
    // Give the server time to see the cancel: a run it stopped would now be over,
    // and Stop would answer found = false.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let reply = client.stop(&wf, json!({"kind": "test_cleanup"}), Some(Duration::from_secs(1))).await;
    let reply = reply.map_err(|e| e.to_string())?;
    check(reply.found, format!("the detached run was not alive after its stream was dropped: {reply:?}"))?;
    check(
        reply.state == RunState::Stopping && !reply.run_id.is_empty(),
        format!("the detached run's stop outcome: {reply:?}"),
    )?;
    let probe = json!({"graph": "add", "values": {"a": 1, "b": 1}, "retry_code": "ALREADY_EXISTS", "within_ms": 5000});
    probe_until_free(&client, &probe, &wf).await
}

async fn list_runs_shows_a_live_run(client: Client) -> Outcome {
    let wf = workflow_id("listed");
    let values = json!({"count": 100000, "delay_ms": 5});
    let opts = CallOptions::new().workflow_id(&wf).detach(true);
    let mut events = client.iter("tokens", values, opts).await.map_err(|e| e.to_string())?;
    events.next().await.ok_or("no first event")?.map_err(|e| e.to_string())?;
    drop(events); // detached: the run goes on
    let runs = client.list_runs(Some("tokens")).await.map_err(|e| e.to_string());
    client.stop(&wf, Value::Null, None).await.map_err(|e| e.to_string())?;
    let runs = runs?;
    let listed = runs.iter().find(|r| r.workflow_id == wf).ok_or(format!("ListRuns lacks {wf}: {runs:?}"))?;
    check(
        listed.graph == "tokens" && listed.state == RunState::Running && !listed.owner.is_empty(),
        format!("listed run {listed:?}"),
    )
}

async fn into_result_reads_to_the_end(client: Client) -> Outcome {
    let events = client.iter("add", json!({"a": 20, "b": 22}), CallOptions::new()).await.map_err(|e| e.to_string())?;
    let r = events.into_result().await.map_err(|e| e.to_string())?;
    check(r.status == RunStatus::Completed && r.get("sum") == Some(&json!(42)), format!("result {r:?}"))
}

// --- a loopback TCP relay whose connections can be cut --------------------------------

/// Forwards every connection made to it to `target`; `cut` resets every open one
/// (both sides, RST rather than FIN) while it goes on accepting new ones.
/// Dropping it stops it and cuts what is left.
struct Relay {
    addr: SocketAddr,
    accepting: JoinHandle<()>,
    shared: Arc<Mutex<RelayState>>,
}

#[derive(Default)]
struct RelayState {
    /// The task copying each open connection; aborting it drops (and so resets) both sockets.
    open: Vec<AbortHandle>,
    accepted: usize,
}

impl Relay {
    async fn start(target: &str) -> std::io::Result<Relay> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Mutex::new(RelayState::default()));
        let (state, target) = (shared.clone(), target.to_string());
        let accepting = tokio::spawn(async move {
            while let Ok((mut down, _)) = listener.accept().await {
                let target = target.clone();
                let copying = tokio::spawn(async move {
                    let Ok(mut up) = TcpStream::connect(&target).await else { return };
                    // Linger 0: dropping a socket sends RST, as a lost network or a crashed peer.
                    for socket in [&down, &up] {
                        let _ = socket.set_zero_linger();
                        let _ = socket.set_nodelay(true);
                    }
                    let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
                });
                let mut state = state.lock().unwrap();
                state.open.retain(|task| !task.is_finished());
                state.open.push(copying.abort_handle());
                state.accepted += 1;
            }
        });
        Ok(Relay { addr, accepting, shared })
    }

    fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections accepted so far.
    fn accepted(&self) -> usize {
        self.shared.lock().unwrap().accepted
    }

    /// Resets every open connection; returns how many there were.
    fn cut(&self) -> usize {
        let open = std::mem::take(&mut self.shared.lock().unwrap().open);
        open.iter().filter(|task| !task.is_finished()).inspect(|task| task.abort()).count()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.accepting.abort();
        self.cut();
    }
}
