package dev.hypergraph.grpc.client;

/**
 * What this client throws about a call or a run, so one {@code catch} covers both:
 * {@link HypergraphException} when the call itself failed (a gRPC status), and
 * {@link RunFailedException} when the call succeeded but the run ended FAILED.
 * Bad arguments to the client's own methods are {@link IllegalArgumentException}s.
 */
public abstract sealed class HypergraphClientException extends RuntimeException
    permits HypergraphException, RunFailedException {
  private static final long serialVersionUID = 1L;

  HypergraphClientException(String message, Throwable cause) {
    super(message, cause);
  }
}
