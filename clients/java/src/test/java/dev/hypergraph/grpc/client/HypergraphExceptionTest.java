package dev.hypergraph.grpc.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Any;
import com.google.rpc.BadRequest;
import com.google.rpc.Code;
import com.google.rpc.ErrorInfo;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class HypergraphExceptionTest {
  @Test
  void unpacksErrorInfoAndFieldViolations() {
    com.google.rpc.Status status = com.google.rpc.Status.newBuilder()
        .setCode(Code.INVALID_ARGUMENT_VALUE)
        .setMessage("graph 'add' needs input 'b'")
        .addDetails(Any.pack(ErrorInfo.newBuilder()
            .setReason("INVALID_INPUT").setDomain("hypergraph.dev")
            .putMetadata("graph", "add").build()))
        .addDetails(Any.pack(BadRequest.newBuilder()
            .addFieldViolations(BadRequest.FieldViolation.newBuilder()
                .setField("values.b").setDescription("required input missing"))
            .build()))
        .build();
    StatusRuntimeException sre = StatusProto.toStatusRuntimeException(status);

    HypergraphException e = HypergraphException.from(sre);

    assertEquals(Status.Code.INVALID_ARGUMENT, e.code());
    assertEquals("graph 'add' needs input 'b'", e.description());
    assertEquals("INVALID_INPUT", e.reason());
    assertEquals("hypergraph.dev", e.domain());
    assertEquals(Map.of("graph", "add"), e.metadata());
    assertEquals(List.of(new HypergraphException.FieldViolation("values.b",
        "required input missing")), e.fieldViolations());
    assertTrue(e.getMessage().contains("values.b"), e.getMessage());
    assertSame(sre, e.getCause());
  }

  @Test
  void plainStatusesHaveNoDetails() {
    HypergraphException e = HypergraphException.from(
        Status.DEADLINE_EXCEEDED.withDescription("too slow").asRuntimeException());
    assertEquals(Status.Code.DEADLINE_EXCEEDED, e.code());
    assertEquals("", e.reason());
    assertEquals(List.of(), e.fieldViolations());
    assertSame(e, HypergraphException.from(e));
    assertEquals(Status.Code.UNKNOWN, HypergraphException.from(new RuntimeException("x")).code());
  }

  @Test
  void anInterruptIsCancelledWithTheInterruptAsCause() {
    InterruptedException interrupt = new InterruptedException();
    HypergraphException e = HypergraphException.interrupted("interrupted while waiting", interrupt);
    assertEquals(Status.Code.CANCELLED, e.code());
    assertEquals("interrupted while waiting", e.description());
    assertEquals("CANCELLED: interrupted while waiting", e.getMessage());
    assertEquals("", e.reason());
    assertEquals("", e.domain());
    assertEquals(Map.of(), e.metadata());
    assertEquals(List.of(), e.fieldViolations());
    assertSame(interrupt, e.getCause(), "the interrupt itself, no gRPC exception made for it");
    assertSame(e, HypergraphException.from(e));
  }
}
