package dev.hypergraph.grpc.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.hypergraph.grpc.client.HypergraphClient;
import dev.hypergraph.grpc.client.SharedServer;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Paths;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The examples against the real server: Chat prints the stream, Bench counts every token. */
class ExamplesTest {
  @Test
  void chatPrintsTheStreamedText() throws Exception {
    String target = SharedServer.target();
    PrintStream stdout = System.out;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    int code;
    try {
      System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
      code = Chat.chat(target, "tokens", Map.of("count", 3, "prefix", "e"));
    } finally {
      System.setOut(stdout);
    }
    assertEquals(0, code);
    assertEquals("e0 e1 e2 " + System.lineSeparator(),
        captured.toString(StandardCharsets.UTF_8));
  }

  /**
   * Chat as a real JVM process: SIGINT after the first tokens sends Stop, the run ends STOPPED
   * with user_stop and the process exits 130 (the JVM's exit status after a SIGINT shutdown).
   */
  @Test
  void ctrlCInChatStopsTheRun() throws Exception {
    String java = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
    Process chat = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
        Chat.class.getName(), "--target", SharedServer.target(), "--graph", "tokens",
        "-i", "count=100000", "-i", "delay_ms=5", "-i", "prefix=j").start();
    try {
      CompletableFuture<String> stderr = readAll(chat.getErrorStream());
      InputStream stdout = chat.getInputStream();
      byte[] first = stdout.readNBytes(3);
      assertEquals("j0 ", new String(first, StandardCharsets.UTF_8), "the run is streaming");
      CompletableFuture<String> rest = readAll(stdout); // keep the pipe drained
      Process kill = new ProcessBuilder("kill", "-INT", Long.toString(chat.pid())).start();
      assertEquals(0, kill.waitFor());
      // Not a timing assertion: a bound so that an ignored Ctrl-C fails instead of hanging.
      if (!chat.waitFor(60, TimeUnit.SECONDS)) {
        fail("Chat still streams 60 s after SIGINT; stderr: " + stderr.getNow(""));
      }
      String err = stderr.get(10, TimeUnit.SECONDS);
      assertEquals(130, chat.exitValue(), err);
      assertTrue(err.contains("[stopped: {kind=user_stop}]"), err);
      assertTrue(!rest.get(10, TimeUnit.SECONDS).contains("j99999"), "the run was not stopped");
    } finally {
      chat.destroyForcibly();
    }
  }

  private static CompletableFuture<String> readAll(InputStream in) {
    return CompletableFuture.supplyAsync(() -> {
      try {
        return new String(in.readAllBytes(), StandardCharsets.UTF_8);
      } catch (java.io.IOException e) {
        return "(unreadable: " + e + ")";
      }
    });
  }

  @Test
  void chatFailsOnAFailedRun() throws Exception {
    assertEquals(1, Chat.chat(SharedServer.target(), "fail", Map.of("message", "boom")));
  }

  @Test
  void chatParsesInputValues() {
    assertEquals(12L, Chat.parse("12"));
    assertEquals(-1.5, Chat.parse("-1.5"));
    assertEquals(Boolean.TRUE, Chat.parse("true"));
    assertNull(Chat.parse("null"));
    assertEquals("hello world", Chat.parse("hello world"));
    assertEquals("1234567890123456789", Chat.parse("1234567890123456789"));
  }

  @Test
  void benchRoundCountsEveryToken() throws Exception {
    try (HypergraphClient client = HypergraphClient.connect(SharedServer.target())) {
      Bench.Measurement merged = Bench.round(client, 4, 500, false);
      assertEquals(2000, merged.tokens());
      Bench.Measurement unmerged = Bench.round(client, 4, 100, true);
      assertEquals(400, unmerged.tokens());
      assertEquals(400, unmerged.messages(), "disable_merge sends one message per token");
    }
  }
}
