// Stream one turn of the `chat` demo graph to stdout.
//
//   npm run chat -- "why is the sky blue?"
//   node dist/examples/chat.js --url http://127.0.0.1:50051 -i tokens_per_second=5 "why is the sky blue?"
//
// The prompt goes to the graph's `prompt` input (--prompt-input names another one);
// -i KEY=VALUE sets any other input (VALUE is read as JSON when it parses, else text).
//
// Ctrl-C sends Stop(info={kind:"user_stop"}): the model stops, the text
// streamed so far stays, the run ends STOPPED. A second Ctrl-C abandons the
// stream (AbortSignal), which also stops the run on the server.
// Exit codes: 0 completed, 1 failed or RPC error, 2 usage, 130 stopped by Ctrl-C.
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { Code, RpcError, RunFailedError, createHypergraphClient } from "../src/index.js";

const USAGE = "usage: chat [--url http://127.0.0.1:50051] [--graph chat] [--prompt-input prompt] [-i KEY=VALUE]... PROMPT...";

/** -i KEY=VALUE pairs as graph inputs; VALUE is JSON when it parses (5, true, [1]), else text. */
function parseInputs(items: string[]): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const item of items) {
    const eq = item.indexOf("=");
    if (eq <= 0) throw new Error(`-i ${JSON.stringify(item)} is not KEY=VALUE; write e.g. -i tokens_per_second=5`);
    const raw = item.slice(eq + 1);
    try {
      values[item.slice(0, eq)] = JSON.parse(raw);
    } catch {
      values[item.slice(0, eq)] = raw;
    }
  }
  return values;
}

async function main(): Promise<number> {
  let parsed;
  let inputs: Record<string, unknown>;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        url: { type: "string", default: process.env.HYPERGRAPH_URL ?? "http://127.0.0.1:50051" },
        graph: { type: "string", default: "chat" },
        "prompt-input": { type: "string", default: "prompt" },
        set: { type: "string", short: "i", multiple: true, default: [] },
      },
    });
    inputs = parseInputs(parsed.values.set!);
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const prompt = parsed.positionals.join(" ");
  if (prompt === "") {
    console.error(`no prompt given\n${USAGE}`);
    return 2;
  }
  const { url, graph, "prompt-input": input } = parsed.values;
  const client = createHypergraphClient({ baseUrl: url! });
  // Our own id, so that a Ctrl-C before the first event still knows what to stop.
  const workflowId = `chat-${randomBytes(6).toString("hex")}`;
  const abandon = new AbortController();
  let interrupted = false;

  process.on("SIGINT", () => {
    if (interrupted) {
      console.error("\nabandoning the stream (the server stops the run)");
      abandon.abort();
      return;
    }
    interrupted = true;
    console.error(`\nstopping workflow ${workflowId} (Ctrl-C again to abandon)`);
    client
      .stop(workflowId, { info: { kind: "user_stop" }, graceMs: 5000, timeoutMs: 10_000 })
      .catch((err: unknown) => console.error(`stop failed: ${String(err)}`));
  });

  const stream = client.streamText(graph!, { ...inputs, [input!]: prompt }, { workflowId, signal: abandon.signal });
  try {
    for await (const token of stream) process.stdout.write(token);
    const result = await stream.result;
    process.stdout.write("\n");
    const usage = result.usage ? ` usage=${JSON.stringify(result.usage)}` : "";
    console.error(`[${result.status} ${workflowId}${usage}]`);
    if (result.status === "STOPPED") return interrupted ? 130 : 1;
    return 0;
  } catch (err) {
    process.stdout.write("\n");
    if (err instanceof RpcError && err.code === Code.Canceled && abandon.signal.aborted) return 130;
    if (err instanceof RunFailedError) console.error(err.message);
    else if (err instanceof RpcError) console.error(`${err.codeName}: ${err.rawMessage} (server ${url})`);
    else throw err;
    return 1;
  } finally {
    client.close();
  }
}

process.exitCode = await main();
