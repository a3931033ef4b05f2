package dev.hypergraph.grpc.client;

import dev.hypergraph.grpc.v1.Event;
import io.grpc.stub.ClientCallStreamObserver;
import java.util.concurrent.CompletableFuture;

/**
 * The handle of an asynchronous Iter call started by {@link HypergraphClient#iterAsync}.
 * {@link #cancel()} cancels the call, which (unless detached) stops the run on the server.
 */
public final class IterCall {
  private final ClientCallStreamObserver<?> call;
  private final CompletableFuture<RunResult> result;

  IterCall(ClientCallStreamObserver<?> call, CompletableFuture<RunResult> result) {
    this.call = call;
    this.result = result;
  }

  /** Cancels the call; the observer then gets onError with a CANCELLED HypergraphException. */
  public void cancel() {
    call.cancel("cancelled by the client", null);
  }

  /**
   * Completes with the RunResult of RunEnded, or exceptionally with the call's
   * {@link HypergraphException} (also when the stream ended without RunEnded).
   */
  public CompletableFuture<RunResult> result() {
    return result;
  }
}
