package dev.hypergraph.grpc.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.hypergraph.grpc.client.HypergraphClient;
import dev.hypergraph.grpc.client.SharedServer;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
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
