"""The SSE decoder the Anthropic node reads events with: framing per the WHATWG spec."""

from __future__ import annotations

import pytest

from hypergraph_grpc.llm.sse import sse_events

TEXT = (
    b'event: a\ndata: {"x":1}\n\n'
    b": a comment\nevent: b\r\ndata: l1\r\ndata: l2\r\n\r\n"
    b"data:no-space\rdata: nameless\r\r"
    b"event: c\ndata: incomplete"
)
EXPECTED = [("a", '{"x":1}'), ("b", "l1\nl2"), ("message", "no-space\nnameless")]


async def _collect(parts: list[bytes]):
    async def chunks():
        for part in parts:
            yield part

    return [event async for event in sse_events(chunks())]


@pytest.mark.asyncio
@pytest.mark.parametrize("size", [1, 2, 3, 7, len(TEXT)])
async def test_events_whatever_the_chunking(size):
    """LF, CRLF and CR line ends, comments, multi-line data, an unterminated event dropped,
    the same for every way the bytes are split (a CRLF split across chunks included)."""
    parts = [TEXT[i : i + size] for i in range(0, len(TEXT), size)]
    assert await _collect(parts) == EXPECTED
