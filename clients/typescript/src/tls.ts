// TLS for the client's HTTP/2 session: the files of TlsOptions read into
// node:http2 session options.
import { readFileSync } from "node:fs";
import type { SecureClientSessionOptions } from "node:http2";
import { HypergraphError } from "./errors.js";

/** How to connect over TLS (the baseUrl is then https://). */
export interface TlsOptions {
  /** PEM bundle of the certificate authorities to trust; omitted: Node's trusted roots. */
  caFile?: string;
  /** This client's certificate chain (PEM) for mutual TLS; needs keyFile. */
  certFile?: string;
  /** The private key (PEM) of certFile. */
  keyFile?: string;
  /** The name the server's certificate must carry; omitted: the host of baseUrl. */
  serverName?: string;
}

/** The node:http2 options for tls, with every file read now. */
export function secureSessionOptions(tls: TlsOptions): SecureClientSessionOptions {
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
    throw new HypergraphError("tls: a client certificate needs both certFile and keyFile");
  }
  const options: SecureClientSessionOptions = { minVersion: "TLSv1.2" };
  if (tls.caFile !== undefined) options.ca = readPem("caFile", tls.caFile);
  if (tls.certFile !== undefined) options.cert = readPem("certFile", tls.certFile);
  if (tls.keyFile !== undefined) options.key = readPem("keyFile", tls.keyFile);
  if (tls.serverName !== undefined) options.servername = tls.serverName;
  return options;
}

function readPem(option: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new HypergraphError(`tls: cannot read ${option} ${path}: ${(err as Error).message}`, { cause: err });
  }
}
