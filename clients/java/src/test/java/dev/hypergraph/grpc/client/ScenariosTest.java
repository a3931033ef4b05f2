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
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.function.Executable;

/**
 * Runs every case of clients/scenarios.json against a real server started on a free port.
 * Cancel cases run once per Java cancellation: closing the EventStream, cancelling the
 * iterAsync handle, and cancelling a gRPC CancellableContext.
 */
class ScenariosTest {
  /** A bound on any wait of these tests, so that a hung server fails them instead. */
  private static final long WAIT_SECONDS = 60;

  private static Scenarios scenarios;
  private static String target;
  private static HypergraphClient client;

  @BeforeAll
  static void startServer() throws IOException {
    scenarios = Scenarios.load();
    target = SharedServer.target();
    client = HypergraphClient.connect(target);
  }

  @AfterAll
  static void closeClient() {
    if (client != null) {
      client.close();
    }
  }

  @TestFactory
  Stream<DynamicNode> scenarios() {
    assertFalse(scenarios.cases.isEmpty(), "no cases in " + Scenarios.path());
    return scenarios.cases.stream().map(ScenariosTest::node);
  }

  private static DynamicNode node(Scenarios.Case c) {
    switch (c.kind()) {
      case "list_graphs":
        return test(c.name(), () -> listGraphs(c));
      case "run":
        return test(c.name(), () -> run(c));
      case "iter":
        return test(c.name(), () -> iter(c));
      case "stop_mid_stream":
        return test(c.name(), () -> stopMidStream(c));
      case "watch_resume":
        return test(c.name(), () -> watchResume(c));
      case "watch_after_cut":
        return test(c.name(), () -> watchAfterCut(c));
      case "cancel":
        return DynamicContainer.dynamicContainer(c.name(), Stream.of(
            test(c.name() + "/close_event_stream", () -> cancelByClose(c)),
            test(c.name() + "/cancel_async_handle", () -> cancelAsync(c)),
            test(c.name() + "/cancel_grpc_context", () -> cancelContext(c))));
      default:
        return test(c.name(), () -> fail("unknown scenario kind '" + c.kind() + "' in "
            + Scenarios.path() + "; teach ScenariosTest.node about it"));
    }
  }

  /** A dynamic test that also prints its outcome, so the log names every case. */
  private static DynamicTest test(String name, Executable body) {
    return DynamicTest.dynamicTest(name, () -> {
      try {
        body.execute();
      } catch (Throwable t) {
        System.out.println("scenario " + name + ": FAILED: " + t.getMessage());
        throw t;
      }
      System.out.println("scenario " + name + ": passed");
    });
  }

  // --- kinds ---------------------------------------------------------------------------

  private static void listGraphs(Scenarios.Case c) {
    List<String> names = client.listGraphs().stream().map(GraphInfo::getName).toList();
    for (String expected : c.strings("expect_graphs_include")) {
      assertTrue(names.contains(expected), "ListGraphs lacks " + expected + ": " + names);
    }
    assertEquals(names.stream().sorted().toList(), names, "graphs are sorted by name");
  }

  private static void run(Scenarios.Case c) {
    if (c.has("expect_code")) {
      HypergraphException e = assertThrows(HypergraphException.class,
          () -> client.run(c.string("graph"), c.map("values"), options(c, null)));
      checkError(c, e);
      return;
    }
    checkResult(c, client.run(c.string("graph"), c.map("values"), options(c, null)));
  }

  private static void iter(Scenarios.Case c) {
    List<Event> events = new java.util.ArrayList<>();
    RunResult result;
    try (EventStream stream = client.iter(c.string("graph"), c.map("values"), options(c, null))) {
      stream.forEachRemaining(events::add);
      result = stream.result();
    }
    assertFalse(events.isEmpty(), "the stream sent no event");
    assertEquals(Event.KindCase.RUN_ENDED, events.get(events.size() - 1).getKindCase(),
        "the last event is RunEnded");
    String text = checkSequence(events);
    if (c.has("expect_text")) {
      assertEquals(c.string("expect_text"), text);
    }
    checkResult(c, result);
  }

