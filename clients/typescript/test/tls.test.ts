// The client over TLS and mutual TLS against real servers started with the
// repository's test certificates, and the handshakes it must refuse.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createSecureServer, type Http2SecureServer } from "node:http2";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ConnectError } from "@connectrpc/connect";
import { Code, RpcError, createHypergraphClient, type TlsOptions } from "../src/index.js";
import { makeCertificates, scenarioServerArgs, startServer, type RunningServer } from "./server.js";

/** A hung server fails the test instead of hanging CI; never reached by a healthy run. */
const TEST_TIMEOUT_MS = 60_000;
let pki: string;
let tlsServer: RunningServer;
let mtlsServer: RunningServer;
/** A mutual-TLS server that refuses a client without a certificate with a TLS alert, as OpenSSL-based servers do. */
let alertingMtlsServer: Http2SecureServer;

before(async () => {
  pki = mkdtempSync(join(tmpdir(), "hg-tls-live-"));
  makeCertificates(pki);
  const serve = [...scenarioServerArgs(), "--tls-cert", join(pki, "server.pem"), "--tls-key", join(pki, "server.key")];
  tlsServer = await startServer(serve);
  mtlsServer = await startServer([...serve, "--tls-client-ca", join(pki, "ca.pem")]);
  const pem = (name: string) => readFileSync(join(pki, name));
  alertingMtlsServer = createSecureServer({ cert: pem("server.pem"), key: pem("server.key"), ca: pem("ca.pem"), requestCert: true, rejectUnauthorized: true });
  alertingMtlsServer.on("stream", (stream) => stream.respond({ ":status": 404 }, { endStream: true }));
  await new Promise<void>((listening) => alertingMtlsServer.listen(0, "127.0.0.1", listening));
});

after(async () => {
  await tlsServer?.stop();
  await mtlsServer?.stop();
  await new Promise((closed) => (alertingMtlsServer ? alertingMtlsServer.close(closed) : closed(undefined)));
  rmSync(pki, { recursive: true, force: true });
});

function httpsUrl(server: RunningServer): string {
  return server.baseUrl.replace("http://", "https://");
}

async function sumOver(server: RunningServer, tls: TlsOptions): Promise<unknown> {
  const client = createHypergraphClient({ baseUrl: httpsUrl(server), tls });
  try {
    const result = await client.run("add", { a: 2, b: 40 });
    assert.equal(result.status, "COMPLETED");
    return result.values.sum;
  } finally {
    client.close();
  }
}

/** The call over tls fails with an RpcError of this code whose message matches. */
async function assertRefused(baseUrl: string, tls: TlsOptions, code: Code, message: RegExp): Promise<void> {
  const client = createHypergraphClient({ baseUrl, tls });
  try {
    await assert.rejects(client.run("add", { a: 2, b: 40 }), (err: unknown) => {
      assert.ok(err instanceof RpcError, `expected an RpcError, got ${String(err)}`);
      assert.equal(err.code, code, err.message);
      assert.match(err.message, message);
      assert.ok(err.cause instanceof ConnectError, "the transport's error is kept as the cause");
      return true;
    });
  } finally {
    client.close();
  }
}

/** "TLS handshake with https://127.0.0.1:PORT failed: " + what, as the message of an UNAVAILABLE RpcError. */
function handshakeFailed(baseUrl: string, what: string): RegExp {
  return new RegExp(`^UNAVAILABLE: TLS handshake with ${baseUrl.replace(/[.]/g, "\\.")} failed: ${what}`);
}

test("a client trusting the server's CA runs a graph over TLS", { timeout: TEST_TIMEOUT_MS }, async () => {
  assert.equal(await sumOver(tlsServer, { caFile: join(pki, "ca.pem") }), 42);
});

test("a client trusting another CA is refused by the TLS server: UNAVAILABLE, check tls.caFile", { timeout: TEST_TIMEOUT_MS }, async () => {
  const baseUrl = httpsUrl(tlsServer);
  const check = "unable to verify the first certificate; check tls\\.caFile \\(the CA that signed the server's certificate\\) and tls\\.serverName";
  await assertRefused(baseUrl, { caFile: join(pki, "other-ca.pem") }, Code.Unavailable, handshakeFailed(baseUrl, check));
});

test("a client expecting another server name is refused: UNAVAILABLE, check tls.serverName", { timeout: TEST_TIMEOUT_MS }, async () => {
  const baseUrl = httpsUrl(tlsServer);
  const tls = { caFile: join(pki, "ca.pem"), serverName: "runner.example" };
  await assertRefused(baseUrl, tls, Code.Unavailable, handshakeFailed(baseUrl, "Hostname/IP does not match .*; check tls\\.caFile .* and tls\\.serverName"));
});

test("a client with a certificate runs a graph over mutual TLS", { timeout: TEST_TIMEOUT_MS }, async () => {
  const tls = { caFile: join(pki, "ca.pem"), certFile: join(pki, "client.pem"), keyFile: join(pki, "client.key") };
  assert.equal(await sumOver(mtlsServer, tls), 42);
});

test("a client without a certificate, refused with a TLS alert: UNAVAILABLE, check tls.certFile", { timeout: TEST_TIMEOUT_MS }, async () => {
  const baseUrl = `https://127.0.0.1:${(alertingMtlsServer.address() as AddressInfo).port}`;
  const check = "the server refused this client's TLS certificate \\(tlsv13 alert certificate required\\); check tls\\.certFile and tls\\.keyFile";
  await assertRefused(baseUrl, { caFile: join(pki, "ca.pem") }, Code.Unavailable, handshakeFailed(baseUrl, check));
});

// The server (grpc) closes the connection after the handshake without a TLS alert: Node
// reports no error at all, and the call ends as HTTP/2 reports it, like any dropped connection.
test("a client without a certificate is refused by the mutual TLS server", { timeout: TEST_TIMEOUT_MS }, async () => {
  const canceled = /^CANCELED: http\/2 stream closed with error code CANCEL/;
  await assertRefused(httpsUrl(mtlsServer), { caFile: join(pki, "ca.pem") }, Code.Canceled, canceled);
});
