"""Guide "Error Handling in Streams": safe_stream keeps the partial text when the stream breaks."""

from __future__ import annotations

import anthropic
import pytest
from fakes import Script

from hypergraph import AsyncRunner, Graph, RunStatus


@pytest.mark.asyncio
async def test_safe_stream_cut_mid_stream_returns_partial_and_note(load_example, fake_anthropic):
    """A connection cut after 3 tokens: the node returns the 3 tokens plus "[Error: ...]"; the run completes."""
    fake_anthropic.script = Script.numbered(10, cut_after=3)
    example = load_example("safe_stream")
    result = await AsyncRunner().run(Graph([example.safe_stream]), {"prompt": "hi"})
    assert result.status == RunStatus.COMPLETED
    text = result["response"]
    assert text.startswith("t0 t1 t2 \n\n[Error: ")
    assert "incomplete chunked read" in text or "peer closed" in text
    assert fake_anthropic.streams[0].cut


@pytest.mark.asyncio
async def test_safe_stream_error_before_first_token_is_raised(load_example, fake_anthropic):
    """An HTTP 400 before any token: safe_stream re-raises; run() re-raises it (C30), "continue" gives FAILED."""
    fake_anthropic.script = Script(always_error=400)
    example = load_example("safe_stream")
    graph = Graph([example.safe_stream])
    with pytest.raises(anthropic.BadRequestError):
        await AsyncRunner().run(graph, {"prompt": "hi"})
    result = await AsyncRunner().run(graph, {"prompt": "hi"}, error_handling="continue")
    assert result.status == RunStatus.FAILED
    assert isinstance(result.error, anthropic.BadRequestError)
    assert "response" not in result
