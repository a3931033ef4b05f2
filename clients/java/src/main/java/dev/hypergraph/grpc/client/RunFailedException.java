package dev.hypergraph.grpc.client;

/**
 * Thrown by {@link HypergraphClient#streamText} when the run ends FAILED: a node raised.
 * The call itself succeeded; {@link #result()} holds the run's result and error.
 */
public final class RunFailedException extends HypergraphClientException {
  private static final long serialVersionUID = 1L;

  private final transient RunResult result;

  public RunFailedException(RunResult result) {
    super("workflow " + result.workflowId() + " failed: " + result.error(), null);
    this.result = result;
  }

  /** The FAILED run's result. */
  public RunResult result() {
    return result;
  }
}
