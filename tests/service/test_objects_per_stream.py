"""What an open stream costs the garbage collector: every object it keeps tracked is
walked by each collection while it is open, and with a thousand streams open those
walks are the pauses every stream's tokens wait through. The budget below is
today's count (server and in-process client together: ~150) plus a margin; a
change that adds objects per stream has to raise it on purpose."""

from __future__ import annotations

import asyncio
import gc

import pytest

from tests.service.conftest import iter_request

STREAMS = 40
# Server and in-process client together, per open Iter stream of the `tokens` graph.
TRACKED_OBJECTS_BUDGET = 170


async def _tracked_objects() -> int:
    gc.collect()
    return len(gc.get_objects())


@pytest.mark.asyncio
async def test_an_open_stream_keeps_a_bounded_number_of_tracked_objects(harness):
    async def open_stream():
        call = harness.stub.Iter(iter_request("tokens", count=100_000, delay_ms=50))
        while (await call.read()).WhichOneof("kind") != "streaming_chunk":
            pass
        return call

    warm = await open_stream()  # first-call caches (handlers, codecs) are not per stream
    before = await _tracked_objects()
    calls = [await open_stream() for _ in range(STREAMS)]
    per_stream = (await _tracked_objects() - before) / STREAMS
    for call in (*calls, warm):
        call.cancel()
    await asyncio.sleep(0.1)
    print(f"tracked objects per open stream: {per_stream:.1f}")
    assert per_stream <= TRACKED_OBJECTS_BUDGET
