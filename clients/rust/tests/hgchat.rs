//! The hgchat example binary against a real server on a free loopback port:
//! it streams the `chat` demo graph, and Ctrl-C (SIGINT) stops the run on the
//! server (STOPPED, exit 130). No case asserts a timing.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::LocalServer;

fn server() -> LocalServer {
    let args = ["--graphs", "hypergraph_grpc.demo:GRAPHS", "--graphs", "hypergraph_grpc.demo.testing:GRAPHS"];
    let args: Vec<String> = args.iter().chain(&["--provider", "offline"]).map(|s| s.to_string()).collect();
    let mut cmd = LocalServer::serve_command(LocalServer::default_program(), &args);
    cmd.env("HYPERGRAPH_OFFLINE_TOKENS_PER_SECOND", "0").stderr(Stdio::null());
    LocalServer::spawn(cmd, Duration::from_secs(90)).expect("the test server starts")
}

fn hgchat(addr: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hgchat"));
    cmd.arg("--target").arg(addr).args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

#[test]
fn hgchat_streams_the_chat_graph() {
    let server = server();
    let out = hgchat(server.addr(), &["hello", "there"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.starts_with("[offline stand-in] You asked: \"hello there\""), "stdout: {stdout}");
}

#[test]
fn hgchat_ctrl_c_stops_the_run() {
    let server = server();
    let args = ["--graph", "tokens", "-i", "count=100000", "-i", "delay_ms=5", "-i", "prefix=h"];
    let mut child = hgchat(server.addr(), &args).spawn().unwrap();
    // Wait for streamed text, so the run is live on the server before the interrupt; then
    // keep reading, so a full pipe never blocks hgchat.
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 8];
    stdout.read_exact(&mut first).expect("hgchat printed tokens");
    let reader = std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let killed = Command::new("kill").arg("-INT").arg(child.id().to_string()).status().unwrap();
    assert!(killed.success());
    // Not a timing assertion: a bound so that an ignored Ctrl-C fails the test instead of
    // streaming the whole run (100000 tokens at 5 ms).
    let give_up = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > give_up {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("hgchat ignored Ctrl-C: still streaming 60 s after SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    reader.join().unwrap().unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert_eq!(status.code(), Some(130), "stderr: {stderr}");
    assert!(stderr.contains("[stop requested: found=true"), "stderr: {stderr}");
    assert!(stderr.contains(r#"[stopped: {"kind":"user_stop"}]"#), "stderr: {stderr}");
}
