"""The demo graphs end to end: real gRPC server subprocess, Python client, fake provider endpoints."""

from __future__ import annotations

import asyncio

import pytest
import pytest_asyncio
from fakes import FakeProvider, Script

from hypergraph_grpc.client import AsyncClient, NodeEnded, RunEnded, RunStatus, StreamingChunk
from tests.support.server_process import ServerProcess

TOKENS = [f"t{i} " for i in range(40)]


@pytest.fixture(scope="module")
def stack():
    """One server for the module; anthropic is the default provider, openai/offline per run."""
    anthropic, openai = FakeProvider("anthropic").start(), FakeProvider("openai").start()
    env = {
        **anthropic.env(),
        **openai.env(),
        "HYPERGRAPH_OFFLINE_TOKENS_PER_SECOND": "0",
        "HYPERGRAPH_LLM_RETRIES": "0",
    }
    server = ServerProcess("--provider", "anthropic", env=env)
    yield server, anthropic, openai
    server.stop()
    anthropic.stop()
    openai.stop()


@pytest.fixture
def fakes(stack):
    _, anthropic, openai = stack
    for fake in (anthropic, openai):
        fake.reset()
        fake.script = Script.numbered(40)
    return anthropic, openai


@pytest_asyncio.fixture
async def client(stack):
    async with AsyncClient(stack[0].target, timeout=30) as c:
        yield c


async def _collect(stream):
    chunks, node_ended, ended = [], [], None
    async for event in stream:
        if isinstance(event, StreamingChunk):
            chunks.append(event.text)
        elif isinstance(event, NodeEnded):
            node_ended.append(event)
        elif isinstance(event, RunEnded):
            ended = event
    return chunks, node_ended, ended


@pytest.mark.asyncio
async def test_list_graphs_shows_the_demo_graphs(client):
    graphs = {g.name: g for g in await client.list_graphs()}
    assert {"chat", "rag", "multi_turn"} <= set(graphs)
    assert "streams the model's answer" in graphs["chat"].description
    assert [i.name for i in graphs["chat"].inputs][0] == "prompt"
    # Every input and output of the demo graphs is described, so a client can build a form.
    for name in ("chat", "rag", "multi_turn"):
        graph = graphs[name]
        assert graph.description and graph.inputs and graph.outputs, name
        undescribed = [i.name for i in graph.inputs if not i.description]
        undescribed += [o.name for o in graph.outputs if not o.description]
        assert undescribed == [], f"{name}: no description for {undescribed}"


@pytest.mark.asyncio
async def test_chat_streams_tokens_and_usage_over_grpc(client, fakes):
    """chat over Iter: every token in order; usage and stop reason in NodeEnded.usage and RunResult.usage."""
    anthropic, _ = fakes
    anthropic.script = Script.numbered(40, input_tokens=9)
    chunks, node_ended, ended = await _collect(
        client.iter("chat", {"prompt": "count", "model": "m-grpc"})
    )
    assert "".join(chunks) == "".join(TOKENS)
    assert ended.result.status == RunStatus.COMPLETED
    assert ended.result.values["response"] == "".join(TOKENS)
    usage = {
        "input_tokens": 9,
        "output_tokens": 40,
        "stop_reason": "end_turn",
        "provider": "anthropic",
        "model": "m-grpc",
    }
    assert ended.result.usage == usage
    assert [e.usage for e in node_ended] == [usage]


@pytest.mark.asyncio
async def test_stop_over_grpc_closes_upstream_and_keeps_partial(client, fakes):
    """A Stop call from a second client mid-stream: STOPPED, response == streamed text, upstream hung up."""
    anthropic, _ = fakes
    anthropic.script = Script.numbered(2000, delay=0.002)
    chunks: list[str] = []
    ended = None
    async for event in client.iter("chat", {"prompt": "long"}, workflow_id="grpc-stop-1"):
        if isinstance(event, StreamingChunk):
            chunks.append(event.text)
            if len(chunks) == 5:
                async with AsyncClient(client.target) as other:
                    assert await other.stop("grpc-stop-1", {"kind": "user_stop"})
        elif isinstance(event, RunEnded):
            ended = event
    assert ended.result.status == RunStatus.STOPPED
    assert ended.result.stop_info == {"kind": "user_stop"}
    assert ended.result.values["response"] == "".join(chunks)
    assert ended.result.usage["stop_reason"] == "stop_requested"
    record = anthropic.wait_disconnect()
    assert record.client_disconnected and record.tokens_sent < 2000


@pytest.mark.asyncio
async def test_cancelled_iter_stops_run_and_upstream(client, fakes):
    """Dropping the Iter stream stops the run on the server, which hangs up on the provider."""
    anthropic, _ = fakes
    anthropic.script = Script.numbered(2000, delay=0.002)
    stream = client.iter("chat", {"prompt": "long"})
    async for event in stream:
        if isinstance(event, StreamingChunk):
            break
    stream.cancel()
    record = await asyncio.to_thread(anthropic.wait_disconnect, 10)
    assert record.client_disconnected and record.tokens_sent < 2000


@pytest.mark.asyncio
async def test_rag_over_openai_with_run(client, fakes):
    """rag over unary Run with provider=openai: docs retrieved, answer from the Responses endpoint."""
    _, openai = fakes
    result = await client.run(
        "rag", {"query": "How do I stop a run?", "provider": "openai", "k": 2}
    )
    assert result.status == RunStatus.COMPLETED
    assert len(result.values["docs"]) == 2 and "runner.stop" in result.values["docs"][0]
    assert result.values["response"] == "".join(TOKENS)
    assert result.usage["provider"] == "openai" and result.usage["stop_reason"] == "completed"
    assert openai.requests[0].body["instructions"].startswith("Answer based on this context:")


@pytest.mark.asyncio
async def test_multi_turn_offline_sums_usage_over_turns(client):
    """multi_turn with provider=offline: 2 turns -> 4 messages; output_tokens summed over both turns."""
    result = await client.run(
        "multi_turn", {"messages": [], "user_input": "Go on", "max_turns": 2, "provider": "offline"}
    )
    assert result.status == RunStatus.COMPLETED
    assert [m["role"] for m in result.values["messages"]] == ["user", "assistant"] * 2
    answers = [m["content"] for m in result.values["messages"][1::2]]
    assert result.usage["output_tokens"] == sum(len(a.split()) for a in answers)
    assert result.usage["provider"] == "offline"


@pytest.mark.asyncio
async def test_provider_error_is_a_failed_run_over_grpc(client, fakes):
    """HTTP 401 from the provider: RPC OK, RunResult FAILED with an error naming anthropic, 401 and the fix."""
    anthropic, _ = fakes
    anthropic.script = Script(always_error=401)
    result = await client.run("chat", {"prompt": "hi"})
    assert result.status == RunStatus.FAILED
    assert result.error.type.endswith("ProviderError")
    assert (
        "anthropic: HTTP 401" in result.error.message
        and "ANTHROPIC_API_KEY" in result.error.message
    )
    assert result.error.node == "reply"
