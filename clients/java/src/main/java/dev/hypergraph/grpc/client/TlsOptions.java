package dev.hypergraph.grpc.client;

import io.grpc.ChannelCredentials;
import io.grpc.TlsChannelCredentials;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/**
 * How to connect over TLS: which certificate authorities to trust, and for mutual TLS the
 * client's certificate and key.
 *
 * <pre>{@code
 * TlsOptions tls = TlsOptions.systemRoots()
 *     .withCaFile(Path.of("/etc/hypergraph/ca.pem"))
 *     .withClientCertificate(Path.of("/etc/hypergraph/client.pem"), Path.of("/etc/hypergraph/client.key"));
 * try (HypergraphClient client = HypergraphClient.connect("runner.internal:443", tls)) { ... }
 * }</pre>
 *
 * @param caFile PEM bundle of the certificate authorities to trust; null trusts the JVM's roots
 * @param certFile this client's certificate chain (PEM) for mutual TLS, or null
 * @param keyFile the PKCS#8 private key (PEM) of {@code certFile}, or null
 * @param serverName the name the server's certificate must carry; null takes the target's host
 */
public record TlsOptions(Path caFile, Path certFile, Path keyFile, String serverName) {

  /** Checks that a client certificate comes with its key. */
  public TlsOptions {
    if ((certFile == null) != (keyFile == null)) {
      throw new IllegalArgumentException("a client certificate needs both certFile and keyFile");
    }
  }

  /** TLS trusting the JVM's default certificate authorities, with no client certificate. */
  public static TlsOptions systemRoots() {
    return new TlsOptions(null, null, null, null);
  }

  /** These options trusting the certificate authorities of {@code caFile} (PEM) instead. */
  public TlsOptions withCaFile(Path caFile) {
    return new TlsOptions(caFile, certFile, keyFile, serverName);
  }

  /** These options presenting a client certificate (mutual TLS). */
  public TlsOptions withClientCertificate(Path certFile, Path keyFile) {
    return new TlsOptions(caFile, certFile, keyFile, serverName);
  }

  /** These options checking the server's certificate for {@code serverName}. */
  public TlsOptions withServerName(String serverName) {
    return new TlsOptions(caFile, certFile, keyFile, serverName);
  }

  /**
   * The channel credentials, with every file read now.
   *
   * @throws UncheckedIOException when a file cannot be read or parsed
   */
  public ChannelCredentials credentials() {
    TlsChannelCredentials.Builder builder = TlsChannelCredentials.newBuilder();
    try {
      if (caFile != null) {
        builder.trustManager(caFile.toFile());
      }
      if (certFile != null) {
        builder.keyManager(certFile.toFile(), keyFile.toFile());
      }
    } catch (IOException e) {
      throw new UncheckedIOException("TLS files " + this + ": " + e.getMessage(), e);
    }
    return builder.build();
  }
}
