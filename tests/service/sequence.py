"""The seq rule every stream of a run follows (docs/protocol.md, "seq")."""

from __future__ import annotations


def step(event) -> int:
    """How far seq advances at ``event``: merged for a chunk, the range for EventsLost, else 1."""
    kind = event.WhichOneof("kind")
    if kind == "streaming_chunk":
        return event.streaming_chunk.merged or 1
    if kind == "events_lost":
        return event.events_lost.last_seq - event.events_lost.first_seq + 1
    return 1


def assert_seq_counts_calls(events, after_seq: int = 0) -> None:
    """seq[i] = seq[i-1] + step(event i), starting after ``after_seq``: no other gaps."""
    previous = after_seq
    for index, event in enumerate(events):
        assert event.seq == previous + step(event), (
            f"event {index} ({event.WhichOneof('kind')}) has seq {event.seq}, "
            f"expected {previous + step(event)}"
        )
        previous = event.seq
