package dev.hypergraph.grpc.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.hypergraph.grpc.v1.Event;
import dev.hypergraph.grpc.v1.GraphInfo;
import dev.hypergraph.grpc.v1.InputInfo;
import io.grpc.Status;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Behaviour of the Java wrapper beyond the shared scenarios, against a real server. */
class ClientLiveTest {
  private static final Map<String, Object> LONG_STREAM =
      Map.of("count", 100000, "delay_ms", 5, "prefix", "d");
  private static final RunOptions BOUNDED =
      RunOptions.builder().deadline(Duration.ofSeconds(60)).build();

  private static String target;
  private static HypergraphClient client;

  @BeforeAll
  static void startServer() throws IOException {
    target = SharedServer.target();
    client = HypergraphClient.connect(target);
  }

  @AfterAll
  static void closeClient() {
    if (client != null) {
      client.close();
    }
  }

  @Test
  void listGraphsDescribesInputs() {
    GraphInfo add = client.listGraphs().stream()
        .filter(g -> g.getName().equals("add")).findFirst().orElseThrow();
    List<String> required = add.getInputsList().stream()
        .filter(InputInfo::getRequired).map(InputInfo::getName).collect(Collectors.toList());
    assertEquals(List.of("a", "b"), required);
    assertEquals("sum", add.getOutputs(0).getName());
  }

  @Test
  void runKeepsTheGivenWorkflowIdAndSelect() {
    String id = "java-run-" + UUID.randomUUID().toString().substring(0, 8);
    RunResult r = client.run("add", Map.of("a", 1, "b", 2),
        BOUNDED.toBuilder().workflowId(id).select("sum").build());
    assertEquals(id, r.workflowId());
    assertEquals(Map.of("sum", 3L), r.values());
    assertFalse(r.runId().isEmpty());
  }

  @Test
  void streamTextYieldsTheTokens() {
    try (Stream<String> tokens = client.streamText("tokens",
        Map.of("count", 5, "prefix", "x"), BOUNDED)) {
      assertEquals("x0 x1 x2 x3 x4 ", tokens.collect(Collectors.joining()));
    }
  }

  @Test
  void theTextViewLeavesOutTheNodeLifecycle() {
    Set<Event.KindCase> kinds = new HashSet<>();
    try (EventStream events = client.iter("tokens", Map.of("count", 3),
        BOUNDED.toBuilder().textView(true).build())) {
      for (Event event : events) {
        kinds.add(event.getKindCase());
      }
    }
    assertEquals(Set.of(Event.KindCase.RUN_STARTED, Event.KindCase.STREAMING_CHUNK,
        Event.KindCase.RUN_ENDED), kinds);
  }

  @Test
  void oneCatchClauseCoversAFailedCallAndAFailedRun() {
    List<Class<?>> caught = new ArrayList<>();
    for (String graph : List.of("no_such_graph", "fail")) {
      try (Stream<String> tokens = client.streamText(graph, Map.of("message", "boom"),
          BOUNDED)) {
        tokens.forEach(t -> { });
      } catch (HypergraphClientException e) {
        caught.add(e.getClass());
      }
    }
    assertEquals(List.of(HypergraphException.class, RunFailedException.class), caught);
  }

  @Test
  void streamTextOfAFailedRunThrowsWithTheResult() {
    RunFailedException e = assertThrows(RunFailedException.class, () -> {
      try (Stream<String> tokens = client.streamText("fail", Map.of("message", "boom"),
          BOUNDED)) {
        tokens.forEach(t -> { });
      }
    });
    assertEquals(RunResult.Status.FAILED, e.result().status());
    assertEquals("ValueError", e.result().error().type());
    assertTrue(e.getMessage().contains("boom"), e.getMessage());
  }

  @Test
  void iterOfAnUnknownGraphThrowsNotFound() {
    try (EventStream events = client.iter("no_such_graph", Map.of(), BOUNDED)) {
      HypergraphException e = assertThrows(HypergraphException.class, events::hasNext);
      assertEquals(Status.Code.NOT_FOUND, e.code());
      assertEquals("GRAPH_NOT_FOUND", e.reason());
      assertFalse(events.hasNext(), "a failed stream has ended");
    }
  }

