//! hgbench: how fast the Rust client reads concurrent token streams.
//!
//! Reads `--streams` (16) concurrent Iter streams of the `tokens` graph with
//! `--tokens` (10000) tokens each, from three servers it starts itself on free
//! loopback ports (or the addresses given), interleaved over `--rounds` (3)
//! rounds, reporting each mode's median round:
//!   hypergraph                the real server, default merging of queued chunks
//!   hypergraph_disable_merge  the real server, one message per ctx.stream() call
//!   baseline_grpc_aio         bench/baseline_server.py: bare grpc.aio yielding pre-built messages
//! and prints one JSON document (tokens/s, messages/s, client CPU per message,
//! ratios against the baseline measured in the same run). `--out FILE` also writes it.
//!
//! Usage: hgbench [--streams N] [--tokens N] [--rounds N] [--target ADDR] [--baseline-target ADDR] [--out FILE]

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

#[path = "../tests/common/mod.rs"]
mod common;

use common::LocalServer;
use hypergraph_client::{CallOptions, Chunk, Client, EventKind, RunStatus};
use serde_json::{json, Value};

struct Args {
    streams: usize,
    tokens: u64,
    rounds: usize,
    target: Option<String>,
    baseline_target: Option<String>,
    out: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args { streams: 16, tokens: 10_000, rounds: 3, target: None, baseline_target: None, out: None };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--streams" => a.streams = value()?.parse().map_err(|e| format!("--streams: {e}"))?,
            "--tokens" => a.tokens = value()?.parse().map_err(|e| format!("--tokens: {e}"))?,
            "--rounds" => a.rounds = value()?.parse::<usize>().map_err(|e| format!("--rounds: {e}"))?.max(1),
            "--target" => a.target = Some(value()?),
            "--baseline-target" => a.baseline_target = Some(value()?),
            "--out" => a.out = Some(PathBuf::from(value()?)),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(a)
}

/// What one measurement read.
#[derive(Default)]
struct Tally {
    messages: u64,
    tokens: u64,
}

fn main() {
    let args = parse_args().unwrap_or_else(|why| {
        eprintln!("hgbench: {why}\nusage: hgbench [--streams N] [--tokens N] [--rounds N] [--target ADDR] [--baseline-target ADDR] [--out FILE]");
        std::process::exit(2);
    });
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let report = rt.block_on(bench(&args)).unwrap_or_else(|e| {
        eprintln!("hgbench: {e}");
        std::process::exit(1);
    });
    let text = serde_json::to_string_pretty(&report).expect("JSON");
    println!("{text}");
    if let Some(out) = &args.out {
        if let Some(dir) = out.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        std::fs::write(out, text + "\n").unwrap_or_else(|e| eprintln!("hgbench: cannot write {}: {e}", out.display()));
    }
}

async fn bench(args: &Args) -> Result<Value, String> {
    let startup = Duration::from_secs(90);
    let (_server, target) = match &args.target {
        Some(t) => (None, t.clone()),
        None => {
            let graphs = ["--graphs".to_string(), "hypergraph_grpc.demo.testing:GRAPHS".to_string()];
            let mut cmd = LocalServer::serve_command(LocalServer::default_program(), &graphs);
            cmd.stderr(log_file("hgbench-server.log")?);
            let s = LocalServer::spawn(cmd, startup).map_err(|e| e.to_string())?;
            let addr = s.addr().to_string();
            (Some(s), addr)
        }
    };
    let (_baseline, baseline_target) = match &args.baseline_target {
        Some(t) => (None, t.clone()),
        None => {
            let root = LocalServer::repo_root();
            let mut cmd = Command::new(root.join(".venv/bin/python"));
            cmd.arg(root.join("bench/baseline_server.py")).args(["--port", "0"]);
            cmd.stderr(log_file("hgbench-baseline.log")?);
            let s = LocalServer::spawn(cmd, startup).map_err(|e| e.to_string())?;
            let addr = s.addr().to_string();
            (Some(s), addr)
        }
    };
    // Interleave the three modes over several rounds (rotating the order), and
    // report each mode's median round: the machine is shared, so one round alone is noisy.
    let modes = [
        ("hypergraph", &target, false),
        ("hypergraph_disable_merge", &target, true),
        ("baseline_grpc_aio", &baseline_target, false),
    ];
    let mut rounds: Vec<Vec<Value>> = vec![Vec::new(); modes.len()];
    for r in 0..args.rounds {
        for k in 0..modes.len() {
            let i = (k + r) % modes.len();
            let (_, addr, disable_merge) = modes[i];
            rounds[i].push(measure(addr, args, disable_merge).await?);
        }
    }
    let [merged, unmerged, baseline] = [0, 1, 2].map(|i| median_round(&rounds[i]));
    let ratio = |run: &Value, key: &str| run[key].as_f64().unwrap_or(0.0) / baseline[key].as_f64().unwrap_or(f64::NAN);
    Ok(json!({
        "benchmark": "clients-rust",
        "description": "Rust client (tonic) reading concurrent Iter streams of the `tokens` graph; ratios are against bare grpc.aio (bench/baseline_server.py) read by the same client in the same run",
        "streams": args.streams,
        "tokens_per_stream": args.tokens,
        "rounds": args.rounds,
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "runs": {"hypergraph": merged, "hypergraph_disable_merge": unmerged, "baseline_grpc_aio": baseline},
        "ratio_tokens_per_s_vs_baseline": {
            "hypergraph": ratio(&merged, "tokens_per_s"),
            "hypergraph_disable_merge": ratio(&unmerged, "tokens_per_s"),
        },
        "ratio_messages_per_s_vs_baseline": {
            "hypergraph": ratio(&merged, "messages_per_s"),
            "hypergraph_disable_merge": ratio(&unmerged, "messages_per_s"),
        },
    }))
}

