"""Guide "Streaming with OpenAI" against a fake Responses endpoint with the real openai SDK.

As written it fails (guide note 1): `part.output_text` does not exist on the
stream's events. The corrected example reads `response.output_text.delta`
events' `delta`.
"""

from __future__ import annotations

from unittest.mock import MagicMock

import pytest
from fakes import Script

from hypergraph import (
    AsyncRunner,
    Graph,
    NodeContext,
    RunStatus,
    StreamingChunkEvent,
    TypedEventProcessor,
)

TOKENS = [f"t{i} " for i in range(25)]


@pytest.mark.asyncio
async def test_openai_example_as_written_raises_attribute_error(load_example, fake_openai):
    """Guide note 1: the example as written raises AttributeError on the first event (response.created)."""
    example = load_example("openai_as_written")
    result = await AsyncRunner().run(
        Graph([example.stream_openai]), {"prompt": "hi"}, error_handling="continue"
    )
    assert result.status == RunStatus.FAILED
    assert isinstance(result.error, AttributeError)
    assert "output_text" in str(result.error)


@pytest.mark.asyncio
async def test_corrected_openai_example_streams_every_delta(load_example, fake_openai):
    """The corrected example streams each `response.output_text.delta` event's `delta`, in order."""
    fake_openai.script = Script.numbered(25)
    example = load_example("openai_corrected")
    chunks: list[str] = []

    class Collect(TypedEventProcessor):
        def on_streaming_chunk(self, event: StreamingChunkEvent):
            chunks.append(event.chunk)

    graph = Graph([example.stream_openai])
    result = await AsyncRunner().run(
        graph, {"prompt": "hi", "instructions": "be brief"}, event_processors=[Collect()]
    )
    assert result.status == RunStatus.COMPLETED
    assert chunks == TOKENS and result["response"] == "".join(TOKENS)
    [request] = fake_openai.requests
    assert request.path == "/v1/responses"
    assert (
        request.body["input"] == "hi"
        and request.body["instructions"] == "be brief"
        and request.body["stream"] is True
    )


@pytest.mark.asyncio
async def test_c4_corrected_openai_example_with_mock_context(load_example, fake_openai):
    """C4: the corrected node is a plain async function: a MagicMock(spec=NodeContext) works; a stop ends it at once."""
    fake_openai.script = Script.numbered(25)
    example = load_example("openai_corrected")
    ctx = MagicMock(spec=NodeContext)
    ctx.stop_requested = False
    assert await example.stream_openai(prompt="hi", ctx=ctx) == "".join(TOKENS)
    assert ctx.stream.call_count == 25
    ctx = MagicMock(spec=NodeContext)
    ctx.stop_requested = True
    assert await example.stream_openai(prompt="hi", ctx=ctx) == ""
