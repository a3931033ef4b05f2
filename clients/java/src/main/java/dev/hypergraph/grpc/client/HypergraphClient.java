package dev.hypergraph.grpc.client;

import com.google.protobuf.Struct;
import dev.hypergraph.grpc.v1.Event;
import dev.hypergraph.grpc.v1.EventView;
import dev.hypergraph.grpc.v1.GraphInfo;
import dev.hypergraph.grpc.v1.IterRequest;
import dev.hypergraph.grpc.v1.ListGraphsRequest;
import dev.hypergraph.grpc.v1.ListRunsRequest;
import dev.hypergraph.grpc.v1.ListRunsResponse;
import dev.hypergraph.grpc.v1.RunRequest;
import dev.hypergraph.grpc.v1.RunnerServiceGrpc;
import dev.hypergraph.grpc.v1.RunnerServiceGrpc.RunnerServiceBlockingStub;
import dev.hypergraph.grpc.v1.RunnerServiceGrpc.RunnerServiceStub;
import dev.hypergraph.grpc.v1.StopRequest;
import dev.hypergraph.grpc.v1.StreamOptions;
import dev.hypergraph.grpc.v1.WatchRequest;
import io.grpc.Channel;
import io.grpc.ChannelCredentials;
import io.grpc.Context;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.AbstractStub;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.LongFunction;
import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * A client of a hypergraph-grpc server: list graphs, run them, stream their events token by
 * token, and stop them.
 *
 * <pre>{@code
 * try (HypergraphClient client = HypergraphClient.connect("127.0.0.1:50051");
 *      Stream<String> tokens = client.streamText("chat", Map.of("prompt", "hi"))) {
 *   tokens.forEach(System.out::print);
 * }
 * }</pre>
 *
 * <p>Every call runs in the caller's {@link Context}: cancelling a
 * {@link Context.CancellableContext} cancels the calls made in it, and a cancelled Iter stream
 * stops its run on the server (unless started with {@link RunOptions#detach()}).
 * Failed calls throw {@link HypergraphException}; a run whose node raised is not a failed call
 * but a {@link RunResult} with status FAILED. Thread-safe.
 *
 * <p>Calls go through the stubs protoc-gen-grpc-java generates from runner.proto
 * ({@link RunnerServiceGrpc}): the blocking stub for unary calls and blocking streams, the
 * async stub for {@link #iterAsync}.
 */
public final class HypergraphClient implements AutoCloseable {
  private final Channel channel;
  private final ManagedChannel owned;
  private final RunnerServiceBlockingStub blocking;
  private final RunnerServiceStub async;

  /** A client over a channel the caller owns (and shuts down). */
  public HypergraphClient(Channel channel) {
    this(channel, null);
  }

  private HypergraphClient(Channel channel, ManagedChannel owned) {
    this.channel = Objects.requireNonNull(channel, "channel");
    this.owned = owned;
    this.blocking = RunnerServiceGrpc.newBlockingStub(channel);
    this.async = RunnerServiceGrpc.newStub(channel);
  }

  /** Connects to {@code target} (e.g. "127.0.0.1:50051") in plaintext; close() shuts it down. */
  public static HypergraphClient connect(String target) {
    return connect(target, InsecureChannelCredentials.create());
  }

  /** Connects to {@code target} with the given credentials; close() shuts the channel down. */
  public static HypergraphClient connect(String target, ChannelCredentials credentials) {
    ManagedChannel channel = Grpc.newChannelBuilder(target, credentials).build();
    return new HypergraphClient(channel, channel);
  }

  /**
   * Connects to {@code target} over TLS as {@code tls} says (a CA file or the JVM's roots, a
   * client certificate for mutual TLS); close() shuts the channel down.
   */
  public static HypergraphClient connect(String target, TlsOptions tls) {
    ManagedChannelBuilder<?> builder = Grpc.newChannelBuilder(target, tls.credentials());
    if (tls.serverName() != null) {
      builder.overrideAuthority(tls.serverName());
    }
    ManagedChannel channel = builder.build();
    return new HypergraphClient(channel, channel);
  }

  /** The channel calls go through. */
  public Channel channel() {
    return channel;
  }

  /** Every registered graph with its inputs, outputs and description, sorted by name. */
  public List<GraphInfo> listGraphs() {
    return unary(() -> blocking.listGraphs(ListGraphsRequest.getDefaultInstance()))
        .getGraphsList();
  }

  /**
   * The live runs of the deployment (every replica of a cluster), oldest first, of
   * {@code graph} (null or empty: every graph). Follows every page.
   */
  public List<RunSummary> listRuns(String graph) {
    List<RunSummary> runs = new java.util.ArrayList<>();
    String token = "";
    do {
      ListRunsRequest request = ListRunsRequest.newBuilder()
          .setGraph(graph == null ? "" : graph)
          .setPageToken(token)
          .build();
      ListRunsResponse page = unary(() -> blocking.listRuns(request));
      page.getRunsList().forEach(r -> runs.add(RunSummary.of(r)));
      token = page.getNextPageToken();
    } while (!token.isEmpty());
    return runs;
  }

  /** Runs {@code graph} with default options and waits for its result. */
  public RunResult run(String graph, Map<String, ?> values) {
    return run(graph, values, RunOptions.DEFAULT);
  }

  /** Runs {@code graph} and waits for its result (FAILED and STOPPED runs are results). */
  public RunResult run(String graph, Map<String, ?> values, RunOptions options) {
    RunRequest.Builder request = RunRequest.newBuilder()
        .setGraph(graph)
        .setValues(struct(values))
        .addAllSelect(options.select())
        .setMaxIterations(options.maxIterations());
    if (options.workflowId() != null) {
      request.setWorkflowId(options.workflowId());
    }
    RunnerServiceBlockingStub stub = withDeadline(blocking, options.deadline());
    return RunResult.of(unary(() -> stub.run(request.build())).getResult());
  }

  /** Starts {@code graph} and streams its events with default options. */
  public EventStream iter(String graph, Map<String, ?> values) {
    return iter(graph, values, RunOptions.DEFAULT);
  }

  /**
   * Starts {@code graph} and streams its events, ending with RunEnded. Close the returned
   * stream to cancel the call (and, unless detached, stop the run).
   */
  public EventStream iter(String graph, Map<String, ?> values, RunOptions options) {
    IterRequest request = iterRequest(graph, values, options);
    RunnerServiceBlockingStub stub = withDeadline(blocking, options.deadline());
    return blockingStream(() -> stub.iter(request));
  }

  /**
   * Attaches to a workflow's events after {@code afterSeq}, then follows it until RunEnded,
   * resuming by itself after a lost connection ({@link WatchOptions#DEFAULT}).
   */
  public EventStream watch(String workflowId, long afterSeq) {
    return watch(workflowId, afterSeq, WatchOptions.DEFAULT);
  }

  /**
   * Attaches to a workflow's events after {@code afterSeq} (0: from the first), then follows
   * it until RunEnded. With {@link WatchOptions#resume()} (the default), a lost connection
   * (UNAVAILABLE) calls Watch again after the last seq returned and the same stream goes on,
   * without losing or repeating an event. An unknown workflow fails NOT_FOUND. When the events
   * right after the seq are no longer kept, the first event is EventsLost naming them.
   */
  public EventStream watch(String workflowId, long afterSeq, WatchOptions options) {
    LongFunction<Iterator<Event>> open = seq -> blocking.watch(WatchRequest.newBuilder()
        .setWorkflowId(workflowId)
        .setAfterSeq(seq)
        .build());
    return blockingStream(() -> open.apply(afterSeq), options.resume() ? open : null, afterSeq);
  }

  /** The text the run streams, token by token, with default options. */
  public Stream<String> streamText(String graph, Map<String, ?> values) {
    return streamText(graph, values, RunOptions.DEFAULT);
  }

  /**
   * The text the run streams, token by token (merged chunks come as one string). Closing the
   * stream cancels the call. Throws {@link RunFailedException} at the end if a node raised.
   * It asks for the text view ({@link RunOptions#textView()}), which costs the server less.
   */
  public Stream<String> streamText(String graph, Map<String, ?> values, RunOptions options) {
    EventStream events = iter(graph, values, options.toBuilder().textView(true).build());
    return events.stream()
        .map(event -> {
          RunResult result = Events.result(event);
          if (result != null && result.status() == RunResult.Status.FAILED) {
            throw new RunFailedException(result);
          }
          return Events.text(event);
        })
        .filter(Objects::nonNull);
  }

  /** Starts {@code graph} with default options and delivers its events to {@code observer}. */
  public IterCall iterAsync(String graph, Map<String, ?> values, StreamObserver<Event> observer) {
    return iterAsync(graph, values, RunOptions.DEFAULT, observer);
  }

  /**
   * Starts {@code graph} and delivers its events to {@code observer} on gRPC's threads.
   * Errors arrive as {@link HypergraphException}. The returned handle cancels the call and
   * offers the run's result as a future.
   */
  public IterCall iterAsync(String graph, Map<String, ?> values, RunOptions options,
      StreamObserver<Event> observer) {
    IterRequest request = iterRequest(graph, values, options);
    CompletableFuture<RunResult> result = new CompletableFuture<>();
    IterObserver adapter = new IterObserver(observer, result);
    withDeadline(async, options.deadline()).iter(request, adapter);
    // The stub called beforeStart before returning, so the call to cancel is known here.
    return new IterCall(adapter.call, result);
  }

  /** Asks a live workflow to stop, with no info and no grace. */
  public StopOutcome stop(String workflowId) {
    return stop(workflowId, Map.of(), null);
  }

  /** Asks a live workflow to stop, recording {@code info} as its stop_info. */
  public StopOutcome stop(String workflowId, Map<String, ?> info) {
    return stop(workflowId, info, null);
  }

  /**
   * Asks a live workflow to stop; after {@code grace} (null: none), nodes still running are
   * cancelled. Idempotent. The outcome says whether a live run was reached ({@code found}: it
   * will end STOPPED), which run, and its state after the request.
   */
  public StopOutcome stop(String workflowId, Map<String, ?> info, Duration grace) {
    StopRequest.Builder request = StopRequest.newBuilder()
        .setWorkflowId(workflowId)
        .setInfo(struct(info));
    if (grace != null) {
      request.setGrace(com.google.protobuf.Duration.newBuilder()
          .setSeconds(grace.getSeconds())
          .setNanos(grace.getNano()));
    }
    return stop(request.build());
  }

  /** Sends a StopRequest as it is. */
  public StopOutcome stop(StopRequest request) {
    return StopOutcome.of(unary(() -> blocking.stop(request)));
  }

  /** Shuts down the channel if this client opened it (connect); else does nothing. */
  @Override
  public void close() {
    if (owned == null) {
      return;
    }
    owned.shutdown();
    try {
      if (!owned.awaitTermination(5, TimeUnit.SECONDS)) {
        owned.shutdownNow();
      }
    } catch (InterruptedException e) {
      owned.shutdownNow();
      Thread.currentThread().interrupt();
    }
  }

  private static <R> R unary(Supplier<R> call) {
    try {
      return call.get();
    } catch (StatusRuntimeException e) {
      throw HypergraphException.from(e);
    }
  }

  private static EventStream blockingStream(Supplier<Iterator<Event>> call) {
    return blockingStream(call, null, 0);
  }

  /** A blocking stream; a non-null {@code reopen(seq)} resumes it after UNAVAILABLE. */
  private static EventStream blockingStream(Supplier<Iterator<Event>> call,
      LongFunction<Iterator<Event>> reopen, long afterSeq) {
    // A context of our own, child of the caller's: closing the stream cancels just this call
    // (and any call resuming it), while cancelling the caller's context still reaches it. The
    // stub starts the call inside context.call, so the call is bound to that context.
    Context.CancellableContext context = Context.current().withCancellation();
    try {
      Iterator<Event> events = context.call(call::get);
      return new EventStream(context, events, reopen, afterSeq);
    } catch (Exception e) {
      context.cancel(e);
      throw HypergraphException.from(e);
    }
  }

  private static IterRequest iterRequest(String graph, Map<String, ?> values,
      RunOptions options) {
    IterRequest.Builder request = IterRequest.newBuilder()
        .setGraph(graph)
        .setValues(struct(values))
        .addAllSelect(options.select())
        .setMaxIterations(options.maxIterations())
        .setOptions(StreamOptions.newBuilder()
            .setDetach(options.detach())
            .setDisableMerge(options.disableMerge())
            .setMaxQueuedEvents(options.maxQueuedEvents())
            .setMaxChunkBytes(options.maxChunkBytes())
            .setView(options.textView() ? EventView.EVENT_VIEW_TEXT
                : EventView.EVENT_VIEW_UNSPECIFIED));
    if (options.workflowId() != null) {
      request.setWorkflowId(options.workflowId());
    }
    return request.build();
  }

  /** The stub with a deadline counted from now, or the stub itself when there is none. */
  private static <S extends AbstractStub<S>> S withDeadline(S stub, Duration deadline) {
    return deadline == null ? stub : stub.withDeadlineAfter(deadline.toNanos(), TimeUnit.NANOSECONDS);
  }

  private static Struct struct(Map<String, ?> values) {
    return values == null ? Struct.getDefaultInstance() : Values.toStruct(values);
  }

  /** Feeds the caller's observer and completes the result future; keeps the call for cancel. */
  private static final class IterObserver implements ClientResponseObserver<IterRequest, Event> {
    private final StreamObserver<Event> observer;
    private final CompletableFuture<RunResult> result;
    private volatile ClientCallStreamObserver<IterRequest> call;

    IterObserver(StreamObserver<Event> observer, CompletableFuture<RunResult> result) {
      this.observer = observer;
      this.result = result;
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<IterRequest> requestStream) {
      this.call = requestStream;
    }

    @Override
    public void onNext(Event event) {
      RunResult ended = Events.result(event);
      observer.onNext(event);
      if (ended != null) {
        result.complete(ended);
      }
    }

    @Override
    public void onError(Throwable t) {
      HypergraphException e = HypergraphException.from(t);
      result.completeExceptionally(e);
      observer.onError(e);
    }

    @Override
    public void onCompleted() {
      if (!result.isDone()) {
        result.completeExceptionally(new IllegalStateException(
            "the Iter stream ended without a RunEnded event"));
      }
      observer.onCompleted();
    }
  }
}