  @Test
  void badInputValuesFailBeforeAnyCall() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> client.run("echo", Map.of("value", new Object())));
    assertTrue(e.getMessage().contains("values.value"), e.getMessage());
  }

  @Test
  void watchOfAnUnknownWorkflowIsNotFound() {
    try (EventStream events = client.watch("java-nobody-here", 0)) {
      HypergraphException e = assertThrows(HypergraphException.class, events::hasNext);
      assertEquals(Status.Code.NOT_FOUND, e.code(), e.getMessage());
    }
  }

  @Test
  void listRunsShowsALiveRun() {
    String workflowId = "java-listed-" + UUID.randomUUID().toString().substring(0, 8);
    RunOptions detached = RunOptions.builder().workflowId(workflowId).detach(true).build();
    try (EventStream events = client.iter("tokens", Map.of("count", 100000, "delay_ms", 5), detached)) {
      events.next(); // RunStarted; detached, so closing leaves the run going
    }
    try {
      RunSummary listed = client.listRuns("tokens").stream()
          .filter(r -> r.workflowId().equals(workflowId)).findFirst().orElseThrow();
      assertEquals("tokens", listed.graph());
      assertFalse(listed.stopping(), listed.toString());
      assertFalse(listed.owner().isEmpty() || listed.runId().isEmpty(), listed.toString());
    } finally {
      client.stop(workflowId);
    }
  }

  @Test
  void stopOfAnUnknownWorkflowIsNotFound() {
    StopOutcome outcome = client.stop("java-nobody-" + UUID.randomUUID().toString().substring(0, 8));
    assertFalse(outcome.found(), outcome.toString());
    assertEquals("", outcome.runId());
    assertEquals(StopOutcome.State.UNSPECIFIED, outcome.state());
  }

  /**
   * A Watch whose connection is lost before its first event resumes after the caller's own
   * afterSeq: the server answers a Watch's headers as soon as it accepts it, the relay's
   * reset then fails the call UNAVAILABLE, and the stream calls Watch again after afterSeq
   * (not after 0, and not giving up). The run is quiet (its next token is 10 s away), so the
   * only events after afterSeq are the ones of the Stop sent right after the cut.
   */
  @Test
  void aWatchCutBeforeItsFirstEventResumesAfterItsAfterSeq() throws Exception {
    String id = "java-quiet-" + UUID.randomUUID().toString().substring(0, 8);
    RunOptions detached = BOUNDED.toBuilder().workflowId(id).detach(true).build();
    long afterSeq;
    try (EventStream events = client.iter("tokens", Map.of("count", 3, "delay_ms", 10000),
        detached)) {
      Event event = events.next();
      while (!event.hasStreamingChunk()) { // the first token comes at once, the next in 10 s
        event = events.next();
      }
      afterSeq = event.getSeq();
    } // detached: the run goes on
    List<Event> seen = new ArrayList<>();
    try (TcpRelay relay = new TcpRelay(target);
         HypergraphClient watcher = HypergraphClient.connect(relay.address())) {
      watcher.listGraphs(); // the relay's connection is up
      int acceptedBeforeCut = relay.accepted();
      RunResult result;
      try (EventStream watching = watcher.watch(id, afterSeq)) { // resumes by default
        Thread.sleep(300); // the Watch is open and waits for its first event...
        relay.cut(); // ...when its connection is lost
        // From the main client, right after the cut; a grace ends the node's 10 s sleep
        // instead of waiting it out.
        StopOutcome stop = client.stop(id, Map.of("kind", "test"), Duration.ofMillis(100));
        assertTrue(stop.found(), stop.toString());
        // Bounded: a Watch that neither fails nor resumes after the cut fails the test.
        assertTimeoutPreemptively(Duration.ofSeconds(60),
            () -> watching.forEachRemaining(seen::add));
        result = watching.result();
      } finally {
        client.stop(id, Map.of(), Duration.ZERO); // never leave the quiet run going
      }
      assertTrue(relay.accepted() > acceptedBeforeCut,
          "the Watch never reconnected through the relay after the cut");
      assertFalse(seen.isEmpty(), "the resumed Watch returned no event");
      assertEquals(afterSeq + 1, seen.get(0).getSeq(), "resumed exactly after afterSeq");
      Set<Event.KindCase> kinds = seen.stream().map(Event::getKindCase).collect(Collectors.toSet());
      assertTrue(kinds.contains(Event.KindCase.STOP_REQUESTED), kinds.toString());
      assertEquals(Event.KindCase.RUN_ENDED, seen.get(seen.size() - 1).getKindCase());
      assertNotNull(result, "the Watch read RunEnded");
      assertEquals(RunResult.Status.STOPPED, result.status());
    }
  }

  /** An Iter past its deadline throws DEADLINE_EXCEEDED, and the server ends the run. */
  @Test
  void iterPastItsDeadlineEndsTheStreamAndTheRun() throws InterruptedException {
    String id = "java-deadline-" + UUID.randomUUID().toString().substring(0, 8);
    RunOptions shortDeadline =
        RunOptions.builder().workflowId(id).deadline(Duration.ofMillis(300)).build();
    try (EventStream events = client.iter("tokens", LONG_STREAM, shortDeadline)) {
      HypergraphException e = assertThrows(HypergraphException.class, () -> {
        while (events.hasNext()) {
          assertFalse(events.next().hasRunEnded(), "the run ended before its deadline");
        }
      });
      assertEquals(Status.Code.DEADLINE_EXCEEDED, e.code(), e.getMessage());
    }
    awaitWorkflowFree(id);
  }

  /** Runs `add` under the workflow id until the server accepts it: the old run has ended. */
  private static void awaitWorkflowFree(String id) throws InterruptedException {
    RunOptions sameId = BOUNDED.toBuilder().workflowId(id).build();
    long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (true) {
      try {
        assertEquals(RunResult.Status.COMPLETED,
            client.run("add", Map.of("a", 1, "b", 1), sameId).status());
        return;
      } catch (HypergraphException e) {
        if (e.code() != Status.Code.ALREADY_EXISTS || System.nanoTime() > giveUp) {
          fail("the run " + id + " did not end: " + e.getMessage());
        }
        Thread.sleep(20);
      }
    }
  }

  /** A detached stream's run outlives the stream; Stop (with grace) ends it. */
  @Test
  void detachedRunOutlivesItsStream() throws InterruptedException {
    String id = "java-detach-" + UUID.randomUUID().toString().substring(0, 8);
    RunOptions detached = BOUNDED.toBuilder().workflowId(id).detach(true).build();
    try (EventStream events = client.iter("tokens", LONG_STREAM, detached)) {
      int chunks = 0;
      while (chunks < 3 && events.hasNext()) {
        chunks += Events.chunkCount(events.next());
      }
      assertTrue(chunks >= 3, "the run ended early");
    }
    RunOptions sameId = BOUNDED.toBuilder().workflowId(id).build();
    Map<String, Object> probe = Map.of("a", 1, "b", 1);
    HypergraphException busy = assertThrows(HypergraphException.class,
        () -> client.run("add", probe, sameId));
    assertEquals(Status.Code.ALREADY_EXISTS, busy.code(), busy.getMessage());

    StopOutcome outcome = client.stop(id, Map.of("kind", "test"), Duration.ofSeconds(1));
    assertTrue(outcome.found(), outcome.toString());
    assertEquals(StopOutcome.State.STOPPING, outcome.state());
    assertFalse(outcome.runId().isEmpty(), "the run id of the stopped run");
    long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (true) {
      try {
        assertEquals(RunResult.Status.COMPLETED, client.run("add", probe, sameId).status());
        return;
      } catch (HypergraphException e) {
        if (e.code() != Status.Code.ALREADY_EXISTS || System.nanoTime() > giveUp) {
          fail("the stopped run did not end: " + e.getMessage());
        }
        Thread.sleep(20);
      }
    }
  }
}
