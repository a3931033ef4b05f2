package dev.hypergraph.grpc.client;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.BadRequest;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A failed RPC, with the server's {@code google.rpc.Status} details unpacked.
 *
 * <p>A node that raises is not an RPC error: that run ends with a {@link RunResult} whose
 * status is FAILED. This exception is for the call itself failing: unknown graph (NOT_FOUND,
 * reason GRAPH_NOT_FOUND), bad input (INVALID_ARGUMENT with {@link #fieldViolations()}),
 * a workflow id already running (ALREADY_EXISTS), deadline, cancellation, an unreachable
 * server (UNAVAILABLE) and so on. A call the client itself gave up is one too: a Watch whose
 * thread is interrupted while it waits to resume fails CANCELLED, the InterruptedException
 * its cause.
 */
public final class HypergraphException extends HypergraphClientException {
  private static final long serialVersionUID = 1L;

  /** One {@code google.rpc.BadRequest} field violation: which field, and what is wrong. */
  public record FieldViolation(String field, String description) {}

  private final Status.Code code;
  private final String description;
  private final String reason;
  private final String domain;
  private final Map<String, String> metadata;
  private final List<FieldViolation> fieldViolations;

  private HypergraphException(Status status, String reason, String domain,
      Map<String, String> metadata, List<FieldViolation> violations, Throwable cause) {
    super(message(status, reason, violations), cause);
    this.code = status.getCode();
    this.description = status.getDescription() == null ? "" : status.getDescription();
    this.reason = reason;
    this.domain = domain;
    this.metadata = Map.copyOf(metadata);
    this.fieldViolations = List.copyOf(violations);
  }

  /**
   * Converts any exception from a gRPC call. A HypergraphException is returned as it is;
   * others get the status gRPC derives from them (UNKNOWN when none).
   */
  public static HypergraphException from(Throwable t) {
    if (t instanceof HypergraphException h) {
      return h;
    }
    Status status = Status.fromThrowable(t);
    String reason = "";
    String domain = "";
    Map<String, String> metadata = Map.of();
    List<FieldViolation> violations = new ArrayList<>();
    com.google.rpc.Status details = t instanceof StatusRuntimeException
        || t instanceof StatusException ? StatusProto.fromThrowable(t) : null;
    if (details != null) {
      for (Any any : details.getDetailsList()) {
        try {
          if (any.is(com.google.rpc.ErrorInfo.class)) {
            com.google.rpc.ErrorInfo info = any.unpack(com.google.rpc.ErrorInfo.class);
            reason = info.getReason();
            domain = info.getDomain();
            metadata = info.getMetadataMap();
          } else if (any.is(BadRequest.class)) {
            for (BadRequest.FieldViolation v : any.unpack(BadRequest.class)
                .getFieldViolationsList()) {
              violations.add(new FieldViolation(v.getField(), v.getDescription()));
            }
          }
        } catch (InvalidProtocolBufferException e) {
          // A detail we cannot read is skipped: the status code and message still stand.
        }
      }
    }
    return new HypergraphException(status, reason, domain, metadata, violations, t);
  }

  /**
   * The call was given up because the thread waiting on it was interrupted (e.g. while a
   * Watch waited to resume): CANCELLED, with no server details, the interrupt as its cause.
   * The caller keeps the thread's interrupt flag set.
   */
  static HypergraphException interrupted(String description, InterruptedException cause) {
    return new HypergraphException(Status.CANCELLED.withDescription(description), "", "",
        Map.of(), List.of(), cause);
  }

  /** The gRPC status code, e.g. NOT_FOUND. */
  public Status.Code code() {
    return code;
  }

  /** The server's status message (empty when none). */
  public String description() {
    return description;
  }

  /** {@code google.rpc.ErrorInfo.reason}, e.g. GRAPH_NOT_FOUND; empty when not sent. */
  public String reason() {
    return reason;
  }

  /** {@code google.rpc.ErrorInfo.domain} (hypergraph.dev for the server's own errors). */
  public String domain() {
    return domain;
  }

  /** {@code google.rpc.ErrorInfo.metadata}; empty when not sent. */
  public Map<String, String> metadata() {
    return metadata;
  }

  /** The {@code google.rpc.BadRequest} field violations; empty when not sent. */
  public List<FieldViolation> fieldViolations() {
    return fieldViolations;
  }

  private static String message(Status status, String reason, List<FieldViolation> violations) {
    StringBuilder sb = new StringBuilder(status.getCode().name());
    if (status.getDescription() != null) {
      sb.append(": ").append(status.getDescription());
    }
    if (!reason.isEmpty()) {
      sb.append(" [").append(reason).append(']');
    }
    for (FieldViolation v : violations) {
      sb.append("\n  ").append(v.field()).append(": ").append(v.description());
    }
    return sb.toString();
  }
}
