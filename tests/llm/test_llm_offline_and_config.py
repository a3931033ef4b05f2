"""The offline stand-in model, provider selection and describe_provider()."""

from __future__ import annotations

import asyncio

import pytest
from llm_helpers import Recorder, run_graph, stop_after

from hypergraph import AsyncRunner, Graph, RunStatus
from hypergraph_grpc import llm
from hypergraph_grpc.llm import chat_node, offline_node
from hypergraph_grpc.llm.backends import offline_reply
from hypergraph_grpc.llm.call import Call
from hypergraph_grpc.llm.config import resolve_provider


@pytest.mark.asyncio
async def test_offline_is_deterministic_and_streams_every_token():
    """Two runs of the offline model give the same tokens; the output is their concatenation."""
    graph = Graph([offline_node(tokens_per_second=0)])
    first, rec1 = await run_graph(graph, {"prompt": "What is hypergraph?"})
    second, rec2 = await run_graph(graph, {"prompt": "What is hypergraph?"})
    assert rec1.chunks == rec2.chunks and len(rec1.chunks) > 20
    assert first["response"] == "".join(rec1.chunks)
    assert "What is hypergraph?" in first["response"]
    assert first.usage["provider"] == "offline" and first.usage["stop_reason"] == "end_turn"
    assert first.usage["output_tokens"] == len(rec1.chunks)


@pytest.mark.asyncio
async def test_offline_max_tokens_limits_the_answer():
    """max_tokens caps the offline answer and the stop reason says so."""
    result, rec = await run_graph(Graph([chat_node("offline")]), {"prompt": "hi", "max_tokens": 7})
    assert len(rec.chunks) == 7 and result.usage["stop_reason"] == "max_tokens"


@pytest.mark.asyncio
async def test_offline_pace_from_environment_and_stop(monkeypatch):
    """The offline model honours HYPERGRAPH_OFFLINE_TOKENS_PER_SECOND and stops mid-answer with its partial text."""
    monkeypatch.setenv("HYPERGRAPH_OFFLINE_TOKENS_PER_SECOND", "100")
    runner, rec = AsyncRunner(), Recorder()
    stopper = asyncio.create_task(stop_after(runner, "wf-off", rec, 3))
    result = await runner.run(
        Graph([chat_node("offline")]),
        {"prompt": "hi"},
        workflow_id="wf-off",
        event_processors=[rec],
    )
    assert await stopper
    assert result.status == RunStatus.STOPPED
    whole = offline_reply(Call("offline", "m", 1024, [{"role": "user", "content": "hi"}]))
    assert result["response"] == "".join(rec.chunks) and 3 <= len(rec.chunks) < len(whole)
    assert result.usage["stop_reason"] == "stop_requested"


def test_bad_offline_rate_is_explained(monkeypatch):
    monkeypatch.setenv("HYPERGRAPH_OFFLINE_TOKENS_PER_SECOND", "fast")
    with pytest.raises(ValueError, match="HYPERGRAPH_OFFLINE_TOKENS_PER_SECOND"):
        llm.config.resolve_rate()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "offline"),
        ({"OPENAI_API_KEY": "k"}, "openai"),
        ({"ANTHROPIC_API_KEY": "k", "OPENAI_API_KEY": "k"}, "anthropic"),
        ({"ANTHROPIC_API_KEY": "k", "HYPERGRAPH_PROVIDER": "offline"}, "offline"),
        ({"HYPERGRAPH_PROVIDER": "OpenAI"}, "openai"),
        ({"HYPERGRAPH_PROVIDER": "auto", "OPENAI_API_KEY": "k"}, "openai"),
    ],
)
def test_provider_selection(monkeypatch, env, expected):
    """auto = anthropic if its key is set, else openai if its key is set, else offline."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert resolve_provider() == expected


def test_describe_provider_lines(monkeypatch):
    """describe_provider() is one line saying which model answers and why."""
    assert llm.describe_provider() == "model: offline stand-in (no API key set; 50 tokens/s)"
    monkeypatch.setenv("HYPERGRAPH_PROVIDER", "anthropic")
    line = llm.describe_provider()
    assert (
        line.startswith("model: anthropic claude-sonnet-4-6")
        and "ANTHROPIC_API_KEY is NOT set" in line
    )
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    monkeypatch.setenv("HYPERGRAPH_PROVIDER", "auto")
    assert llm.describe_provider() == "model: openai gpt-5.2 (OPENAI_API_KEY set)"
    monkeypatch.setenv("HYPERGRAPH_PROVIDER", "bogus")
    assert "misconfigured" in llm.describe_provider() and "\n" not in llm.describe_provider()


def test_public_names():
    """hypergraph_grpc.llm exports exactly its documented names."""
    assert sorted(llm.__all__) == sorted(
        [
            "DEFAULT_MODELS",
            "PROVIDERS",
            "ProviderError",
            "anthropic_node",
            "chat_node",
            "describe_provider",
            "offline_node",
            "openai_node",
            "preload",
            "resolve_provider",
            "stream_reply",
        ]
    )
    for name in llm.__all__:
        assert getattr(llm, name) is not None


def test_preload_imports_the_configured_sdk(monkeypatch):
    """preload() imports the chosen provider's SDK up front; offline imports nothing; unknown is left to runs."""
    assert llm.preload() == "offline"
    assert llm.preload("bogus") == "unknown"
    monkeypatch.setenv("HYPERGRAPH_PROVIDER", "openai")
    assert llm.preload() == "openai"
    import sys

    assert "openai.resources.responses" in sys.modules
