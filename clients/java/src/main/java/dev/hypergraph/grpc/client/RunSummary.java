package dev.hypergraph.grpc.client;

import dev.hypergraph.grpc.v1.RunState;
import java.time.Instant;

/**
 * A live run as ListRuns shows it.
 *
 * @param workflowId the workflow id (what stop and watch take)
 * @param runId the run id (empty until the run has started)
 * @param graph the registered name of the graph being run
 * @param owner the replica running it
 * @param startTime when the run was started
 * @param stopping true once a Stop reached the run
 * @param proto the protobuf message this was converted from
 */
public record RunSummary(String workflowId, String runId, String graph, String owner,
    Instant startTime, boolean stopping, dev.hypergraph.grpc.v1.RunSummary proto) {

  /** Converts the protobuf RunSummary. */
  public static RunSummary of(dev.hypergraph.grpc.v1.RunSummary r) {
    Instant start = Instant.ofEpochSecond(r.getStartTime().getSeconds(), r.getStartTime().getNanos());
    return new RunSummary(r.getWorkflowId(), r.getRunId(), r.getGraph(), r.getOwner(), start,
        r.getState() == RunState.RUN_STATE_STOPPING, r);
  }

  @Override
  public String toString() {
    return "RunSummary{workflowId=" + workflowId + ", runId=" + runId + ", graph=" + graph
        + ", owner=" + owner + ", startTime=" + startTime + ", stopping=" + stopping + "}";
  }
}
