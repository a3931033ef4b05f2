package dev.hypergraph.grpc.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.MethodDescriptor;
import com.google.protobuf.Descriptors.ServiceDescriptor;
import com.google.protobuf.Message;
import dev.hypergraph.grpc.v1.RunRequest;
import dev.hypergraph.grpc.v1.RunnerProto;
import dev.hypergraph.grpc.v1.RunnerServiceGrpc;
import io.grpc.MethodDescriptor.MethodType;
import io.grpc.MethodDescriptor.PrototypeMarshaller;
import io.grpc.protobuf.ProtoMethodDescriptorSupplier;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The RunnerServiceGrpc stubs that protoc-gen-grpc-java generated at build time agree with the
 * message classes protoc generated from the same runner.proto: same methods, request and
 * response types, streaming kinds. The two generators are separate artifacts (and the grpc
 * generator is an older version than the runtime, see pom.xml), so this catches one of them
 * being skipped, stale or out of step.
 */
class GeneratedStubsTest {
  private static ServiceDescriptor protoService() {
    ServiceDescriptor service = RunnerProto.getDescriptor().findServiceByName("RunnerService");
    assertNotNull(service, "runner.proto has no RunnerService");
    return service;
  }

  @Test
  void stubsDescribeEveryMethodOfTheProto() {
    io.grpc.ServiceDescriptor generated = RunnerServiceGrpc.getServiceDescriptor();
    assertEquals(protoService().getFullName(), generated.getName());
    Set<String> fromProto = protoService().getMethods().stream()
        .map(MethodDescriptor::getName).collect(Collectors.toSet());
    Set<String> fromStubs = generated.getMethods().stream()
        .map(io.grpc.MethodDescriptor::getBareMethodName).collect(Collectors.toSet());
    assertEquals(fromProto, fromStubs, "RunnerServiceGrpc is stale: run `mvn clean compile`");
  }

  @Test
  void typesAndStreamingMatchTheProto() {
    ServiceDescriptor service = protoService();
    for (io.grpc.MethodDescriptor<?, ?> m : RunnerServiceGrpc.getServiceDescriptor().getMethods()) {
      MethodDescriptor proto = service.findMethodByName(m.getBareMethodName());
      assertNotNull(proto, m.getFullMethodName() + " is not in runner.proto");
      assertEquals(proto.getInputType(), descriptorOf(m.getRequestMarshaller()), m.getFullMethodName());
      assertEquals(proto.getOutputType(), descriptorOf(m.getResponseMarshaller()), m.getFullMethodName());
      MethodType expected = proto.isServerStreaming()
          ? (proto.isClientStreaming() ? MethodType.BIDI_STREAMING : MethodType.SERVER_STREAMING)
          : (proto.isClientStreaming() ? MethodType.CLIENT_STREAMING : MethodType.UNARY);
      assertEquals(expected, m.getType(), m.getFullMethodName());
      // The stub's descriptor points at the very descriptor protoc compiled (same file object).
      assertSame(proto, ((ProtoMethodDescriptorSupplier) m.getSchemaDescriptor()).getMethodDescriptor(),
          m.getFullMethodName());
    }
  }

  @Test
  void marshallersRoundTrip() {
    RunRequest request = RunRequest.newBuilder().setGraph("add").setWorkflowId("wf-1").build();
    var marshaller = RunnerServiceGrpc.getRunMethod().getRequestMarshaller();
    assertEquals(request, marshaller.parse(marshaller.stream(request)));
  }

  private static Descriptor descriptorOf(io.grpc.MethodDescriptor.Marshaller<?> marshaller) {
    Object prototype = ((PrototypeMarshaller<?>) marshaller).getMessagePrototype();
    return ((Message) prototype).getDescriptorForType();
  }
}
