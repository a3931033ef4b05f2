// Start a real hypergraph-grpc server on a free loopback port for the tests
// and the benchmark: `hypergraph-grpc serve --host 127.0.0.1 --port 0 ...`,
// whose first stdout line is `listening on HOST:PORT`.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

/** clients/typescript (this file runs from clients/typescript/dist/test). */
export const TS_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const REPO_ROOT = resolve(TS_ROOT, "../..");
export const SCENARIOS_PATH = resolve(TS_ROOT, "../scenarios.json");

const STARTUP_TIMEOUT_MS = 60_000;

export interface RunningServer {
  /** "http://127.0.0.1:PORT" */
  baseUrl: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** The server command: $HYPERGRAPH_GRPC_BIN, else the repository's .venv. */
export function serverBinary(): string {
  const bin = process.env.HYPERGRAPH_GRPC_BIN ?? resolve(REPO_ROOT, ".venv/bin/hypergraph-grpc");
  if (!existsSync(bin)) {
    throw new Error(`server command ${bin} not found; run 'make install' at the repository root or set HYPERGRAPH_GRPC_BIN`);
  }
  return bin;
}

/** The server_args of clients/scenarios.json. */
export function scenarioServerArgs(): string[] {
  return JSON.parse(readFileSync(SCENARIOS_PATH, "utf8")).server_args as string[];
}

/**
 * Write the repository's test certificates into dir (`python -m tests.support.certificates`):
 * ca.pem, server.pem/.key for 127.0.0.1 and localhost, client.pem/.key, other-ca.pem (a CA
 * that signed neither), among others.
 */
export function makeCertificates(dir: string): void {
  const python = resolve(dirname(serverBinary()), "python");
  execFileSync(python, ["-m", "tests.support.certificates", dir], { cwd: REPO_ROOT, stdio: ["ignore", "ignore", "pipe"] });
}

/** Spawn the server and resolve once it printed `listening on HOST:PORT`. */
export function startServer(args: string[] = scenarioServerArgs()): Promise<RunningServer> {
  return spawnListening(serverBinary(), ["serve", "--host", "127.0.0.1", "--port", "0", ...args]);
}

/** Spawn any command whose first stdout line is `listening on HOST:PORT` (e.g. bench/baseline_server.py). */
export async function spawnListening(command: string, args: string[]): Promise<RunningServer> {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], cwd: REPO_ROOT });
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-8000); // keep the tail for error messages
  });
  const address = await new Promise<string>((resolveAddress, reject) => {
    const timer = setTimeout(() => fail(`no 'listening on' line within ${STARTUP_TIMEOUT_MS} ms`), STARTUP_TIMEOUT_MS);
    const lines = createInterface({ input: child.stdout! });
    function fail(why: string) {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error(`${command} ${args.join(" ")} failed to start: ${why}\n--- server stderr ---\n${stderr}`));
    }
    lines.on("line", (line) => {
      const match = /^listening on (\S+)/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolveAddress(match[1]!);
      }
    });
    child.once("exit", (code, signal) => fail(`exited with ${signal ?? `code ${code}`}`));
    child.once("error", (err) => fail(err.message));
  });
  child.removeAllListeners("exit");
  child.stdout!.resume(); // keep draining stdout so the server never blocks on a full pipe
  return { baseUrl: `http://${address}`, process: child, stop: () => stopProcess(child) };
}

/** SIGTERM (graceful drain), then SIGKILL if it has not exited within 10 s. */
async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}
