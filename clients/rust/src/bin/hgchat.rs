//! hgchat: streams the `chat` demo graph to stdout, token by token; Ctrl-C
//! stops the run on the server (Stop with {"kind": "user_stop"}), prints what
//! the run had streamed until then, and a second Ctrl-C quits at once.
//!
//! Usage: hgchat [--target HOST:PORT] [--graph NAME] [-i KEY=VALUE]... [PROMPT...]
//! The prompt words become the `prompt` input; -i values are parsed as JSON
//! when they parse, else taken as text.

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hypergraph_client::{CallOptions, Client, EventKind, RunStatus};
use serde_json::{json, Map, Value};

struct Args {
    target: String,
    graph: String,
    values: Map<String, Value>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args { target: "127.0.0.1:50051".into(), graph: "chat".into(), values: Map::new() };
    let mut prompt = Vec::new();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--target" => args.target = it.next().ok_or("--target needs HOST:PORT")?,
            "--graph" => args.graph = it.next().ok_or("--graph needs a name")?,
            "-i" | "--input" => {
                let kv = it.next().ok_or("-i needs KEY=VALUE")?;
                let (k, v) = kv.split_once('=').ok_or_else(|| format!("-i {kv:?}: expected KEY=VALUE"))?;
                let value = serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.into()));
                args.values.insert(k.into(), value);
            }
            "-h" | "--help" => return Err(String::new()),
            _ => prompt.push(arg),
        }
    }
    if !prompt.is_empty() {
        args.values.insert("prompt".into(), Value::String(prompt.join(" ")));
    }
    Ok(args)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(why) => {
            eprintln!("{why}\nusage: hgchat [--target HOST:PORT] [--graph NAME] [-i KEY=VALUE]... [PROMPT...]");
            std::process::exit(2);
        }
    };
    // One Ctrl-C listener for the whole run, made before the call. A fresh `ctrl_c()` per
    // loop turn listens only from its first poll, so a Ctrl-C landing between two turns was
    // lost and the run streamed on (seen under load; see tokio's ctrl_c docs).
    let interrupts = match interrupts() {
        Ok(i) => i,
        Err(e) => {
            eprintln!("hgchat: cannot watch Ctrl-C: {e}");
            std::process::exit(1);
        }
    };
    match chat(args, interrupts).await {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("hgchat: {e}");
            std::process::exit(1);
        }
    }
}

async fn chat(args: Args, mut interrupts: Interrupts) -> Result<i32, hypergraph_client::Error> {
    let client = Client::connect(&args.target).await?;
    // Our own workflow id, so Ctrl-C can stop the run even before its first event.
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let workflow_id = format!("hgchat-{}-{nanos}", std::process::id());
    let opts = CallOptions::new().workflow_id(&workflow_id);
    let mut events = client.iter(&args.graph, Value::Object(args.values), opts).await?;
    let mut stopping = false;
    let mut stdout = std::io::stdout();
    loop {
        tokio::select! {
            event = events.next() => {
                let Some(event) = event else { return Ok(0) };
                match event?.kind {
                    EventKind::StreamingChunk { chunk: hypergraph_client::Chunk::Text(t), .. } => {
                        let _ = stdout.write_all(t.as_bytes());
                        let _ = stdout.flush();
                    }
                    EventKind::RunEnded { result, .. } => {
                        println!();
                        return Ok(match result.status {
                            RunStatus::Completed => 0,
                            RunStatus::Stopped => { eprintln!("[stopped: {}]", json!(result.stop_info)); 130 }
                            _ => { eprintln!("[{}: {}]", result.status, result.error.unwrap_or_default()); 1 }
                        });
                    }
                    _ => {}
                }
            }
            _ = interrupts.recv() => {
                if stopping {
                    eprintln!("\n[quit]");
                    return Ok(130); // dropping the stream cancels the call
                }
                stopping = true;
                let outcome = client.stop(&workflow_id, json!({"kind": "user_stop"}), Some(Duration::from_secs(2))).await?;
                eprintln!("\n[stop requested: found={}; Ctrl-C again to quit now]", outcome.found);
            }
        }
    }
}

/// Every Ctrl-C from the listener's creation on (SIGINT on Unix, CTRL_C on Windows).
#[cfg(unix)]
type Interrupts = tokio::signal::unix::Signal;
#[cfg(windows)]
type Interrupts = tokio::signal::windows::CtrlC;

#[cfg(unix)]
fn interrupts() -> std::io::Result<Interrupts> {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
}

#[cfg(windows)]
fn interrupts() -> std::io::Result<Interrupts> {
    tokio::signal::windows::ctrl_c()
}
