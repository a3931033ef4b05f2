package dev.hypergraph.grpc.examples;

import dev.hypergraph.grpc.client.Events;
import dev.hypergraph.grpc.client.HypergraphClient;
import dev.hypergraph.grpc.client.IterCall;
import dev.hypergraph.grpc.client.LocalServer;
import dev.hypergraph.grpc.client.RunOptions;
import dev.hypergraph.grpc.client.RunResult;
import dev.hypergraph.grpc.v1.Event;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * How fast a Java client receives tokens: N concurrent Iter streams of the {@code tokens}
 * test graph (no delay between tokens), once with the server's default chunk merging and once
 * with {@code disable_merge} (one message per ctx.stream() call), and, as the baseline measured
 * in the same run by the same client, the bare grpc.aio servicer of bench/baseline_server.py
 * (one pre-built message per token). Prints one JSON object ({@code make bench-java} writes it
 * to bench/results/clients-java.json).
 *
 * <p>Options: {@code --target HOST:PORT} (use a running server; no baseline then; else the
 * repository's server is started with the test graphs and its CPU time per delivered token is
 * read from /proc), {@code --streams 16}, {@code --tokens 20000} (per stream),
 * {@code --rounds 3} (the best round is reported).
 */
public final class Bench {
  private static final List<String> SERVER_ARGS = List.of(
      "--graphs", "hypergraph_grpc.demo.testing:GRAPHS", "--provider", "offline");
  private static final long CLOCK_TICKS = 100; // USER_HZ: the unit of /proc/PID/stat times
  private static final Duration START_TIMEOUT = Duration.ofSeconds(60);

  private Bench() {}

