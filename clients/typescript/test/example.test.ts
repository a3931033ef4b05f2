// The chat example (examples/chat.ts) run as a user would: a real server, the
// compiled example as a child process, Ctrl-C as a real SIGINT.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { after, before, test } from "node:test";
import { TS_ROOT, startServer, type RunningServer } from "./server.js";

const EXAMPLE = resolve(TS_ROOT, "dist/examples/chat.js");
/** A hung server fails the test instead of hanging CI; never reached by a healthy run. */
const TEST_TIMEOUT_MS = 60_000;
let server: RunningServer;

before(async () => {
  server = await startServer();
});

after(async () => {
  await server?.stop();
});

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run the example; `onFirstOutput` is called once, when the first text arrives. */
function runExample(args: string[], onFirstOutput?: (child: ReturnType<typeof spawn>) => void): Promise<Outcome> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [EXAMPLE, "--url", server.baseUrl, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      if (stdout === "" && onFirstOutput) onFirstOutput(child);
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.once("error", fail);
    child.once("close", (code) => done({ code, stdout, stderr }));
  });
}

test("chat example streams the answer and exits 0", { timeout: TEST_TIMEOUT_MS }, async () => {
  const out = await runExample(["-i", "tokens_per_second=0", "what is hypergraph?"]);
  assert.equal(out.code, 0, out.stderr);
  // The offline model echoes the prompt; its exact phrasing is not the contract.
  assert.match(out.stdout, /You asked: .?what is hypergraph\?/);
  assert.match(out.stderr, /\[COMPLETED chat-[0-9a-f]{12}/);
});

test("Ctrl-C in the chat example stops the run (STOPPED, exit 130)", { timeout: TEST_TIMEOUT_MS }, async () => {
  // 2 tokens/s: the ~60-token answer cannot finish before the SIGINT sent on its first token.
  const out = await runExample(["-i", "tokens_per_second=2", "hello"], (child) => child.kill("SIGINT"));
  assert.equal(out.code, 130, out.stderr);
  assert.match(out.stderr, /stopping workflow chat-[0-9a-f]{12}/);
  assert.match(out.stderr, /\[STOPPED chat-/);
  assert.ok(out.stdout.length > 0 && !out.stdout.includes("Stop from anywhere"), "only part of the answer was streamed");
});

test("chat example without a prompt prints usage and exits 2", { timeout: TEST_TIMEOUT_MS }, async () => {
  const out = await runExample([]);
  assert.equal(out.code, 2);
  assert.match(out.stderr, /no prompt given\nusage: chat/);
});
