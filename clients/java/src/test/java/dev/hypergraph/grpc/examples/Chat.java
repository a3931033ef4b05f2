package dev.hypergraph.grpc.examples;

import dev.hypergraph.grpc.client.EventStream;
import dev.hypergraph.grpc.client.Events;
import dev.hypergraph.grpc.client.HypergraphClient;
import dev.hypergraph.grpc.client.HypergraphException;
import dev.hypergraph.grpc.client.LocalServer;
import dev.hypergraph.grpc.client.RunOptions;
import dev.hypergraph.grpc.client.RunResult;
import dev.hypergraph.grpc.v1.Event;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Streams one turn of the {@code chat} demo graph to stdout, token by token. Ctrl-C stops the
 * run on the server (Stop with {@code {"kind": "user_stop"}}) and prints what was generated
 * until the run ended.
 *
 * <pre>
 * mvn -q test-compile exec:java -Dexec.args="--target 127.0.0.1:50051 Tell me about hypergraphs"
 * mvn -q test-compile exec:java -Dexec.args="--local Tell me about hypergraphs"
 * </pre>
 *
 * Options: {@code --target HOST:PORT} (default 127.0.0.1:50051), {@code --local} (start the
 * repository's server with the demo and test graphs on a free port), {@code --graph NAME}
 * (default chat), {@code --input NAME} (the input that receives the prompt, default prompt),
 * {@code -i KEY=VALUE} (another input; integers, decimals, true/false and null are parsed).
 * For example a long stream to try Ctrl-C on:
 * {@code --local --graph tokens -i count=100000 -i delay_ms=20}.
 */
public final class Chat {
  /** The demo graphs (chat, rag, multi_turn) and the test graphs (tokens, sleep...). */
  private static final List<String> LOCAL_ARGS = List.of(
      "--graphs", "hypergraph_grpc.demo:GRAPHS", "--graphs", "hypergraph_grpc.demo.testing:GRAPHS");

  private Chat() {}

  /** An -i value: an integer, a decimal, true/false/null, else the text itself. */
  static Object parse(String text) {
    if (text.matches("-?\\d{1,15}")) {
      return Long.parseLong(text);
    }
    if (text.matches("-?\\d+\\.\\d*([eE][-+]?\\d+)?")) {
      return Double.parseDouble(text);
    }
    return switch (text) {
      case "true" -> Boolean.TRUE;
      case "false" -> Boolean.FALSE;
      case "null" -> null;
      default -> text;
    };
  }

  public static void main(String[] args) throws IOException, InterruptedException {
    String target = "127.0.0.1:50051";
    String graph = "chat";
    String input = "prompt";
    boolean local = false;
    List<String> words = new ArrayList<>();
    Map<String, Object> values = new LinkedHashMap<>();
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--target" -> target = args[++i];
        case "--graph" -> graph = args[++i];
        case "--input" -> input = args[++i];
        case "--local" -> local = true;
        case "-i" -> {
          String[] kv = args[++i].split("=", 2);
          values.put(kv[0], kv.length > 1 ? parse(kv[1]) : "");
        }
        default -> words.add(args[i]);
      }
    }
    if (words.isEmpty() && values.isEmpty()) {
      System.err.println("usage: Chat [--target HOST:PORT | --local] [--graph chat]"
          + " [--input prompt] [-i KEY=VALUE]... PROMPT...");
      System.exit(2);
    }
    if (!words.isEmpty()) {
      values.put(input, String.join(" ", words));
    }
    int code;
    if (local) {
      try (LocalServer server = LocalServer.start(LOCAL_ARGS)) {
        code = chat(server.target(), graph, values);
      }
    } else {
      code = chat(target, graph, values);
    }
    if (code != 0) {
      System.exit(code);
    }
  }

  /** Streams the run; returns the exit code (0 unless the call or the run failed). */
  static int chat(String target, String graph, Map<String, ?> values)
      throws InterruptedException {
    // Our own workflow id, so that Ctrl-C can stop the run even before its first event.
    String workflowId = "chat-" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
    CountDownLatch ended = new CountDownLatch(1);
    AtomicBoolean interrupted = new AtomicBoolean();
    try (HypergraphClient client = HypergraphClient.connect(target)) {
      Thread onCtrlC = new Thread(() -> {
        interrupted.set(true);
        System.err.println("\n[stopping " + workflowId + "]");
        try {
          client.stop(workflowId, Map.of("kind", "user_stop"));
          // Let the main thread print the rest of the stream and RunEnded before exit.
          ended.await(10, TimeUnit.SECONDS);
        } catch (HypergraphException | InterruptedException e) {
          System.err.println("[stop failed: " + e.getMessage() + "]");
        }
      }, "chat-ctrl-c");
      Runtime.getRuntime().addShutdownHook(onCtrlC);
      try {
        return stream(client, graph, values, workflowId);
      } finally {
        ended.countDown();
        if (!interrupted.get()) {
          Runtime.getRuntime().removeShutdownHook(onCtrlC);
        }
      }
    }
  }

  private static int stream(HypergraphClient client, String graph, Map<String, ?> values,
      String workflowId) {
    RunOptions options = RunOptions.builder().workflowId(workflowId).build();
    try (EventStream events = client.iter(graph, values, options)) {
      for (Event event : events) {
        String text = Events.text(event);
        if (text != null) {
          System.out.print(text);
          System.out.flush();
        }
      }
      System.out.println();
      RunResult result = events.result();
      if (result == null) {
        System.err.println("[the stream ended without a result]");
        return 1;
      }
      switch (result.status()) {
        case STOPPED -> System.err.println("[stopped: " + result.stopInfo() + "]");
        case FAILED -> {
          System.err.println("[failed: " + result.error() + "]");
          return 1;
        }
        default -> {
          if (!result.usage().isEmpty()) {
            System.err.println("[usage: " + result.usage() + "]");
          }
        }
      }
      return 0;
    } catch (HypergraphException e) {
      System.err.println("error: " + e.getMessage());
      return 1;
    }
  }
}
