// A plaintext HTTP/2 server on a free loopback port that answers each call the way a test
// scripts it, at the gRPC wire level (response headers, length-prefixed messages, then a
// status in the trailers, or an RST_STREAM), so that the client's errors are the ones
// Connect builds from what it received, not ones a test made up.
import { constants, createServer, type ServerHttp2Stream } from "node:http2";
import type { AddressInfo } from "node:net";

/** One answer of the stub: what the server sends, in order. */
export type Answer = (
  | { headers: true } // the response headers (200, application/grpc), no status yet
  | { data: Uint8Array } // one message (serialized protobuf)
  | { status: number; message?: string } // the status: in the trailers, or trailers-only without headers before it
  | { reset: number } // RST_STREAM with this HTTP/2 error code
)[];

export interface Stub {
  /** "http://127.0.0.1:PORT" */
  baseUrl: string;
  /** Calls answered so far. */
  readonly calls: number;
  close(): Promise<void>;
}

const GRPC_HEADERS = { ":status": 200, "content-type": "application/grpc" };

/** Start a stub that answers call i with answers[i] (the last one for any later call). */
export async function startStub(answers: Answer[]): Promise<Stub> {
  let calls = 0;
  const server = createServer();
  server.on("stream", (stream) => {
    const answer = answers[Math.min(calls++, answers.length - 1)]!;
    stream.resume(); // read and drop the request
    play(stream, answer);
  });
  await new Promise<void>((listening) => server.listen(0, "127.0.0.1", listening));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get calls() {
      return calls;
    },
    close: () => new Promise((closed) => server.close(() => closed())),
  };
}

function play(stream: ServerHttp2Stream, answer: Answer): void {
  let headersSent = false;
  for (const step of answer) {
    if ("headers" in step) {
      stream.respond(GRPC_HEADERS, { waitForTrailers: true });
      headersSent = true;
    } else if ("reset" in step) {
      // Once the client answered a PING sent after what was written so far: an RST_STREAM
      // sent at once would overtake the response headers, and the client would never see them.
      stream.session!.ping(() => stream.close(step.reset));
      return;
    } else if ("status" in step) {
      const status = { "grpc-status": String(step.status), "grpc-message": encodeURIComponent(step.message ?? "") };
      if (!headersSent) {
        stream.respond({ ...GRPC_HEADERS, ...status }, { endStream: true }); // trailers-only
        return;
      }
      stream.once("wantTrailers", () => stream.sendTrailers(status));
      stream.end();
      return;
    } else {
      const frame = Buffer.alloc(5 + step.data.length);
      frame.writeUInt32BE(step.data.length, 1); // byte 0: not compressed
      frame.set(step.data, 5);
      stream.write(frame);
    }
  }
}

/** The HTTP/2 error code CANCEL (0x8): a stream given up, as a cut connection leaves it on the client. */
export const CANCEL = constants.NGHTTP2_CANCEL;
