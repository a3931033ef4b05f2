//! Starts a `hypergraph-grpc serve` process on a free loopback port for the
//! tests and the benchmark (examples/hgbench.rs includes this file by path);
//! the process is killed when the handle is dropped. Test code only: it is not
//! part of the library.

// Each test crate and the benchmark use a different part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running `hypergraph-grpc serve --port 0` process.
pub struct LocalServer {
    child: Child,
    addr: String,
}

impl LocalServer {
    /// Starts `program serve --host 127.0.0.1 --port 0 <args>` and waits (up to
    /// `startup`) for its first stdout line, `listening on HOST:PORT`.
    pub fn start(program: impl Into<PathBuf>, args: &[String], startup: Duration) -> std::io::Result<LocalServer> {
        LocalServer::spawn(LocalServer::serve_command(program, args), startup)
    }

    /// The command `start` runs, to adjust (e.g. its stderr) before `spawn`.
    pub fn serve_command(program: impl Into<PathBuf>, args: &[String]) -> Command {
        let mut cmd = Command::new(program.into());
        cmd.args(["serve", "--host", "127.0.0.1", "--port", "0"]).args(args);
        cmd
    }

    /// Spawns any server command that prints `listening on HOST:PORT` first
    /// (e.g. bench/baseline_server.py). Its stderr is whatever `cmd` says
    /// (by default ours).
    pub fn spawn(mut cmd: Command, startup: Duration) -> std::io::Result<LocalServer> {
        cmd.stdin(Stdio::null()).stdout(Stdio::piped());
        let program = cmd.get_program().to_string_lossy().into_owned();
        let mut child = cmd.spawn().map_err(|e| {
            std::io::Error::new(e.kind(), format!("cannot start {program}: {e}; run `make install` first"))
        })?;
        let stdout = child.stdout.take().expect("stdout is piped");
        match first_line(stdout, startup) {
            Ok(line) => match line.strip_prefix("listening on ") {
                Some(addr) => Ok(LocalServer { child, addr: addr.trim().to_string() }),
                None => fail(child, &program, format!("expected `listening on HOST:PORT` as first line, got {line:?}")),
            },
            Err(why) => fail(child, &program, why),
        }
    }

    /// The server's "HOST:PORT".
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The repository root (clients/rust/../..), where `.venv` and `bench/` live.
    pub fn repo_root() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    /// The server program to use: `$HYPERGRAPH_GRPC_BIN`, else this repository's
    /// `.venv/bin/hypergraph-grpc` (as built by `make install`), else the one on PATH.
    pub fn default_program() -> PathBuf {
        if let Some(p) = std::env::var_os("HYPERGRAPH_GRPC_BIN") {
            return PathBuf::from(p);
        }
        let repo = LocalServer::repo_root().join(".venv/bin/hypergraph-grpc");
        if repo.exists() {
            repo
        } else {
            PathBuf::from("hypergraph-grpc")
        }
    }
}

/// The repository's test certificates, written by `python -m tests.support.certificates`
/// into a fresh directory that is removed when the handle is dropped.
pub struct TestPki {
    dir: PathBuf,
}

impl TestPki {
    /// Makes ca.pem, server.pem/.key (for 127.0.0.1 and localhost), client.pem/.key and
    /// other-ca.pem (a CA that signed neither), among others.
    pub fn new() -> std::io::Result<TestPki> {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("hypergraph-pki-{}-{n}", std::process::id()));
        let root = LocalServer::repo_root();
        let output = Command::new(root.join(".venv/bin/python"))
            .args(["-m", "tests.support.certificates"])
            .arg(&dir)
            .current_dir(&root)
            .output()?;
        if !output.status.success() {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(std::io::Error::other(format!(
                "making test certificates failed: {}",
                String::from_utf8_lossy(&output.stderr)
            )));
        }
        Ok(TestPki { dir })
    }

    /// The path of `name` (e.g. "ca.pem") in the certificate directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for TestPki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn fail(mut child: Child, program: &str, why: String) -> std::io::Result<LocalServer> {
    let _ = child.kill();
    let _ = child.wait();
    Err(std::io::Error::other(format!("{program} did not start: {why}")))
}

/// Reads the first line of `stdout` within `limit`, then keeps draining it in
/// the background so the server never blocks on a full pipe.
fn first_line(stdout: std::process::ChildStdout, limit: Duration) -> Result<String, String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let read = reader.read_line(&mut line);
        let _ = tx.send(read.map(|_| line));
        std::io::copy(&mut reader, &mut std::io::sink()).ok();
    });
    match rx.recv_timeout(limit) {
        Ok(Ok(line)) if line.is_empty() => Err("it exited before printing anything (see its stderr above)".into()),
        Ok(Ok(line)) => Ok(line.trim_end().to_string()),
        Ok(Err(e)) => Err(format!("reading its stdout failed: {e}")),
        Err(_) => Err(format!("no `listening on` line within {limit:?}")),
    }
}
