package dev.hypergraph.grpc.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.grpc.TlsChannelCredentials;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** TLS options: files read when the credentials are made, a TLS client refused by plaintext. */
class TlsOptionsTest {
  @Test
  void systemRootsMakeTlsCredentials() {
    assertTrue(TlsOptions.systemRoots().credentials() instanceof TlsChannelCredentials);
  }

  @Test
  void aClientCertificateNeedsItsKey() {
    Path cert = Path.of("client.pem");
    assertThrows(IllegalArgumentException.class, () -> new TlsOptions(null, cert, null, null));
    assertThrows(IllegalArgumentException.class, () -> new TlsOptions(null, null, cert, null));
  }

  @Test
  void anUnreadableCaFileIsReportedWithItsPath(@TempDir Path dir) {
    Path absent = dir.resolve("absent-ca.pem");
    UncheckedIOException e = assertThrows(UncheckedIOException.class,
        () -> TlsOptions.systemRoots().withCaFile(absent).credentials());
    assertTrue(e.getMessage().contains("absent-ca.pem"), e.getMessage());
  }

  /** A TLS client talking to the plaintext test server fails its handshake: UNAVAILABLE. */
  @Test
  void tlsToAPlaintextServerIsUnavailable() throws IOException {
    try (HypergraphClient client = HypergraphClient.connect(SharedServer.target(),
        TlsOptions.systemRoots().withServerName("localhost"))) {
      HypergraphException e = assertThrows(HypergraphException.class, client::listGraphs);
      assertEquals(Status.Code.UNAVAILABLE, e.code(), e.getMessage());
    }
  }
}