  /** Starts the case's run under workflowId, detached, and leaves it going after RunStarted. */
  private static void startDetached(Scenarios.Case c, String workflowId) {
    RunOptions detached = RunOptions.builder().workflowId(workflowId).detach(true)
        .deadline(Duration.ofSeconds(WAIT_SECONDS)).build();
    try (EventStream started = client.iter(c.string("graph"), c.map("values"), detached)) {
      assertEquals(Event.KindCase.RUN_STARTED, started.next().getKindCase());
    } // detached: closing the stream leaves the run going
  }

  /** A detached run watched in part, then resumed after the last seq seen: every event once. */
  private static void watchResume(Scenarios.Case c) {
    String workflowId = uniqueId("watch");
    startDetached(c, workflowId);
    List<Event> events = new java.util.ArrayList<>();
    try (EventStream first = client.watch(workflowId, 0)) {
      while (events.size() < c.number("watch_first_events") && first.hasNext()) {
        events.add(first.next());
      }
    }
    RunResult result;
    try (EventStream rest = client.watch(workflowId, events.get(events.size() - 1).getSeq())) {
      rest.forEachRemaining(events::add);
      result = rest.result();
    }
    assertEquals(c.string("expect_text"), checkSequence(events));
    assertNotNull(result, "the resumed Watch ended with RunEnded");
    checkResult(c, result);
  }

  /**
   * A detached run watched through a TCP relay whose connections are reset mid-stream: the
   * same EventStream resumes by itself and holds every event once, in order.
   */
  private static void watchAfterCut(Scenarios.Case c) throws IOException {
    String workflowId = uniqueId("cut");
    startDetached(c, workflowId);
    long cutAfter = c.number("cut_after_events");
    List<Event> events = new java.util.ArrayList<>();
    RunResult[] result = new RunResult[1];
    try (TcpRelay relay = new TcpRelay(target);
         HypergraphClient watcher = HypergraphClient.connect(relay.address())) {
      int[] acceptedBeforeCut = {-1};
      // Bounded: a Watch that neither fails nor resumes after the cut fails the test.
      assertTimeoutPreemptively(Duration.ofSeconds(WAIT_SECONDS), () -> {
        try (EventStream watching = watcher.watch(workflowId, 0)) { // resumes by default
          while (watching.hasNext()) {
            events.add(watching.next());
            if (events.size() == cutAfter) {
              acceptedBeforeCut[0] = relay.accepted();
              relay.cut(); // the connection is lost mid-stream
            }
          }
          result[0] = watching.result();
        }
      });
      assertTrue(acceptedBeforeCut[0] >= 0, "the run ended after " + events.size()
          + " events, before the cut after " + cutAfter);
      assertTrue(relay.accepted() > acceptedBeforeCut[0],
          "the Watch never reconnected through the relay after the cut (the cut broke nothing)");
    }
    assertEquals(c.string("expect_text"), checkSequence(events));
    assertNotNull(result[0], "the resumed Watch ended with RunEnded");
    checkResult(c, result[0]);
  }

  /**
   * Checks the seq rule (seq advances by merged for a chunk, by 1 for other events: none
   * lost or repeated) and returns the streamed text.
   */
  private static String checkSequence(List<Event> events) {
    long seq = 0;
    StringBuilder text = new StringBuilder();
    for (Event event : events) {
      seq += event.getKindCase() == Event.KindCase.STREAMING_CHUNK
          ? Math.max(1, event.getStreamingChunk().getMerged()) : 1;
      assertEquals(seq, event.getSeq(), "seq = previous seq + merged, no other gaps");
      String t = Events.text(event);
      if (t != null) {
        text.append(t);
      }
    }
    return text.toString();
  }

