package dev.hypergraph.grpc.client;

import java.io.IOException;
import java.util.List;

/**
 * One real server (scenarios.json's server_args, free port) shared by every test class of
 * the run, started on first use. LocalServer's shutdown hook terminates it when the test JVM
 * exits.
 */
public final class SharedServer {
  private static LocalServer server;

  private SharedServer() {}

  /** The running server's address, HOST:PORT. */
  public static synchronized String target() throws IOException {
    if (server == null) {
      server = LocalServer.start(serverArgs());
    }
    return server.target();
  }

  /** The server arguments of clients/scenarios.json. */
  public static List<String> serverArgs() throws IOException {
    return Scenarios.load().serverArgs;
  }
}
