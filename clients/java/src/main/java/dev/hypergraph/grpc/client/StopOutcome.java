package dev.hypergraph.grpc.client;

import dev.hypergraph.grpc.v1.StopResponse;

/**
 * What Stop answered.
 *
 * @param found true when a live run was reached; it will end STOPPED (also for a repeated
 *     request). False for an unknown or already ended workflow
 * @param runId the run that was reached (empty when not found)
 * @param state the run's state after the request
 * @param proto the protobuf message this was converted from
 */
public record StopOutcome(boolean found, String runId, State state, StopResponse proto) {

  /** A run's lifecycle state as Stop saw it. */
  public enum State {
    /** No live run was found (or a server newer than this client). */
    UNSPECIFIED,
    /** The run is live and stopping. */
    STOPPING,
    /** The run has already ended. */
    ENDED
  }

  /** Converts the protobuf StopResponse. */
  public static StopOutcome of(StopResponse r) {
    return new StopOutcome(r.getFound(), r.getRunId(), state(r.getState()), r);
  }

  static State state(dev.hypergraph.grpc.v1.RunState s) {
    switch (s) {
      case RUN_STATE_STOPPING:
        return State.STOPPING;
      case RUN_STATE_ENDED:
        return State.ENDED;
      default:
        return State.UNSPECIFIED;
    }
  }

  @Override
  public String toString() {
    return "StopOutcome{found=" + found + ", runId=" + runId + ", state=" + state + "}";
  }
}
