package dev.hypergraph.grpc.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.hypergraph.grpc.v1.Event;
import dev.hypergraph.grpc.v1.EventsLost;
import dev.hypergraph.grpc.v1.RunEnded;
import dev.hypergraph.grpc.v1.RunStatus;
import dev.hypergraph.grpc.v1.StreamingChunk;
import io.grpc.Context;
import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.function.LongFunction;
import org.junit.jupiter.api.Test;

/**
 * How a Watch EventStream resumes, against scripted calls instead of a server: which errors
 * resume it, after which seq, how many failed attempts in a row it takes, and that close()
 * and a cancelled context end it. (ScenariosTest's watch_after_cut case does it for real,
 * through a TCP relay whose connections are reset.)
 */
class EventStreamResumeTest {
  private static final Status LOST = Status.UNAVAILABLE.withDescription("connection reset");

  @Test
  void resumesAfterTheLastSeqReturnedWithoutLossOrRepeat() {
    Calls calls = new Calls(List.of(
        call(LOST, chunk(1), chunk(2)),
        call(LOST), // a failed attempt: no event
        call(LOST, lost(5), chunk(6)), // the server no longer keeps 3..5: EventsLost first
        call(null, ended(7))));
    EventStream stream = calls.stream(0);
    List<Long> seqs = new ArrayList<>();
    stream.forEachRemaining(e -> seqs.add(e.getSeq()));
    assertEquals(List.of(1L, 2L, 5L, 6L, 7L), seqs);
    assertEquals(List.of(0L, 2L, 2L, 6L), calls.afterSeqs);
    assertEquals(RunResult.Status.COMPLETED, stream.result().status());
    assertEquals(7, stream.lastSeq());
  }

  @Test
  void resumesFromTheStartingSeqWhenNothingWasReturnedYet() {
    Calls calls = new Calls(List.of(call(LOST), call(null, ended(11))));
    EventStream stream = calls.stream(10);
    assertEquals(10, stream.lastSeq());
    assertEquals(11, stream.next().getSeq());
    assertFalse(stream.hasNext());
    assertEquals(List.of(10L, 10L), calls.afterSeqs);
  }

  @Test
  void givesUpAfterSixFailedAttemptsInARowWithTheLastError() {
    List<Iterator<Event>> script = new ArrayList<>();
    script.add(call(LOST, chunk(1)));
    script.add(call(LOST, chunk(2))); // delivered an event: the count starts again
    for (int i = 1; i <= 6; i++) {
      script.add(call(Status.UNAVAILABLE.withDescription("attempt " + i)));
    }
    Calls calls = new Calls(script);
    EventStream stream = calls.stream(0);
    assertEquals(1, stream.next().getSeq());
    assertEquals(2, stream.next().getSeq());
    HypergraphException e = assertThrows(HypergraphException.class, stream::hasNext);
    assertEquals(Status.Code.UNAVAILABLE, e.code());
    assertEquals("attempt 6", e.description());
    assertEquals(List.of(0L, 1L, 2L, 2L, 2L, 2L, 2L, 2L), calls.afterSeqs);
    assertFalse(stream.hasNext(), "a failed stream is over");
  }

  @Test
  void otherErrorsEndTheStreamAsBefore() {
    for (Status status : List.of(Status.NOT_FOUND, Status.INTERNAL, Status.DEADLINE_EXCEEDED,
        Status.CANCELLED, Status.UNKNOWN)) {
      Calls calls = new Calls(List.of(call(status, chunk(1))));
      EventStream stream = calls.stream(0);
      stream.next();
      HypergraphException e = assertThrows(HypergraphException.class, stream::hasNext);
      assertEquals(status.getCode(), e.code());
      assertEquals(List.of(0L), calls.afterSeqs, "no new Watch after " + status.getCode());
    }
  }

  @Test
  void neverResumesAfterRunEnded() {
    Calls calls = new Calls(List.of(call(LOST, chunk(1), ended(2))));
    EventStream stream = calls.stream(0);
    stream.next();
    stream.next();
    HypergraphException e = assertThrows(HypergraphException.class, stream::hasNext);
    assertEquals(Status.Code.UNAVAILABLE, e.code());
    assertEquals(List.of(0L), calls.afterSeqs);
  }

