"""The demo graphs (chat, rag, multi_turn) on the runtime, offline and against a fake provider."""

from __future__ import annotations

import asyncio

import pytest
from fakes import Script
from llm_helpers import Recorder, run_graph, stop_after

from hypergraph import AsyncRunner, RunStatus
from hypergraph_grpc.demo import GRAPHS
from hypergraph_grpc.demo.corpus import DOCS, Retriever

FAST = {"tokens_per_second": 0}


def test_demo_graph_names_inputs_and_docs():
    """GRAPHS has chat, rag, multi_turn with the documented inputs; every node has a docstring."""
    assert set(GRAPHS) == {"chat", "rag", "multi_turn"}
    assert GRAPHS["chat"].inputs.required == ("prompt",)
    assert GRAPHS["rag"].inputs.required == ("query",)
    assert set(GRAPHS["multi_turn"].inputs.required) == {"messages", "user_input"}
    assert "max_turns" in GRAPHS["multi_turn"].inputs.optional
    for graph in GRAPHS.values():
        for node in graph.nodes.values():
            assert node.func.__doc__, node.name


@pytest.mark.asyncio
async def test_chat_offline():
    result, rec = await run_graph(GRAPHS["chat"], {"prompt": "Hello there", **FAST})
    assert result.status == RunStatus.COMPLETED
    assert result["response"] == "".join(rec.chunks) and "Hello there" in result["response"]


@pytest.mark.asyncio
async def test_chat_against_fake_anthropic(fake_anthropic):
    """With ANTHROPIC_API_KEY set (auto), chat streams from the Anthropic endpoint."""
    fake_anthropic.script = Script.numbered(12)
    result, rec = await run_graph(GRAPHS["chat"], {"prompt": "Hi", "system": "Be nice."})
    assert rec.chunks == [f"t{i} " for i in range(12)]
    assert fake_anthropic.requests[0].body["system"] == "Be nice."
    assert result.usage["provider"] == "anthropic"


def test_retriever_ranks_relevant_passages_first():
    retriever = Retriever(DOCS)
    assert "runner.stop" in retriever.search("how do I stop a workflow", k=1)[0]
    assert "Routing" in retriever.search("route END loop", k=1)[0]
    assert len(retriever.search("anything", k=3)) == 3
    with pytest.raises(ValueError, match="k must be"):
        retriever.search("x", k=0)


@pytest.mark.asyncio
async def test_rag_retrieves_then_streams_with_context(fake_openai):
    """rag: docs retrieved for the query go into the model's instructions; the answer is streamed."""
    result, rec = await run_graph(GRAPHS["rag"], {"query": "How do I stream tokens?", "k": 2})
    assert result.status == RunStatus.COMPLETED
    assert len(result["docs"]) == 2 and "ctx.stream" in result["docs"][0]
    instructions = fake_openai.requests[0].body["instructions"]
    assert (
        instructions.startswith("Answer based on this context:")
        and result["docs"][0] in instructions
    )
    assert result["response"] == "".join(rec.chunks)


@pytest.mark.asyncio
async def test_rag_offline_quotes_the_best_passage():
    """rag offline: the stand-in's answer quotes the first retrieved passage."""
    result, _ = await run_graph(GRAPHS["rag"], {"query": "How do I stop a workflow?", **FAST})
    assert f"From the context: {result['docs'][0]}" in result["response"]
    assert "runner.stop" in result["docs"][0]


@pytest.mark.asyncio
async def test_multi_turn_ends_at_max_turns():
    """multi_turn: history grows by two per turn and the loop ends at 2 * max_turns messages."""
    result, _ = await run_graph(
        GRAPHS["multi_turn"], {"messages": [], "user_input": "Go on", "max_turns": 3, **FAST}
    )
    assert result.status == RunStatus.COMPLETED
    messages = result["messages"]
    assert len(messages) == 6
    assert [m["role"] for m in messages] == ["user", "assistant"] * 3
    assert messages[5]["content"].startswith('[offline stand-in, turn 3] You asked: "Go on".')
    assert result.usage["provider"] == "offline"


@pytest.mark.asyncio
async def test_multi_turn_stop_mid_turn(fake_anthropic):
    """A stop during a turn ends multi_turn STOPPED with the partial answer and fewer messages."""
    fake_anthropic.script = Script.numbered(500, delay=0.002)
    runner, rec = AsyncRunner(), Recorder()
    stopper = asyncio.create_task(stop_after(runner, "mt-1", rec, 3))
    result = await runner.run(
        GRAPHS["multi_turn"],
        {"messages": [], "user_input": "Go"},
        workflow_id="mt-1",
        event_processors=[rec],
    )
    assert await stopper
    assert result.status == RunStatus.STOPPED
    assert result["response"] == "".join(rec.chunks)
    assert fake_anthropic.wait_disconnect().client_disconnected