  private static void stopMidStream(Scenarios.Case c) {
    long stopAfter = c.number("stop_after_chunks");
    StringBuilder text = new StringBuilder();
    long chunks = 0;
    StopOutcome stop = null;
    try (EventStream events = client.iter(c.string("graph"), c.map("values"), options(c, null));
         HypergraphClient second = HypergraphClient.connect(target)) {
      for (Event event : events) {
        String t = Events.text(event);
        if (t == null) {
          continue;
        }
        text.append(t);
        chunks += Events.chunkCount(event);
        if (stop == null && chunks >= stopAfter) {
          stop = second.stop(event.getWorkflowId(), c.map("stop_info"));
          if (c.has("expect_stop_found")) {
            assertEquals(c.get("expect_stop_found"), stop.found(), "StopResponse.found");
          }
          if (c.has("expect_stop_state")) {
            assertEquals(c.string("expect_stop_state"), stop.state().name(), "StopResponse.state");
          }
        }
      }
      assertNotNull(stop, "the run ended after " + chunks + " chunks, before the stop");
      RunResult result = events.result();
      assertNotNull(result, "the stream ended without RunEnded");
      checkResult(c, result);
      if (stop.found()) {
        assertEquals(result.runId(), stop.runId(), "StopResponse.run_id is the stream's run");
      }
      if (c.has("expect_partial_output")) {
        assertEquals(text.toString(), result.get(c.string("expect_partial_output")),
            "the output holds exactly the text streamed");
      }
    }
  }

  /** Cancel by closing the blocking EventStream (try-with-resources leaving the loop). */
  @SuppressWarnings("try") // the explicit close() inside try is what is tested
  private static void cancelByClose(Scenarios.Case c) throws InterruptedException {
    String workflowId = uniqueId("close");
    long after = c.number("cancel_after_chunks");
    long chunks = 0;
    try (EventStream events = client.iter(c.string("graph"), c.map("values"),
        options(c, workflowId))) {
      while (chunks < after) {
        assertTrue(events.hasNext(), "the run ended before " + after + " chunks");
        chunks += Events.chunkCount(events.next());
      }
      events.close();
      assertFalse(events.hasNext(), "a closed stream has no more events");
    }
    probe(c, workflowId);
  }

  /** Cancel through the iterAsync handle, from the observer's own callback. */
  private static void cancelAsync(Scenarios.Case c) throws Exception {
    String workflowId = uniqueId("async");
    long after = c.number("cancel_after_chunks");
    AtomicInteger chunks = new AtomicInteger();
    CompletableFuture<Throwable> ended = new CompletableFuture<>();
    IterCall[] call = new IterCall[1];
    CompletableFuture<IterCall> started = new CompletableFuture<>();
    call[0] = client.iterAsync(c.string("graph"), c.map("values"), options(c, workflowId),
        new StreamObserver<Event>() {
          @Override
          public void onNext(Event event) {
            if (chunks.addAndGet(Events.chunkCount(event)) >= after) {
              started.join().cancel();
            }
          }

          @Override
          public void onError(Throwable t) {
            ended.complete(t);
          }

          @Override
          public void onCompleted() {
            ended.complete(null);
          }
        });
    started.complete(call[0]);
    Throwable t = ended.get(WAIT_SECONDS, TimeUnit.SECONDS);
    assertNotNull(t, "the stream completed although it was cancelled");
    assertEquals(Status.Code.CANCELLED, HypergraphException.from(t).code());
    assertTrue(call[0].result().isCompletedExceptionally());
    probe(c, workflowId);
  }