  @Test
  void withoutResumeUnavailableEndsTheStream() {
    Calls calls = new Calls(List.of(call(LOST, chunk(1))));
    EventStream stream = new EventStream(Context.current().withCancellation(),
        calls.apply(0), null, 0);
    stream.next();
    HypergraphException e = assertThrows(HypergraphException.class, stream::hasNext);
    assertEquals(Status.Code.UNAVAILABLE, e.code());
    assertEquals(List.of(0L), calls.afterSeqs);
  }

  @Test
  void closingDuringTheWaitEndsTheStreamQuietly() throws Exception {
    CountDownLatch fifthFailed = new CountDownLatch(1);
    Calls calls = new Calls(untilTheLongWait(fifthFailed));
    EventStream stream = calls.stream(0);
    Reading reading = Reading.start(stream);
    reading.awaitTheLongWait(fifthFailed);
    stream.close();
    assertFalse(reading.endsWithinBound(),
        "a stream closed while it waits to resume ends quietly");
    assertFalse(stream.hasNext());
    assertEquals(5, calls.afterSeqs.size(), "no new Watch after close()");
  }

  @Test
  void cancellingTheCallersContextDuringTheWaitFailsCancelled() throws Exception {
    Context.CancellableContext caller = Context.current().withCancellation();
    CountDownLatch fifthFailed = new CountDownLatch(1);
    Calls calls = new Calls(untilTheLongWait(fifthFailed));
    EventStream stream = caller.call(() -> calls.stream(0));
    Reading reading = Reading.start(stream);
    reading.awaitTheLongWait(fifthFailed);
    caller.cancel(null);
    HypergraphException e = assertThrows(HypergraphException.class,
        reading::endsWithinBound);
    assertEquals(Status.Code.CANCELLED, e.code(), "the new Watch in the cancelled context");
    assertFalse(stream.hasNext());
  }

  @Test
  void anInterruptDuringTheWaitCancelsTheStream() {
    Calls calls = new Calls(List.of(call(LOST, chunk(1)), call(null, ended(2))));
    EventStream stream = calls.stream(0);
    stream.next();
    Thread.currentThread().interrupt();
    try {
      HypergraphException e = assertThrows(HypergraphException.class, stream::hasNext);
      assertEquals(Status.Code.CANCELLED, e.code());
      assertInstanceOf(InterruptedException.class, e.getCause());
      assertTrue(Thread.currentThread().isInterrupted(), "the interrupt is kept");
      assertEquals(List.of(0L), calls.afterSeqs);
    } finally {
      Thread.interrupted();
    }
  }

  @Test
  void watchOptionsDefaultToResume() {
    assertTrue(WatchOptions.DEFAULT.resume());
    assertFalse(WatchOptions.builder().resume(false).build().resume());
    WatchOptions off = WatchOptions.builder().resume(false).build();
    assertEquals(off, off.toBuilder().build());
  }

  // --- a wait ended by close() or a cancelled context --------------------------------

  /**
   * Four failed calls (waits of 0.1, 0.2, 0.4 and 0.8 s after them), then a fifth that
   * counts {@code failed} down as it fails: the wait in progress after it is 1.6 s, which
   * {@link #ENDS_WITHIN} is well below. (A wait that ignored close() or the cancel would
   * still end by itself after 1.6 s, and pass a test that only waits for it.)
   */
  private static List<Iterator<Event>> untilTheLongWait(CountDownLatch failed) {
    Iterator<Event> signalling = new Iterator<>() {
      @Override
      public boolean hasNext() {
        failed.countDown();
        throw LOST.asRuntimeException();
      }

      @Override
      public Event next() {
        throw new NoSuchElementException();
      }
    };
    return List.of(call(LOST), call(LOST), call(LOST), call(LOST), signalling,
        call(null, ended(1)));
  }

  /** Far below the 1.6 s wait being ended, far above what ending it takes. */
  private static final Duration ENDS_WITHIN = Duration.ofMillis(800);

