package dev.hypergraph.grpc.client;

/**
 * Options of one Watch call. Immutable; build with {@link #builder()}.
 *
 * @param resume re-attach by itself when the connection is lost (the call fails with
 *     UNAVAILABLE: a reset connection, a draining replica's GOAWAY) before RunEnded: Watch is
 *     called again on the same channel with {@code after_seq} = the seq of the last event
 *     returned, and the same {@link EventStream} goes on without losing or repeating an event.
 *     It waits 0.1 s before the first new attempt, doubling per failed attempt in a row up to
 *     2 s, and gives up after 6 failed attempts in a row (an attempt that returns an event
 *     resets the count), throwing the last UNAVAILABLE {@link HypergraphException}. Default
 *     true; false makes UNAVAILABLE end the stream like any other error
 */
public record WatchOptions(boolean resume) {

  /** The defaults: resume after a lost connection. */
  public static final WatchOptions DEFAULT = builder().build();

  /** Starts a builder with every option at its default. */
  public static Builder builder() {
    return new Builder();
  }

  /** A builder copying this options' values. */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.resume = resume;
    return b;
  }

  /** Builds {@link WatchOptions}. */
  public static final class Builder {
    private boolean resume = true;

    private Builder() {}

    /** Re-attach by itself after a lost connection (default true). */
    public Builder resume(boolean resume) {
      this.resume = resume;
      return this;
    }

    public WatchOptions build() {
      return new WatchOptions(resume);
    }
  }
}
