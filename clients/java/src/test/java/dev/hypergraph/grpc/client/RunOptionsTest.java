package dev.hypergraph.grpc.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class RunOptionsTest {
  @Test
  void defaultsAreEmpty() {
    RunOptions o = RunOptions.DEFAULT;
    assertNull(o.workflowId());
    assertEquals(List.of(), o.select());
    assertNull(o.deadline());
    assertEquals(0, o.maxIterations());
  }

  @Test
  void toBuilderCopiesEveryOption() {
    RunOptions o = RunOptions.builder().workflowId("w").select("a", "b").maxIterations(5)
        .deadline(Duration.ofSeconds(3)).detach(true).disableMerge(true).maxQueuedEvents(7)
        .maxChunkBytes(9).build();
    assertEquals(o, o.toBuilder().build());
  }

  @Test
  void badValuesAreRefused() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> RunOptions.builder().deadline(Duration.ZERO).build());
    assertTrue(e.getMessage().contains("deadline"), e.getMessage());
    assertThrows(IllegalArgumentException.class,
        () -> RunOptions.builder().maxIterations(-1).build());
  }
}