  /** {@code stream.hasNext()} called on a thread of its own. */
  private record Reading(Thread thread, FutureTask<Boolean> hasNext) {
    static Reading start(EventStream stream) {
      FutureTask<Boolean> hasNext = new FutureTask<>(stream::hasNext);
      Thread thread = new Thread(hasNext, "event-stream-reader");
      thread.setDaemon(true);
      thread.start();
      return new Reading(thread, hasNext);
    }

    /** Waits until the fifth call has failed and the reader waits to resume. */
    void awaitTheLongWait(CountDownLatch fifthFailed) throws InterruptedException {
      assertTrue(fifthFailed.await(60, TimeUnit.SECONDS), "the fifth call never failed");
      long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (thread.getState() != Thread.State.TIMED_WAITING && !hasNext.isDone()) {
        assertTrue(System.nanoTime() < giveUp, "the reader never started waiting");
        Thread.sleep(1);
      }
    }

    /** What hasNext() returned (or threw), waiting for it at most {@link #ENDS_WITHIN}. */
    boolean endsWithinBound() {
      return assertTimeoutPreemptively(ENDS_WITHIN, () -> {
        try {
          return hasNext.get();
        } catch (ExecutionException e) {
          throw e.getCause();
        }
      }, "the wait to resume went on after it was ended");
    }
  }

  // --- scripted calls ------------------------------------------------------------------

  /**
   * Watch calls played from a script, one per (re)open, noting each after_seq. Like a real
   * call, one started in a cancelled context fails CANCELLED.
   */
  private static final class Calls implements LongFunction<Iterator<Event>> {
    final List<Long> afterSeqs = new ArrayList<>();
    private final Deque<Iterator<Event>> script = new ArrayDeque<>();

    Calls(List<Iterator<Event>> calls) {
      script.addAll(calls);
    }

    /** A resumable stream whose first call is the script's first, after {@code afterSeq}. */
    EventStream stream(long afterSeq) {
      Context.CancellableContext context = Context.current().withCancellation();
      Context previous = context.attach(); // as HypergraphClient starts the first call
      try {
        return new EventStream(context, apply(afterSeq), this, afterSeq);
      } finally {
        context.detach(previous);
      }
    }

    @Override
    public synchronized Iterator<Event> apply(long afterSeq) {
      afterSeqs.add(afterSeq);
      Context context = Context.current();
      Iterator<Event> next = script.isEmpty() ? call(Status.INTERNAL) : script.poll();
      return new Iterator<>() {
        @Override
        public boolean hasNext() {
          if (context.isCancelled()) {
            throw Status.CANCELLED.withDescription("context cancelled").asRuntimeException();
          }
          return next.hasNext();
        }

        @Override
        public Event next() {
          return next.next();
        }
      };
    }
  }

  /** A call that returns {@code events}, then fails with {@code failure} (null: ends). */
  private static Iterator<Event> call(Status failure, Event... events) {
    Iterator<Event> it = List.of(events).iterator();
    return new Iterator<>() {
      @Override
      public boolean hasNext() {
        if (it.hasNext()) {
          return true;
        }
        if (failure != null) {
          throw failure.asRuntimeException();
        }
        return false;
      }

      @Override
      public Event next() {
        if (!hasNext()) {
          throw new NoSuchElementException();
        }
        return it.next();
      }
    };
  }

  private static Event chunk(long seq) {
    return Event.newBuilder().setWorkflowId("wf").setSeq(seq)
        .setStreamingChunk(StreamingChunk.newBuilder().setMerged(1)).build();
  }

  private static Event lost(long seq) {
    return Event.newBuilder().setWorkflowId("wf").setSeq(seq)
        .setEventsLost(EventsLost.newBuilder().setFirstSeq(3).setLastSeq(seq)).build();
  }

  private static Event ended(long seq) {
    return Event.newBuilder().setWorkflowId("wf").setSeq(seq)
        .setRunEnded(RunEnded.newBuilder().setResult(dev.hypergraph.grpc.v1.RunResult
            .newBuilder().setWorkflowId("wf").setStatus(RunStatus.RUN_STATUS_COMPLETED)))
        .build();
  }
}
