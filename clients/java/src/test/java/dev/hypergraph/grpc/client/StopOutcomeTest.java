package dev.hypergraph.grpc.client;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.hypergraph.grpc.v1.RunState;
import dev.hypergraph.grpc.v1.StopResponse;
import org.junit.jupiter.api.Test;

/** A StopResponse becomes a StopOutcome that keeps the whole answer. */
class StopOutcomeTest {
  @Test
  void keepsFoundRunIdAndState() {
    StopResponse reply = StopResponse.newBuilder()
        .setFound(true).setRunId("run-1").setState(RunState.RUN_STATE_STOPPING).build();
    StopOutcome outcome = StopOutcome.of(reply);
    assertEquals(new StopOutcome(true, "run-1", StopOutcome.State.STOPPING, reply), outcome);
  }

  @Test
  void namesEveryState() {
    assertEquals(StopOutcome.State.ENDED,
        StopOutcome.of(StopResponse.newBuilder().setState(RunState.RUN_STATE_ENDED).build()).state());
    assertEquals(StopOutcome.State.UNSPECIFIED,
        StopOutcome.of(StopResponse.getDefaultInstance()).state());
    assertEquals(StopOutcome.State.UNSPECIFIED,
        StopOutcome.of(StopResponse.newBuilder().setStateValue(99).build()).state());
  }
}