  /** One mode's figures (the best round by tokens/s). */
  record Measurement(long tokens, long messages, double seconds, double serverCpuS,
      double clientCpuS) {
    double tokensPerS() {
      return tokens / seconds;
    }

    double messagesPerS() {
      return messages / seconds;
    }

    Map<String, Object> json() {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("tokens", tokens);
      m.put("messages", messages);
      m.put("seconds", seconds);
      m.put("tokens_per_s", tokensPerS());
      m.put("messages_per_s", messagesPerS());
      m.put("tokens_per_message", (double) tokens / messages);
      m.put("client_cpu_us_per_message", clientCpuS * 1e6 / messages);
      if (serverCpuS >= 0) {
        m.put("server_cpu_us_per_token", serverCpuS * 1e6 / tokens);
        m.put("server_cpu_us_per_message", serverCpuS * 1e6 / messages);
      }
      return m;
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
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("benchmark", "clients-java");
    out.put("description", "Java client (grpc-java, netty) reading concurrent Iter streams of"
        + " the tokens graph; ratios are against bare grpc.aio (bench/baseline_server.py) read"
        + " by the same client in the same run");
    out.put("client", "java");
    out.put("java_version", System.getProperty("java.version"));
    out.put("cores", Runtime.getRuntime().availableProcessors());
    out.put("graph", "tokens");
    out.put("streams", streams);
    out.put("tokens_per_stream", tokens);
    out.put("rounds", rounds);

    Measurement merged;
    Measurement unmerged;
    Measurement baseline = null;
    if (target != null) {
      merged = measure(target, -1, streams, tokens, rounds, false);
      unmerged = measure(target, -1, streams, tokens, rounds, true);
    } else {
      try (LocalServer server = LocalServer.start(LocalServer.defaultExecutable(), SERVER_ARGS,
          START_TIMEOUT)) {
        merged = measure(server.target(), server.pid(), streams, tokens, rounds, false);
        unmerged = measure(server.target(), server.pid(), streams, tokens, rounds, true);
      }
      try (LocalServer bare = LocalServer.startCommand(baselineCommand(), START_TIMEOUT)) {
        baseline = measure(bare.target(), bare.pid(), streams, tokens, rounds, false);
      }
    }
    out.put("tokens_per_s", merged.tokensPerS());
    out.put("messages_per_s", merged.messagesPerS());
    out.put("merge_speedup", merged.tokensPerS() / unmerged.tokensPerS());
    if (baseline != null) {
      Map<String, Object> tokenRatios = new LinkedHashMap<>();
      tokenRatios.put("hypergraph", merged.tokensPerS() / baseline.tokensPerS());
      tokenRatios.put("hypergraph_disable_merge", unmerged.tokensPerS() / baseline.tokensPerS());
      out.put("ratio_tokens_per_s_vs_baseline", tokenRatios);
      Map<String, Object> messageRatios = new LinkedHashMap<>();
      messageRatios.put("hypergraph", merged.messagesPerS() / baseline.messagesPerS());
      messageRatios.put("hypergraph_disable_merge",
          unmerged.messagesPerS() / baseline.messagesPerS());
      out.put("ratio_messages_per_s_vs_baseline", messageRatios);
    }
    Map<String, Object> runs = new LinkedHashMap<>();
    runs.put("hypergraph", merged.json());
    runs.put("hypergraph_disable_merge", unmerged.json());
    if (baseline != null) {
      runs.put("baseline_grpc_aio", baseline.json());
    }
    out.put("runs", runs);
    out.put("server_started_by", target == null ? "Bench" : "caller");
    StringBuilder sb = new StringBuilder();
    writeJson(sb, out, "");
    System.out.println(sb);
  }

  /** The bare grpc.aio baseline: the repository's .venv python running baseline_server.py. */
  static List<String> baselineCommand() {
    Path root = Paths.get(System.getProperty("hypergraph.root", "../..")).toAbsolutePath()
        .normalize();
    return List.of(root.resolve(".venv/bin/python").toString(),
        root.resolve("bench/baseline_server.py").toString(), "--host", "127.0.0.1", "--port",
        "0");
  }

  /** Warms up, then runs {@code rounds} rounds and keeps the one with the highest token rate. */
  static Measurement measure(String target, long pid, int streams, int tokens, int rounds,
      boolean disableMerge) throws Exception {
    // directExecutor: events are counted on the transport threads, without a hop to a pool
    // (grpc-java's advice for callbacks that never block).
    ManagedChannel channel = Grpc.newChannelBuilder(target, InsecureChannelCredentials.create())
        .directExecutor()
        .build();
    try (HypergraphClient client = new HypergraphClient(channel)) {
      round(client, streams, Math.min(tokens, 2000), disableMerge); // connection, JIT, server
      Measurement best = null;
      for (int r = 0; r < rounds; r++) {
        double server0 = cpuSeconds(pid);
        double client0 = ownCpuSeconds();
        Measurement m = round(client, streams, tokens, disableMerge);
        m = new Measurement(m.tokens(), m.messages(), m.seconds(),
            pid > 0 ? cpuSeconds(pid) - server0 : -1, ownCpuSeconds() - client0);
        if (best == null || m.tokensPerS() > best.tokensPerS()) {
          best = m;
        }
      }
      return best;
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
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
    StreamObserver<Event> counter = new StreamObserver<>() {
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
    };
    List<IterCall> calls = new ArrayList<>();
    long start = System.nanoTime();
    for (int i = 0; i < streams; i++) {
      calls.add(client.iterAsync("tokens", values, options, counter));
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
    return new Measurement(received.get(), messages.get(), seconds, -1, -1);
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

  /** This JVM's CPU seconds (every thread, including gRPC's). */
  static double ownCpuSeconds() {
    var os = ManagementFactory.getOperatingSystemMXBean();
    if (os instanceof com.sun.management.OperatingSystemMXBean sun) {
      return sun.getProcessCpuTime() / 1e9;
    }
    return 0;
  }

  /** A minimal JSON writer for the result: maps, strings, numbers. */
  static void writeJson(StringBuilder sb, Object value, String indent) {
    if (value instanceof Map<?, ?> map) {
      sb.append("{\n");
      int i = 0;
      for (Map.Entry<?, ?> e : map.entrySet()) {
        sb.append(indent).append("  \"").append(e.getKey()).append("\": ");
        writeJson(sb, e.getValue(), indent + "  ");
        sb.append(++i < map.size() ? ",\n" : "\n");
      }
      sb.append(indent).append('}');
    } else if (value instanceof String s) {
      sb.append('"').append(s.replace("\\", "\\\\").replace("\"", "\\\"")).append('"');
    } else if (value instanceof Double d) {
      sb.append(String.format(Locale.ROOT, "%.4f", d));
    } else {
      sb.append(value);
    }
  }
}