  /** Cancel the caller's gRPC CancellableContext that the call was made in. */
  private static void cancelContext(Scenarios.Case c) throws Exception {
    String workflowId = uniqueId("context");
    long after = c.number("cancel_after_chunks");
    Context.CancellableContext context = Context.current().withCancellation();
    HypergraphException e = context.call(() -> {
      try (EventStream events = client.iter(c.string("graph"), c.map("values"),
          options(c, workflowId))) {
        long chunks = 0;
        while (events.hasNext()) {
          chunks += Events.chunkCount(events.next());
          if (chunks >= after) {
            context.cancel(null);
          }
        }
        return null;
      } catch (HypergraphException cancelled) {
        return cancelled;
      }
    });
    assertNotNull(e, "the stream ended normally although its context was cancelled");
    assertEquals(Status.Code.CANCELLED, e.code());
    probe(c, workflowId);
  }

  // --- checks --------------------------------------------------------------------------

  /**
   * Runs the probe graph under the cancelled run's workflow id, retrying while the server
   * answers retry_code (the id is still running). It succeeds only once the run has ended.
   */
  private static void probe(Scenarios.Case c, String workflowId) throws InterruptedException {
    Scenarios.Case probe = c.sub("probe");
    Status.Code retry = Status.Code.valueOf(probe.string("retry_code"));
    long giveUp = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(probe.number("within_ms"));
    RunOptions options = RunOptions.builder().workflowId(workflowId).build();
    while (true) {
      try {
        RunResult result = client.run(probe.string("graph"), probe.map("values"), options);
        assertEquals(RunResult.Status.COMPLETED, result.status(), result.toString());
        return;
      } catch (HypergraphException e) {
        if (e.code() != retry) {
          throw e;
        }
        if (System.nanoTime() > giveUp) {
          fail("workflow " + workflowId + " still runs " + probe.number("within_ms")
              + " ms after the client cancelled it: " + e.getMessage());
        }
        Thread.sleep(20);
      }
    }
  }

  private static void checkResult(Scenarios.Case c, RunResult result) {
    assertNotNull(result, "no RunResult");
    if (c.has("expect_status")) {
      assertEquals(c.string("expect_status"), result.status().name(), result.toString());
    }
    if (c.has("expect_values")) {
      assertEquals(c.map("expect_values"), result.values());
    }
    if (c.has("expect_error_type")) {
      assertNotNull(result.error(), "a FAILED run has an error: " + result);
      assertEquals(c.string("expect_error_type"), result.error().type());
    }
    if (c.has("expect_error_message_contains")) {
      assertTrue(result.error().message().contains(c.string("expect_error_message_contains")),
          result.error().message());
    }
    if (c.has("expect_stop_info")) {
      assertEquals(c.map("expect_stop_info"), result.stopInfo());
    }
  }

  private static void checkError(Scenarios.Case c, HypergraphException e) {
    assertEquals(c.string("expect_code"), e.code().name(), e.getMessage());
    if (c.has("expect_message_contains")) {
      assertTrue(e.description().contains(c.string("expect_message_contains")),
          e.description());
    }
    if (c.has("expect_error_reason")) {
      assertEquals(c.string("expect_error_reason"), e.reason(), e.getMessage());
      assertEquals("hypergraph.dev", e.domain(), "ErrorInfo.domain");
    }
    if (c.has("expect_field_violation")) {
      List<String> fields = e.fieldViolations().stream()
          .map(HypergraphException.FieldViolation::field).collect(Collectors.toList());
      assertTrue(fields.contains(c.string("expect_field_violation")),
          "field violations " + fields + " lack " + c.string("expect_field_violation"));
    }
  }

  private static RunOptions options(Scenarios.Case c, String workflowId) {
    RunOptions.Builder b = RunOptions.builder().workflowId(workflowId);
    if (c.has("deadline_ms")) {
      b.deadline(Duration.ofMillis(c.number("deadline_ms")));
    } else {
      // Not a timing assertion: a bound so a hung server fails the test instead of hanging it.
      b.deadline(Duration.ofSeconds(WAIT_SECONDS));
    }
    return b.build();
  }

  private static String uniqueId(String label) {
    return "java-" + label + "-" + UUID.randomUUID().toString().substring(0, 8);
  }
}
