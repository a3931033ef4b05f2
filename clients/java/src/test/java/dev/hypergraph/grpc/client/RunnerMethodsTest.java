package dev.hypergraph.grpc.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import com.google.protobuf.Descriptors.MethodDescriptor;
import com.google.protobuf.Descriptors.ServiceDescriptor;
import com.google.protobuf.Message;
import dev.hypergraph.grpc.v1.RunnerProto;
import io.grpc.MethodDescriptor.MethodType;
import io.grpc.protobuf.ProtoUtils;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** The hand-written method descriptors match runner.proto as protoc compiled it. */
class RunnerMethodsTest {
  private static final List<io.grpc.MethodDescriptor<?, ?>> METHODS = List.of(
      RunnerMethods.LIST_GRAPHS, RunnerMethods.RUN, RunnerMethods.ITER, RunnerMethods.STOP,
      RunnerMethods.WATCH);

  @Test
  void everyServiceMethodIsDescribedOnce() {
    ServiceDescriptor service = RunnerProto.getDescriptor().findServiceByName("RunnerService");
    assertNotNull(service, "runner.proto has no RunnerService");
    assertEquals(RunnerMethods.SERVICE, service.getFullName());
    Set<String> fromProto = service.getMethods().stream()
        .map(MethodDescriptor::getName).collect(Collectors.toSet());
    Set<String> ours = METHODS.stream()
        .map(io.grpc.MethodDescriptor::getBareMethodName).collect(Collectors.toSet());
    assertEquals(fromProto, ours, "update RunnerMethods.java to match runner.proto");
  }

  @Test
  void typesAndStreamingMatchTheProto() {
    ServiceDescriptor service = RunnerProto.getDescriptor().findServiceByName("RunnerService");
    for (io.grpc.MethodDescriptor<?, ?> m : METHODS) {
      MethodDescriptor proto = service.findMethodByName(m.getBareMethodName());
      assertEquals(proto.getInputType(), descriptorOf(m.getRequestMarshaller()), m.getFullMethodName());
      assertEquals(proto.getOutputType(), descriptorOf(m.getResponseMarshaller()), m.getFullMethodName());
      MethodType expected = proto.isServerStreaming()
          ? (proto.isClientStreaming() ? MethodType.BIDI_STREAMING : MethodType.SERVER_STREAMING)
          : (proto.isClientStreaming() ? MethodType.CLIENT_STREAMING : MethodType.UNARY);
      assertEquals(expected, m.getType(), m.getFullMethodName());
      assertEquals(RunnerMethods.SERVICE + "/" + proto.getName(), m.getFullMethodName());
    }
  }

  private static com.google.protobuf.Descriptors.Descriptor descriptorOf(
      io.grpc.MethodDescriptor.Marshaller<?> marshaller) {
    Object prototype = ((io.grpc.MethodDescriptor.PrototypeMarshaller<?>) marshaller)
        .getMessagePrototype();
    return ((Message) prototype).getDescriptorForType();
  }

  @Test
  void marshallersRoundTrip() throws Exception {
    dev.hypergraph.grpc.v1.RunRequest request = dev.hypergraph.grpc.v1.RunRequest.newBuilder()
        .setGraph("add").setWorkflowId("wf-1").build();
    var marshaller = RunnerMethods.RUN.getRequestMarshaller();
    assertEquals(request, marshaller.parse(marshaller.stream(request)));
    assertNotNull(ProtoUtils.marshaller(request));
  }
}
