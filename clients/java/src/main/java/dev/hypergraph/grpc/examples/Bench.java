package dev.hypergraph.grpc.examples;

import dev.hypergraph.grpc.client.Events;
import dev.hypergraph.grpc.client.HypergraphClient;
import dev.hypergraph.grpc.client.IterCall;
import dev.hypergraph.grpc.client.LocalServer;
import dev.hypergraph.grpc.client.RunOptions;
import dev.hypergraph.grpc.client.RunResult;
import dev.hypergraph.grpc.v1.Event;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * How fast a Java client receives tokens: N concurrent Iter streams of the {@code tokens}
 * test graph (no delay between tokens), once with the server's default chunk merging and once
 * with {@code disable_merge} (one message per ctx.stream() call). Prints one JSON object
 * ({@code make bench-java} writes it to bench/results/clients-java.json).
 *
 * <p>Options: {@code --target HOST:PORT} (else the repository's server is started with the
 * test graphs, and its CPU time per delivered token is read from /proc), {@code --streams 16},
 * {@code --tokens 20000} (per stream), {@code --rounds 3} (the best round is reported).
 */
public final class Bench {
  private static final List<String> SERVER_ARGS = List.of(
      "--graphs", "hypergraph_grpc.demo.testing:GRAPHS", "--provider", "offline");
  private static final long CLOCK_TICKS = 100; // USER_HZ: the unit of /proc/PID/stat times

  private Bench() {}

  /** One mode's figures. */
  record Measurement(long tokens, long messages, double seconds, double serverCpuUsPerToken) {
    double tokensPerS() {
      return tokens / seconds;
    }

    double messagesPerS() {
      return messages / seconds;
    }

    String json(String indent) {
      return String.format(Locale.ROOT, "{%n%s  \"tokens\": %d,%n%s  \"messages\": %d,%n"
              + "%s  \"seconds\": %.4f,%n%s  \"tokens_per_s\": %.1f,%n%s  \"messages_per_s\": %.1f,%n"
              + "%s  \"tokens_per_message\": %.3f%s%n%s}",
          indent, tokens, indent, messages, indent, seconds, indent, tokensPerS(), indent,
          messagesPerS(), indent, (double) tokens / messages,
          serverCpuUsPerToken < 0 ? "" : String.format(Locale.ROOT,
              ",%n%s  \"server_cpu_us_per_token\": %.3f", indent, serverCpuUsPerToken),
          indent);
    }
  }

  public static void main(String[] args) throws Exception {
    String target = null;
    int streams = 16;
    int tokens = 20000;
    int rounds = 3;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--target" -> target = args[++i];
        case "--streams" -> streams = Integer.parseInt(args[++i]);
        case "--tokens" -> tokens = Integer.parseInt(args[++i]);
        case "--rounds" -> rounds = Integer.parseInt(args[++i]);
        default -> throw new IllegalArgumentException("unknown option " + args[i]
            + "; use --target HOST:PORT, --streams N, --tokens N, --rounds N");
      }
    }
    LocalServer server = target == null ? LocalServer.start(SERVER_ARGS) : null;
    long pid = server == null ? -1 : server.pid();
    try (HypergraphClient client = HypergraphClient.connect(
        server == null ? target : server.target())) {
      // Warm up the connection, the JIT and the server's code paths.
      measure(client, streams, 2000, 2, false, pid);
      Measurement merged = measure(client, streams, tokens, rounds, false, pid);
      Measurement unmerged = measure(client, streams, tokens, rounds, true, pid);
      System.out.printf(Locale.ROOT, "{%n"
              + "  \"benchmark\": \"java client: concurrent Iter streams of the tokens graph\",%n"
              + "  \"client\": \"java\",%n"
              + "  \"java_version\": \"%s\",%n"
              + "  \"graph\": \"tokens\",%n"
              + "  \"streams\": %d,%n"
              + "  \"tokens_per_stream\": %d,%n"
              + "  \"rounds\": %d,%n"
              + "  \"tokens_per_s\": %.1f,%n"
              + "  \"messages_per_s\": %.1f,%n"
              + "  \"default\": %s,%n"
              + "  \"disable_merge\": %s,%n"
              + "  \"server_started_by\": \"%s\",%n"
              + "  \"merge_speedup\": %.3f%n"
              + "}%n",
          System.getProperty("java.version"), streams, tokens, rounds, merged.tokensPerS(),
          merged.messagesPerS(), merged.json("  "), unmerged.json("  "),
          server == null ? "caller" : "Bench", merged.tokensPerS() / unmerged.tokensPerS());
    } finally {
      if (server != null) {
        server.close();
      }
    }
  }

  /** Runs {@code rounds} rounds and keeps the one with the highest token rate. */
  static Measurement measure(HypergraphClient client, int streams, int tokens, int rounds,
      boolean disableMerge, long pid) throws Exception {
    Measurement best = null;
    for (int r = 0; r < rounds; r++) {
      double cpu0 = cpuSeconds(pid);
      Measurement m = round(client, streams, tokens, disableMerge);
      if (pid > 0) {
        m = new Measurement(m.tokens(), m.messages(), m.seconds(),
            (cpuSeconds(pid) - cpu0) * 1e6 / m.tokens());
      }
      if (best == null || m.tokensPerS() > best.tokensPerS()) {
        best = m;
      }
    }
    return best;
  }

  /** Starts {@code streams} Iter calls at once and waits for all their RunEnded events. */
  static Measurement round(HypergraphClient client, int streams, int tokens,
      boolean disableMerge) throws Exception {
    AtomicLong received = new AtomicLong();
    AtomicLong messages = new AtomicLong();
    RunOptions options = RunOptions.builder()
        .disableMerge(disableMerge)
        .deadline(Duration.ofMinutes(5))
        .build();
    Map<String, Object> values = Map.of("count", tokens, "prefix", "t");
    List<IterCall> calls = new ArrayList<>();
    long start = System.nanoTime();
    for (int i = 0; i < streams; i++) {
      calls.add(client.iterAsync("tokens", values, options, new StreamObserver<Event>() {
        @Override
        public void onNext(Event event) {
          int n = Events.chunkCount(event);
          if (n > 0) {
            received.addAndGet(n);
            messages.incrementAndGet();
          }
        }

        @Override
        public void onError(Throwable t) {}

        @Override
        public void onCompleted() {}
      }));
    }
    for (IterCall call : calls) {
      RunResult result = call.result().get(5, TimeUnit.MINUTES);
      if (result.status() != RunResult.Status.COMPLETED) {
        throw new IllegalStateException("a bench run did not complete: " + result);
      }
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    long expected = (long) streams * tokens;
    if (received.get() != expected) {
      throw new IllegalStateException("received " + received.get() + " tokens, expected "
          + expected + " (" + streams + " streams x " + tokens + ")");
    }
    return new Measurement(received.get(), messages.get(), seconds, -1);
  }

  /** User + system CPU seconds of a process, from /proc/PID/stat; 0 when unknown. */
  static double cpuSeconds(long pid) throws IOException {
    if (pid <= 0) {
      return 0;
    }
    String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
    // Fields after the parenthesised command name (which may hold spaces): utime is the 14th
    // field of the line, stime the 15th, i.e. the 12th and 13th after ") ".
    String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    return (Long.parseLong(fields[11]) + Long.parseLong(fields[12])) / (double) CLOCK_TICKS;
  }
}
