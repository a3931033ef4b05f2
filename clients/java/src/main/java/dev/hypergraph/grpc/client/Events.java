package dev.hypergraph.grpc.client;

import dev.hypergraph.grpc.v1.Event;
import dev.hypergraph.grpc.v1.StreamingChunk;

/** Small readers of {@link Event}s: the text of a chunk, the result of RunEnded. */
public final class Events {
  private Events() {}

  /** The text of a text StreamingChunk (merged chunks hold several tokens), else null. */
  public static String text(Event event) {
    if (event.getKindCase() == Event.KindCase.STREAMING_CHUNK
        && event.getStreamingChunk().getPayloadCase() == StreamingChunk.PayloadCase.TEXT) {
      return event.getStreamingChunk().getText();
    }
    return null;
  }

  /** How many ctx.stream() calls a StreamingChunk holds (1 unless merged); 0 for others. */
  public static int chunkCount(Event event) {
    if (event.getKindCase() != Event.KindCase.STREAMING_CHUNK) {
      return 0;
    }
    return Math.max(1, event.getStreamingChunk().getMerged());
  }

  /** The value of a non-text, non-bytes StreamingChunk as a native value, else null. */
  public static Object value(Event event) {
    if (event.getKindCase() == Event.KindCase.STREAMING_CHUNK
        && event.getStreamingChunk().getPayloadCase() == StreamingChunk.PayloadCase.VALUE) {
      return Values.toJava(event.getStreamingChunk().getValue());
    }
    return null;
  }

  /** The RunResult of a RunEnded event (the last event of a run), else null. */
  public static RunResult result(Event event) {
    if (event.getKindCase() == Event.KindCase.RUN_ENDED) {
      return RunResult.of(event.getRunEnded().getResult());
    }
    return null;
  }
}
