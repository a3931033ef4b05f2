package dev.hypergraph.grpc.client;

import dev.hypergraph.grpc.v1.Event;
import io.grpc.Context;
import io.grpc.StatusRuntimeException;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/**
 * The events of one Iter (or Watch) call, read by blocking. It ends after RunEnded.
 *
 * <p>{@link #close()} (from any thread) cancels the call; unless the stream was started with
 * {@code detach}, the server then stops the run. Use it in try-with-resources so that leaving
 * the loop early never leaves a run going. After close, {@link #hasNext()} returns false.
 * Errors of the call are thrown as {@link HypergraphException}.
 */
public final class EventStream implements Iterator<Event>, Iterable<Event>, AutoCloseable {
  private final Context.CancellableContext context;
  private final Iterator<Event> events;
  private volatile boolean closed;
  private volatile String workflowId;
  private volatile RunResult result;

  EventStream(Context.CancellableContext context, Iterator<Event> events) {
    this.context = context;
    this.events = events;
  }

  @Override
  public boolean hasNext() {
    if (closed) {
      return false;
    }
    try {
      if (events.hasNext()) {
        return true;
      }
      close(); // ended normally: release the context
      return false;
    } catch (StatusRuntimeException e) {
      if (closed) {
        return false; // the CANCELLED status our own close() caused
      }
      close();
      throw HypergraphException.from(e);
    }
  }

  @Override
  public Event next() {
    if (!hasNext()) {
      throw new NoSuchElementException("the event stream has ended");
    }
    Event event = events.next();
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

  /** Cancels the call if it is still going (safe to call from any thread, many times). */
  @Override
  public void close() {
    closed = true;
    context.cancel(null);
  }
}
