package dev.hypergraph.grpc.client;

import dev.hypergraph.grpc.v1.Event;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.LongFunction;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/**
 * The events of one Iter (or Watch) call, read by blocking. It ends after RunEnded.
 *
 * <p>{@link #close()} (from any thread) cancels the call; unless the stream was started with
 * {@code detach}, the server then stops the run. Use it in try-with-resources so that leaving
 * the loop early never leaves a run going. After close, {@link #hasNext()} returns false.
 * Errors of the call are thrown as {@link HypergraphException}.
 *
 * <p>A Watch stream (unless {@link WatchOptions#resume()} is off) resumes by itself when the
 * call fails with UNAVAILABLE before RunEnded: after a short wait it calls Watch again with
 * {@code after_seq} = {@link #lastSeq()} and goes on, so the events it returns hold every
 * event once, in order. See {@link WatchOptions#resume()} for the waits and when it gives up.
 */
public final class EventStream implements Iterator<Event>, Iterable<Event>, AutoCloseable {
  // Watch resumes: failed attempts in a row before giving up, and the wait before each.
  private static final int RESUME_ATTEMPTS = 6;
  private static final long RESUME_FIRST_WAIT_MS = 100;
  private static final long RESUME_MAX_WAIT_MS = 2000;

  private final Context.CancellableContext context;
  /** Opens the call again after a seq (a resumable Watch), or null. */
  private final LongFunction<Iterator<Event>> reopen;
  /** Counted down when the context is cancelled: ends a wait before resuming at once. */
  private final CountDownLatch cancelled = new CountDownLatch(1);
  /** The current call's events; null after a failure until the call is opened again. */
  private Iterator<Event> events;
  private int failedResumes;
  private volatile long lastSeq;
  private volatile boolean closed;
  private volatile String workflowId;
  private volatile RunResult result;

  EventStream(Context.CancellableContext context, Iterator<Event> events) {
    this(context, events, null, 0);
  }

  /**
   * A stream that, when {@code reopen} is not null, resumes after UNAVAILABLE by calling
   * {@code reopen(lastSeq)} inside {@code context}; {@code afterSeq} is where the first call
   * started.
   */
  EventStream(Context.CancellableContext context, Iterator<Event> events,
      LongFunction<Iterator<Event>> reopen, long afterSeq) {
    this.context = context;
    this.events = events;
    this.reopen = reopen;
    this.lastSeq = afterSeq;
    if (reopen != null) {
      context.addListener(c -> cancelled.countDown(), Runnable::run);
    }
  }

  @Override
  public boolean hasNext() {
    while (!closed) {
      try {
        if (events == null) {
          events = open(lastSeq);
        }
        if (events.hasNext()) {
          return true;
        }
        close(); // ended normally: release the context
        return false;
      } catch (StatusRuntimeException e) {
        if (closed) {
          return false; // the CANCELLED status our own close() caused
        }
        long wait = resumeWait(e);
        if (wait < 0) {
          close();
          throw HypergraphException.from(e);
        }
        events = null;
        pause(wait);
      }
    }
    return false;
  }

  @Override
  public Event next() {
    if (!hasNext()) {
      throw new NoSuchElementException("the event stream has ended");
    }
    Event event = events.next();
    lastSeq = event.getSeq();
    failedResumes = 0;
    if (workflowId == null) {
      workflowId = event.getWorkflowId();
    }
    if (event.getKindCase() == Event.KindCase.RUN_ENDED) {
      result = RunResult.of(event.getRunEnded().getResult());
    }
    return event;
  }

  /** Returns this stream itself, so it can be used in a for-each loop (once). */
  @Override
  public Iterator<Event> iterator() {
    return this;
  }

  /** The events as a sequential java.util.stream.Stream; closing it closes this. */
  public Stream<Event> stream() {
    return StreamSupport.stream(
            Spliterators.spliteratorUnknownSize(this, Spliterator.ORDERED | Spliterator.NONNULL),
            false)
        .onClose(this::close);
  }

  /** The workflow id, known once the first event arrived (else null). */
  public String workflowId() {
    return workflowId;
  }

  /** The run's result once RunEnded was read, else null. */
  public RunResult result() {
    return result;
  }

  /**
   * The seq of the last event returned by {@link #next()} (for a Watch before any event: the
   * {@code afterSeq} it started from; for Iter: 0). Watch with it resumes exactly after it.
   */
  public long lastSeq() {
    return lastSeq;
  }

  /** Cancels the call if it is still going (safe to call from any thread, many times). */
  @Override
  public void close() {
    closed = true;
    context.cancel(null);
  }

  /**
   * Milliseconds to wait before calling Watch again after {@code e}, or -1 to give up: only a
   * resumable Watch resumes, only on UNAVAILABLE, never after RunEnded, and only
   * RESUME_ATTEMPTS times in a row.
   */
  private long resumeWait(StatusRuntimeException e) {
    if (reopen == null
        || result != null
        || e.getStatus().getCode() != Status.Code.UNAVAILABLE
        || failedResumes >= RESUME_ATTEMPTS) {
      return -1;
    }
    long wait = Math.min(RESUME_FIRST_WAIT_MS << failedResumes, RESUME_MAX_WAIT_MS);
    failedResumes++;
    return wait;
  }

  /**
   * Waits before resuming; close() or the caller's context being cancelled ends the wait at
   * once (the next loop then ends quietly, or the new call fails CANCELLED in the cancelled
   * context, as a read would have). An interrupt cancels the stream, as it does a read, and
   * fails CANCELLED with the InterruptedException as cause; the thread stays interrupted.
   */
  private void pause(long millis) {
    try {
      cancelled.await(millis, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      close();
      throw HypergraphException.interrupted("interrupted while waiting to resume the Watch", e);
    }
  }

  /** Calls Watch again after {@code afterSeq}, inside this stream's context. */
  private Iterator<Event> open(long afterSeq) {
    Context previous = context.attach();
    try {
      return reopen.apply(afterSeq);
    } catch (StatusRuntimeException e) {
      throw e; // handled like a failed read
    } catch (RuntimeException e) {
      close();
      throw HypergraphException.from(e);
    } finally {
      context.detach(previous);
    }
  }
}
