package dev.hypergraph.grpc.client;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A hypergraph-grpc server process on a free loopback port, for tests, examples and benches.
 *
 * <p>Runs {@code hypergraph-grpc serve --host 127.0.0.1 --port 0 ARGS...} and reads the port
 * from its first stdout line, {@code listening on HOST:PORT}. Its stderr goes to a log file
 * whose tail is shown when it fails to start. {@link #close()} terminates it.
 */
public final class LocalServer implements AutoCloseable {
  private static final String LISTENING = "listening on ";

  private final Process process;
  private final String target;
  private final Path log;
  private final Thread reaper;

  private LocalServer(Process process, String target, Path log) {
    this.process = process;
    this.target = target;
    this.log = log;
    // A JVM that exits without close() (Ctrl-C, a killed test run) must not leave a server.
    this.reaper = new Thread(process::destroy, "hypergraph-server-reaper");
    Runtime.getRuntime().addShutdownHook(reaper);
  }

  /**
   * The server executable: the system property {@code hypergraph.server}, else the variable
   * {@code HYPERGRAPH_GRPC_SERVER}, else {@code .venv/bin/hypergraph-grpc} under the repository
   * root (system property {@code hypergraph.root}, default {@code ../..}: clients/java's root).
   */
  public static Path defaultExecutable() {
    String explicit = System.getProperty("hypergraph.server", System.getenv("HYPERGRAPH_GRPC_SERVER"));
    if (explicit != null && !explicit.isEmpty()) {
      return Paths.get(explicit);
    }
    String root = System.getProperty("hypergraph.root", "../..");
    return Paths.get(root, ".venv", "bin", "hypergraph-grpc").toAbsolutePath().normalize();
  }

  /**
   * Writes the repository's test certificates into {@code dir} with {@code python -m
   * tests.support.certificates}: ca.pem, server.pem/.key (for 127.0.0.1 and localhost),
   * client.pem/.key, and other-ca.pem (a CA that signed neither), among others.
   */
  public static void makeCertificates(Path dir) throws IOException {
    Path root = Paths.get(System.getProperty("hypergraph.root", "../..")).toAbsolutePath()
        .normalize();
    Process process = new ProcessBuilder(root.resolve(".venv/bin/python").toString(), "-m",
        "tests.support.certificates", dir.toString())
        .directory(root.toFile())
        .redirectErrorStream(true)
        .start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    try {
      if (process.waitFor() != 0) {
        throw new IOException("making test certificates failed:\n" + output);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      process.destroyForcibly();
      throw new IOException("interrupted while making test certificates", e);
    }
  }

  /** Starts the default executable with {@code args} after the host and port. */
  public static LocalServer start(List<String> args) throws IOException {
    return start(defaultExecutable(), args, Duration.ofSeconds(60));
  }

  /** Starts {@code executable serve} and waits up to {@code timeout} for it to listen. */
  public static LocalServer start(Path executable, List<String> args, Duration timeout)
      throws IOException {
    if (!Files.isExecutable(executable)) {
      throw new IOException("no hypergraph-grpc server executable at " + executable
          + "; run `make install` at the repository root (it creates .venv), or set"
          + " -Dhypergraph.server / HYPERGRAPH_GRPC_SERVER to the executable");
    }
    List<String> command = new ArrayList<>(
        List.of(executable.toString(), "serve", "--host", "127.0.0.1", "--port", "0"));
    command.addAll(args);
    return startCommand(command, timeout);
  }

  /**
   * Starts any server {@code command} that prints {@code listening on HOST:PORT} as its first
   * stdout line (e.g. bench/baseline_server.py), waiting up to {@code timeout}.
   */
  public static LocalServer startCommand(List<String> command, Duration timeout)
      throws IOException {
    Path log = Files.createTempFile("hypergraph-grpc-server-", ".log");
    Process process = new ProcessBuilder(command)
        .redirectError(log.toFile())
        .start();
    BufferedReader stdout = new BufferedReader(
        new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
    CompletableFuture<String> first = CompletableFuture.supplyAsync(() -> readLine(stdout));
    String line;
    try {
      line = first.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      process.destroyForcibly();
      throw new IOException("interrupted while waiting for the server to start", e);
    } catch (ExecutionException | TimeoutException e) {
      line = null;
    }
    if (line == null || !line.startsWith(LISTENING)) {
      process.destroyForcibly();
      throw new IOException("the server did not print '" + LISTENING + "HOST:PORT' within "
          + timeout + " (" + String.join(" ", command) + "); first line: " + line
          + "; stderr tail:\n" + tail(log));
    }
    drain(stdout);
    return new LocalServer(process, line.substring(LISTENING.length()).trim(), log);
  }

  /** The address to connect to, {@code HOST:PORT}. */
  public String target() {
    return target;
  }

  /** The server's process id (e.g. to read its CPU time from /proc). */
  public long pid() {
    return process.pid();
  }

  /** The file the server's stderr goes to. */
  public Path log() {
    return log;
  }

  /** Terminates the server (SIGTERM, then SIGKILL after 10 s). */
  @Override
  public void close() {
    try {
      Runtime.getRuntime().removeShutdownHook(reaper);
    } catch (IllegalStateException shuttingDown) {
      // the reaper runs anyway
    }
    process.destroy();
    try {
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }

  private static String readLine(BufferedReader reader) {
    try {
      return reader.readLine();
    } catch (IOException e) {
      return null;
    }
  }

  /** Keeps reading stdout so that a chatty server never blocks on a full pipe. */
  private static void drain(BufferedReader stdout) {
    Thread t = new Thread(() -> {
      while (readLine(stdout) != null) {
        // discarded: everything worth keeping goes to stderr (the log)
      }
    }, "hypergraph-server-stdout");
    t.setDaemon(true);
    t.start();
  }

  private static String tail(Path log) {
    try {
      List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
    } catch (IOException e) {
      return "(unreadable: " + e + ")";
    }
  }
}