/// The round with the median tokens/s, plus every round's tokens/s.
fn median_round(runs: &[Value]) -> Value {
    let mut sorted: Vec<&Value> = runs.iter().collect();
    sorted.sort_by(|a, b| a["tokens_per_s"].as_f64().partial_cmp(&b["tokens_per_s"].as_f64()).unwrap());
    let mut median = sorted[sorted.len() / 2].clone();
    median["rounds_tokens_per_s"] = runs.iter().map(|r| r["tokens_per_s"].clone()).collect();
    median
}

/// A server's log file in the temp dir (the servers log every run; keep that off our output).
fn log_file(name: &str) -> Result<std::fs::File, String> {
    let path = std::env::temp_dir().join(name);
    eprintln!("hgbench: server log in {}", path.display());
    std::fs::File::create(&path).map_err(|e| format!("cannot create {}: {e}", path.display()))
}

/// One warm-up stream, then `streams` concurrent streams on one connection.
async fn measure(target: &str, args: &Args, disable_merge: bool) -> Result<Value, String> {
    let client = Client::connect(target).await.map_err(|e| e.to_string())?;
    read_stream(&client, 1000.min(args.tokens), disable_merge).await?;
    let cpu0 = cpu_seconds();
    let start = Instant::now();
    let tasks: Vec<_> = (0..args.streams)
        .map(|_| {
            let client = client.clone();
            let tokens = args.tokens;
            tokio::spawn(async move { read_stream(&client, tokens, disable_merge).await })
        })
        .collect();
    let mut total = Tally::default();
    for task in tasks {
        let t = task.await.map_err(|e| e.to_string())??;
        total.messages += t.messages;
        total.tokens += t.tokens;
    }
    let seconds = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    Ok(json!({
        "target": target,
        "disable_merge": disable_merge,
        "seconds": seconds,
        "tokens": total.tokens,
        "messages": total.messages,
        "tokens_per_s": total.tokens as f64 / seconds,
        "messages_per_s": total.messages as f64 / seconds,
        "tokens_per_message": total.tokens as f64 / total.messages.max(1) as f64,
        "client_cpu_s": cpu,
        "client_cpu_us_per_message": cpu * 1e6 / total.messages.max(1) as f64,
    }))
}

/// Reads one whole stream, counting chunk messages and the tokens they hold.
async fn read_stream(client: &Client, tokens: u64, disable_merge: bool) -> Result<Tally, String> {
    let opts = CallOptions::new().disable_merge(disable_merge);
    let mut events = client.iter("tokens", json!({"count": tokens}), opts).await.map_err(|e| e.to_string())?;
    let mut tally = Tally::default();
    while let Some(event) = events.next().await {
        match event.map_err(|e| e.to_string())?.kind {
            EventKind::StreamingChunk { chunk: Chunk::Text(_), merged } => {
                tally.messages += 1;
                tally.tokens += u64::from(merged.max(1));
            }
            EventKind::RunEnded { result, .. } if result.status != RunStatus::Completed => {
                return Err(format!("a bench run ended {}: {:?}", result.status, result.error));
            }
            _ => {}
        }
    }
    if tally.tokens != tokens {
        return Err(format!("a stream delivered {} tokens, expected {tokens}", tally.tokens));
    }
    Ok(tally)
}

/// This process's user + system CPU time, from /proc/self/stat (Linux).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the ")" that closes the command name: utime is the 12th, stime the 13th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = [11, 12].iter().filter_map(|&i| fields.get(i)?.parse::<f64>().ok()).sum();
    ticks / 100.0 // USER_HZ is 100 on Linux
}
