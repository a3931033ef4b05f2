"""Guide "Basic Pattern" and "Streaming in RAG Pipelines", run as written against a fake Anthropic endpoint."""

from __future__ import annotations

import pytest
from fakes import Script
from fakes.provider import DEFAULT_TOKENS

from hypergraph import RunStatus

EXPECTED = "".join(DEFAULT_TOKENS)


def test_c15_basic_graph_inputs(load_example):
    """C15: the guide's basic graph needs `messages`; `system` is optional."""
    basic = load_example("basic")
    assert basic.graph.inputs.required == ("messages",)
    assert basic.graph.inputs.optional == ("system",)


@pytest.mark.asyncio
async def test_basic_pattern_runs_as_written(load_example, fake_anthropic):
    """The basic example's run() completes with the whole streamed text, sent through the real SDK."""
    basic = load_example("basic")
    result = await basic.main()
    assert result.status == RunStatus.COMPLETED
    assert result["response"] == EXPECTED
    [request] = fake_anthropic.requests
    assert request.path == "/v1/messages"
    assert request.body["system"] == "You are a helpful physics tutor."
    assert request.body["messages"] == [{"role": "user", "content": "Explain quantum computing"}]
    assert request.body["model"] == "claude-sonnet-4-5-20250929"
    assert fake_anthropic.wait_disconnect().completed


@pytest.mark.asyncio
async def test_c34_basic_pattern_chunks_equal_tokens(load_example, fake_anthropic):
    """C34: every token the endpoint sends becomes one StreamingChunkEvent, in order."""
    fake_anthropic.script = Script.numbered(50)
    basic = load_example("basic")
    from hypergraph import StreamingChunkEvent, TypedEventProcessor

    chunks: list[str] = []

    class Collect(TypedEventProcessor):
        def on_streaming_chunk(self, event: StreamingChunkEvent):
            chunks.append(event.chunk)

    result = await basic.runner.run(
        basic.graph,
        {"messages": [{"role": "user", "content": "count"}]},
        event_processors=[Collect()],
    )
    assert chunks == [f"t{i} " for i in range(50)]
    assert result["response"] == "".join(chunks)


def test_c15_rag_graph_inputs(load_example):
    """C15: the guide's RAG pipeline needs only `query`."""
    rag = load_example("rag")
    assert rag.rag_pipeline.inputs.required == ("query",)
    assert rag.rag_pipeline.inputs.optional == ()


@pytest.mark.asyncio
async def test_rag_pipeline_runs_as_written(load_example, fake_anthropic):
    """RAG: retrieve (stand-in embedder/vector_db, k=5) feeds the streamed generation's system prompt."""
    rag = load_example("rag")
    result = await rag.main()
    assert result.status == RunStatus.COMPLETED
    assert len(result["docs"]) == 5
    assert result["docs"][0] == "use hypergraph by decorating functions with @node"
    assert result["response"] == EXPECTED
    [request] = fake_anthropic.requests
    assert request.body["max_tokens"] == 2048
    assert request.body["system"] == "Answer based on this context:\n" + "\n\n---\n\n".join(
        result["docs"]
    )
    assert request.body["messages"] == [{"role": "user", "content": "How do I use hypergraph?"}]
