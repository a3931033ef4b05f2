// The client over TLS and mutual TLS against real servers started with the
// repository's test certificates, and the handshakes it must refuse.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Code, RpcError, createHypergraphClient, type TlsOptions } from "../src/index.js";
import { makeCertificates, scenarioServerArgs, startServer, type RunningServer } from "./server.js";

/** A hung server fails the test instead of hanging CI; never reached by a healthy run. */
const TEST_TIMEOUT_MS = 60_000;
// Node reports a refused handshake the way the transport saw it: INTERNAL with
// OpenSSL's reason when the client rejects the server's certificate, CANCELED
// (the HTTP/2 session torn down) when the server rejects the client; never an
// answer from the service.
const TRANSPORT_FAILURES = [Code.Internal, Code.Canceled, Code.Unavailable];
let pki: string;
let tlsServer: RunningServer;
let mtlsServer: RunningServer;

before(async () => {
  pki = mkdtempSync(join(tmpdir(), "hg-tls-live-"));
  makeCertificates(pki);
  const serve = [...scenarioServerArgs(), "--tls-cert", join(pki, "server.pem"), "--tls-key", join(pki, "server.key")];
  tlsServer = await startServer(serve);
  mtlsServer = await startServer([...serve, "--tls-client-ca", join(pki, "ca.pem")]);
});

after(async () => {
  await tlsServer?.stop();
  await mtlsServer?.stop();
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

async function assertRefused(server: RunningServer, tls: TlsOptions): Promise<void> {
  const client = createHypergraphClient({ baseUrl: httpsUrl(server), tls });
  try {
    await assert.rejects(client.run("add", { a: 2, b: 40 }), (err: unknown) => {
      assert.ok(err instanceof RpcError, `expected an RpcError, got ${String(err)}`);
      assert.ok(TRANSPORT_FAILURES.includes(err.code), `code ${Code[err.code]}: ${err.rawMessage}`);
      return true;
    });
  } finally {
    client.close();
  }
}

test("a client trusting the server's CA runs a graph over TLS", { timeout: TEST_TIMEOUT_MS }, async () => {
  assert.equal(await sumOver(tlsServer, { caFile: join(pki, "ca.pem") }), 42);
});

test("a client trusting another CA is refused by the TLS server", { timeout: TEST_TIMEOUT_MS }, async () => {
  await assertRefused(tlsServer, { caFile: join(pki, "other-ca.pem") });
});

test("a client with a certificate runs a graph over mutual TLS", { timeout: TEST_TIMEOUT_MS }, async () => {
  const tls = { caFile: join(pki, "ca.pem"), certFile: join(pki, "client.pem"), keyFile: join(pki, "client.key") };
  assert.equal(await sumOver(mtlsServer, tls), 42);
});

test("a client without a certificate is refused by the mutual TLS server", { timeout: TEST_TIMEOUT_MS }, async () => {
  await assertRefused(mtlsServer, { caFile: join(pki, "ca.pem") });
});
