package dev.hypergraph.grpc.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.grpc.Status;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Real servers serving TLS and mutual TLS with the repository's test certificates. */
class TlsLiveTest {
  @TempDir
  static Path pki;

  private static LocalServer tlsServer;
  private static LocalServer mtlsServer;

  @BeforeAll
  static void startServers() throws IOException {
    LocalServer.makeCertificates(pki);
    List<String> args = new ArrayList<>(SharedServer.serverArgs());
    args.addAll(List.of("--tls-cert", pki.resolve("server.pem").toString(),
        "--tls-key", pki.resolve("server.key").toString()));
    tlsServer = LocalServer.start(args);
    args.addAll(List.of("--tls-client-ca", pki.resolve("ca.pem").toString()));
    mtlsServer = LocalServer.start(args);
  }

  @AfterAll
  static void stopServers() {
    if (tlsServer != null) {
      tlsServer.close();
    }
    if (mtlsServer != null) {
      mtlsServer.close();
    }
  }

  private static TlsOptions trustingCa() {
    return TlsOptions.systemRoots().withCaFile(pki.resolve("ca.pem"));
  }

  private static void assertSum(LocalServer server, TlsOptions tls) {
    try (HypergraphClient client = HypergraphClient.connect(server.target(), tls)) {
      RunResult r = client.run("add", Map.of("a", 2, "b", 40));
      assertEquals(Map.of("sum", 42L), r.values());
    }
  }

  private static void assertUnavailable(LocalServer server, TlsOptions tls) {
    try (HypergraphClient client = HypergraphClient.connect(server.target(), tls)) {
      HypergraphException e = assertThrows(HypergraphException.class,
          () -> client.run("add", Map.of("a", 2, "b", 40)));
      assertEquals(Status.Code.UNAVAILABLE, e.code(), e.getMessage());
    }
  }

  @Test
  void aClientTrustingTheServersCaRunsAGraphOverTls() {
    assertSum(tlsServer, trustingCa());
  }

  @Test
  void aClientTrustingAnotherCaIsUnavailable() {
    assertUnavailable(tlsServer, TlsOptions.systemRoots().withCaFile(pki.resolve("other-ca.pem")));
  }

  @Test
  void aClientWithACertificateRunsAGraphOverMutualTls() {
    assertSum(mtlsServer, trustingCa().withClientCertificate(
        pki.resolve("client.pem"), pki.resolve("client.key")));
  }

  @Test
  void aClientWithoutACertificateIsUnavailableToAMutualTlsServer() {
    assertUnavailable(mtlsServer, trustingCa());
  }
}
