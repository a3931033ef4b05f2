package dev.hypergraph.grpc.client;

import java.time.Duration;
import java.util.List;

/**
 * Options of one Run or Iter call. Immutable; build with {@link #builder()}.
 *
 * @param workflowId the workflow id, or null to let the server make one ("wf-" + 12 hex)
 * @param select output names to return; empty returns every output
 * @param maxIterations the most times any one node may run; 0 means the server default
 * @param deadline the call deadline, or null for none (the server stops the run when it passes)
 * @param detach for Iter: keep the run going when the stream ends early
 * @param disableMerge for Iter: one message per ctx.stream() call, never merged
 * @param maxQueuedEvents for Iter: events queued before text chunks merge; 0 = server default
 * @param maxChunkBytes for Iter: the most bytes of one merged text chunk; 0 = server default
 * @param textView for Iter: the text view (EVENT_VIEW_TEXT): RunStarted, chunks, node failures,
 *     stops and RunEnded, without the node lifecycle; seq then skips the events left out.
 *     streamText asks for it by itself
 */
public record RunOptions(
    String workflowId,
    List<String> select,
    int maxIterations,
    Duration deadline,
    boolean detach,
    boolean disableMerge,
    int maxQueuedEvents,
    int maxChunkBytes,
    boolean textView) {

  /** No options: server-made id, every output, server defaults, no deadline. */
  public static final RunOptions DEFAULT = builder().build();

  public RunOptions {
    select = select == null ? List.of() : List.copyOf(select);
    if (maxIterations < 0 || maxQueuedEvents < 0 || maxChunkBytes < 0) {
      throw new IllegalArgumentException("maxIterations, maxQueuedEvents and maxChunkBytes must"
          + " be >= 0 (0 means the server default)");
    }
    if (deadline != null && (deadline.isNegative() || deadline.isZero())) {
      throw new IllegalArgumentException("deadline must be positive, got " + deadline
          + "; pass null for no deadline");
    }
  }

  /** Starts a builder with every option at its default. */
  public static Builder builder() {
    return new Builder();
  }

  /** A builder copying this options' values. */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.workflowId = workflowId;
    b.select = select;
    b.maxIterations = maxIterations;
    b.deadline = deadline;
    b.detach = detach;
    b.disableMerge = disableMerge;
    b.maxQueuedEvents = maxQueuedEvents;
    b.maxChunkBytes = maxChunkBytes;
    b.textView = textView;
    return b;
  }

  /** Builds {@link RunOptions}. */
  public static final class Builder {
    private String workflowId;
    private List<String> select = List.of();
    private int maxIterations;
    private Duration deadline;
    private boolean detach;
    private boolean disableMerge;
    private int maxQueuedEvents;
    private int maxChunkBytes;
    private boolean textView;

    private Builder() {}

    public Builder workflowId(String workflowId) {
      this.workflowId = workflowId;
      return this;
    }

    public Builder select(List<String> select) {
      this.select = select;
      return this;
    }

    public Builder select(String... select) {
      return select(List.of(select));
    }

    public Builder maxIterations(int maxIterations) {
      this.maxIterations = maxIterations;
      return this;
    }

    public Builder deadline(Duration deadline) {
      this.deadline = deadline;
      return this;
    }

    public Builder detach(boolean detach) {
      this.detach = detach;
      return this;
    }

    public Builder disableMerge(boolean disableMerge) {
      this.disableMerge = disableMerge;
      return this;
    }

    public Builder maxQueuedEvents(int maxQueuedEvents) {
      this.maxQueuedEvents = maxQueuedEvents;
      return this;
    }

    public Builder maxChunkBytes(int maxChunkBytes) {
      this.maxChunkBytes = maxChunkBytes;
      return this;
    }

    public Builder textView(boolean textView) {
      this.textView = textView;
      return this;
    }

    public RunOptions build() {
      return new RunOptions(workflowId, select, maxIterations, deadline, detach, disableMerge,
          maxQueuedEvents, maxChunkBytes, textView);
    }
  }
}
