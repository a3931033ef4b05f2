package dev.hypergraph.grpc.client;

import java.util.Map;

/**
 * The outcome of one run, with native Java values (see {@link Values}).
 *
 * @param workflowId the workflow the run belongs to
 * @param runId the run's own id
 * @param status how the run ended
 * @param values the last written value of every (selected) output
 * @param error the error when status is FAILED, else null
 * @param stopInfo the info of the stop request when STOPPED by one; empty otherwise
 * @param forced true when nodes were cancelled (grace ran out, or the client went away)
 * @param usage usage reported by the run's nodes; empty when none
 * @param proto the protobuf message this was converted from
 */
public record RunResult(
    String workflowId,
    String runId,
    Status status,
    Map<String, Object> values,
    RunError error,
    Map<String, Object> stopInfo,
    boolean forced,
    Map<String, Object> usage,
    dev.hypergraph.grpc.v1.RunResult proto) {

  /** How a run ended. */
  public enum Status {
    /** Not set by the server. */
    UNSPECIFIED,
    /** Nothing was left to run. */
    COMPLETED,
    /** A node raised; {@link RunResult#error()} says which and why. */
    FAILED,
    /** A stop request (or a cancelled client) ended the run. */
    STOPPED
  }

  /** The error of a FAILED run or node: the error's type, message and node. */
  public record RunError(String type, String message, String node) {
    static RunError of(dev.hypergraph.grpc.v1.ErrorInfo e) {
      return new RunError(e.getType(), e.getMessage(), e.getNode());
    }

    @Override
    public String toString() {
      return type + ": " + message + (node.isEmpty() ? "" : " (node " + node + ")");
    }
  }

  /** Converts the protobuf RunResult. */
  public static RunResult of(dev.hypergraph.grpc.v1.RunResult r) {
    return new RunResult(
        r.getWorkflowId(),
        r.getRunId(),
        status(r.getStatus()),
        Values.toJava(r.getValues()),
        r.hasError() ? RunError.of(r.getError()) : null,
        Values.toJava(r.getStopInfo()),
        r.getForced(),
        Values.toJava(r.getUsage()),
        r);
  }

  /** The value of one output, or null when absent. */
  public Object get(String output) {
    return values.get(output);
  }

  static Status status(dev.hypergraph.grpc.v1.RunStatus s) {
    switch (s) {
      case RUN_STATUS_COMPLETED:
        return Status.COMPLETED;
      case RUN_STATUS_FAILED:
        return Status.FAILED;
      case RUN_STATUS_STOPPED:
        return Status.STOPPED;
      default:
        return Status.UNSPECIFIED;
    }
  }

  @Override
  public String toString() {
    return "RunResult{workflowId=" + workflowId + ", runId=" + runId + ", status=" + status
        + ", values=" + values + (error == null ? "" : ", error=" + error)
        + (stopInfo.isEmpty() ? "" : ", stopInfo=" + stopInfo) + (forced ? ", forced" : "") + "}";
  }
}
