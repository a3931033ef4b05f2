"""LLM nodes against fake provider endpoints with the real anthropic/openai SDKs, through the real runner."""

from __future__ import annotations

import asyncio

import pytest
from fakes import Script
from llm_helpers import Recorder, run_graph, stop_after

from hypergraph import AsyncRunner, Graph, RunStatus
from hypergraph_grpc.llm import ProviderError, chat_node

TOKENS = [f"t{i} " for i in range(25)]
END_REASON = {"anthropic": "end_turn", "openai": "completed"}


@pytest.mark.asyncio
async def test_tokens_arrive_in_order_and_complete(provider_fake):
    """Every token becomes one chunk, in order; the output is the whole text; the stream completed."""
    name, fake = provider_fake
    fake.script = Script.numbered(25)
    result, rec = await run_graph(Graph([chat_node(name)]), {"prompt": "count to 25"})
    assert result.status == RunStatus.COMPLETED, result.error
    assert rec.chunks == TOKENS
    assert result["response"] == "".join(TOKENS)
    record = fake.wait_disconnect()
    assert record.completed and not record.client_disconnected


@pytest.mark.asyncio
async def test_c37_usage_and_stop_reason_reported(provider_fake):
    """C37: input/output tokens, stop reason, provider and model on NodeEndEvent.usage and RunResult.usage."""
    name, fake = provider_fake
    fake.script = Script.numbered(25, input_tokens=17)
    result, rec = await run_graph(Graph([chat_node(name)]), {"prompt": "hi", "model": "model-x"})
    expected = {
        "input_tokens": 17,
        "output_tokens": 25,
        "stop_reason": END_REASON[name],
        "provider": name,
        "model": "model-x",
    }
    assert rec.node_usage["generate"] == expected
    assert result.usage == expected


@pytest.mark.asyncio
async def test_max_tokens_stop_reason(provider_fake):
    """A length-limited answer reports the provider's own reason (max_tokens / max_output_tokens)."""
    name, fake = provider_fake
    fake.script = Script.numbered(5, stop_reason="max_tokens")
    result, _ = await run_graph(Graph([chat_node(name)]), {"prompt": "hi", "max_tokens": 5})
    assert (
        result.usage["stop_reason"]
        == {"anthropic": "max_tokens", "openai": "max_output_tokens"}[name]
    )
    body = fake.requests[0].body
    assert body.get("max_tokens", body.get("max_output_tokens")) == 5


@pytest.mark.asyncio
async def test_request_carries_model_system_and_prompt(provider_fake):
    """The node sends the model, the system prompt (Anthropic `system`, OpenAI `instructions`) and the prompt."""
    name, fake = provider_fake
    await run_graph(
        Graph([chat_node(name)]), {"prompt": "Why?", "system": "Be brief.", "model": "m-1"}
    )
    body = fake.requests[0].body
    assert body["model"] == "m-1" and body["stream"] is True
    if name == "anthropic":
        assert body["system"] == "Be brief." and body["messages"] == [
            {"role": "user", "content": "Why?"}
        ]
    else:
        assert body["instructions"] == "Be brief." and body["input"] == [
            {"role": "user", "content": "Why?"}
        ]


@pytest.mark.asyncio
async def test_c44_stop_mid_generation_closes_upstream_and_keeps_partial(provider_fake):
    """C44: a stop mid-stream closes the upstream HTTP stream (the fake sees the hang-up); the run ends
    STOPPED with exactly the text streamed; usage says stop_requested."""
    name, fake = provider_fake
    fake.script = Script.numbered(1000, delay=0.002)
    runner, rec = AsyncRunner(), Recorder()
    stopper = asyncio.create_task(stop_after(runner, "wf-stop", rec, 5))
    result = await runner.run(
        Graph([chat_node(name)]), {"prompt": "go"}, workflow_id="wf-stop", event_processors=[rec]
    )
    assert await stopper is True
    assert result.status == RunStatus.STOPPED
    assert result.stop_info == {"kind": "user_stop"}
    assert result["response"] == "".join(rec.chunks)
    assert len(rec.chunks) >= 5
    record = fake.wait_disconnect()
    assert record.client_disconnected and not record.completed and record.tokens_sent < 1000
    assert result.usage["stop_reason"] == "stop_requested"
    assert result.usage["output_tokens"] == len(rec.chunks)


@pytest.mark.asyncio
async def test_stop_while_upstream_is_silent_hangs_up_without_waiting(provider_fake):
    """A stop while the provider has sent no token yet still closes the connection: no token is ever read."""
    name, fake = provider_fake
    fake.script = Script.numbered(5, first_token_delay=30)
    runner = AsyncRunner()

    async def stop_when_requested():
        await asyncio.to_thread(fake.wait_for, lambda: fake.streams, 10)
        return runner.stop("wf-silent", info={"kind": "user_stop"})

    stopper = asyncio.create_task(stop_when_requested())
    result = await runner.run(Graph([chat_node(name)]), {"prompt": "go"}, workflow_id="wf-silent")
    assert await stopper is True
    assert result.status == RunStatus.STOPPED and result["response"] == ""
    record = fake.wait_disconnect()
    assert record.client_disconnected and record.tokens_sent == 0


@pytest.mark.asyncio
async def test_cancelling_the_run_closes_upstream(provider_fake):
    """Cancelling the task awaiting run() (forced stop) cancels the node, which closes the upstream stream."""
    name, fake = provider_fake
    fake.script = Script.numbered(1000, delay=0.002)
    rec = Recorder()
    task = asyncio.create_task(
        AsyncRunner().run(Graph([chat_node(name)]), {"prompt": "go"}, event_processors=[rec])
    )
    await rec.first.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    record = fake.wait_disconnect()
    assert record.client_disconnected and record.tokens_sent < 1000


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (401, ["HTTP 401", "API key", "_API_KEY"]),
        (400, ["HTTP 400", "invalid", "check the model name"]),
        (403, ["HTTP 403", "permission"]),
    ],
)
@pytest.mark.asyncio
async def test_error_status_before_first_token_fails_the_run(provider_fake, status, words):
    """An HTTP error before the first token: FAILED; the error names the provider, the status and what to do."""
    name, fake = provider_fake
    fake.script = Script(always_error=status)
    result, rec = await run_graph(Graph([chat_node(name)]), {"prompt": "hi"})
    assert result.status == RunStatus.FAILED
    assert isinstance(result.error, ProviderError)
    message = str(result.error)
    assert message.startswith(f"{name}: ")
    for word in words:
        assert word in message
    assert "How to fix" in message
    assert len(fake.requests) == 1  # not retried
    assert "retries" not in result.usage
    assert rec.chunks == []
    assert result.usage["stop_reason"] == "error"


@pytest.mark.parametrize("status", [429, 529, 503])
@pytest.mark.asyncio
async def test_retryable_status_is_retried_then_reported(provider_fake, status, monkeypatch):
    """Rate limits and overload are retried (bounded) before the first token, then reported with advice."""
    name, fake = provider_fake
    monkeypatch.setenv("HYPERGRAPH_LLM_RETRIES", "2")
    fake.script = Script(always_error=status, retry_after="0")
    result, _ = await run_graph(Graph([chat_node(name)]), {"prompt": "hi"})
    assert result.status == RunStatus.FAILED
    assert len(fake.requests) == 3
    assert result.usage["retries"] == 2
    message = str(result.error)
    assert f"HTTP {status}" in message and "3 attempts" in message and "wait and retry" in message


@pytest.mark.asyncio
async def test_transient_error_then_success_completes(provider_fake):
    """An overloaded answer then a good one: the retry completes the run, tokens are streamed once."""
    name, fake = provider_fake
    fake.script = Script.numbered(10, errors=[529 if name == "anthropic" else 503], retry_after="0")
    result, rec = await run_graph(Graph([chat_node(name)]), {"prompt": "hi"})
    assert result.status == RunStatus.COMPLETED
    assert rec.chunks == [f"t{i} " for i in range(10)]
    assert len(fake.requests) == 2
    assert result.usage["retries"] == 1  # counted for metrics (hypergraph_llm_retries)


@pytest.mark.asyncio
async def test_connection_cut_mid_stream_keeps_partial_text(provider_fake):
    """A cut after 4 tokens: no retry (text was shown); the node returns the 4 tokens plus a streamed
    "[Error: ...]" note naming the provider; usage stop_reason is "error"."""
    name, fake = provider_fake
    fake.script = Script.numbered(10, cut_after=4)
    result, rec = await run_graph(Graph([chat_node(name)]), {"prompt": "hi"})
    assert result.status == RunStatus.COMPLETED
    text = result["response"]
    assert text.startswith(
        "t0 t1 t2 t3 \n\n[Error: " + name + ": connection failed after 4 streamed chunk(s)"
    )
    assert "".join(rec.chunks) == text
    assert len(fake.requests) == 1
    assert result.usage["stop_reason"] == "error" and result.usage["output_tokens"] == 4


@pytest.mark.asyncio
async def test_error_event_mid_stream_keeps_partial_text(provider_fake):
    """An SSE error event (overloaded) mid-stream is reported like a cut: partial text kept, note added."""
    name, fake = provider_fake
    fake.script = Script.numbered(10, error_event_after=3)
    result, _ = await run_graph(Graph([chat_node(name)]), {"prompt": "hi"})
    assert result["response"].startswith(
        f"t0 t1 t2 \n\n[Error: {name}: the API sent an error event"
    )


@pytest.mark.asyncio
async def test_missing_api_key_fails_with_advice(fake_anthropic, monkeypatch):
    """provider=anthropic without ANTHROPIC_API_KEY: FAILED before any request, saying which variable to set."""
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    result, _ = await run_graph(Graph([chat_node()]), {"prompt": "hi", "provider": "anthropic"})
    assert result.status == RunStatus.FAILED
    assert "ANTHROPIC_API_KEY is not set" in str(result.error) and "provider=offline" in str(
        result.error
    )
    assert fake_anthropic.requests == []


@pytest.mark.asyncio
async def test_per_run_provider_input_overrides_environment(
    fake_anthropic, fake_openai, monkeypatch
):
    """HYPERGRAPH_PROVIDER picks the default; the `provider` input overrides it for one run."""
    monkeypatch.setenv("HYPERGRAPH_PROVIDER", "anthropic")
    graph = Graph([chat_node()])
    first, _ = await run_graph(graph, {"prompt": "hi"})
    second, _ = await run_graph(graph, {"prompt": "hi", "provider": "openai"})
    third, _ = await run_graph(graph, {"prompt": "hi", "provider": "offline", "max_tokens": 3})
    assert [r.usage["provider"] for r in (first, second, third)] == [
        "anthropic",
        "openai",
        "offline",
    ]
    assert len(fake_anthropic.requests) == 1 and len(fake_openai.requests) == 1


@pytest.mark.asyncio
async def test_unknown_provider_fails_naming_it():
    """An unknown provider name fails the run with the valid names."""
    result, _ = await run_graph(Graph([chat_node()]), {"prompt": "hi", "provider": "gemini"})
    assert result.status == RunStatus.FAILED
    assert "'gemini'" in str(result.error) and "offline, anthropic, openai" in str(result.error)


@pytest.mark.asyncio
async def test_c4_stop_already_requested_sends_no_request(fake_anthropic):
    """C4: a node called with a stop already requested (MagicMock(spec=NodeContext), as the guide's
    tests do) returns "" without calling the provider, and still reports usage."""
    from unittest.mock import MagicMock

    from hypergraph import NodeContext
    from hypergraph_grpc.llm import stream_reply

    ctx = MagicMock(spec=NodeContext)
    ctx.stop_requested = True
    assert await stream_reply(ctx, "hi", provider="anthropic") == ""
    assert fake_anthropic.requests == []
    ctx.report_usage.assert_called_once()
    assert ctx.report_usage.call_args.kwargs["stop_reason"] == "stop_requested"
    assert not ctx.stream.called


@pytest.mark.asyncio
async def test_a_failing_ctx_stream_is_not_reported_as_a_provider_error(fake_anthropic):
    """If ctx.stream() itself raises, that exception propagates unchanged (not a ProviderError) and the
    upstream stream is closed."""
    from unittest.mock import MagicMock

    from hypergraph import NodeContext
    from hypergraph_grpc.llm import stream_reply

    fake_anthropic.script = Script.numbered(1000, delay=0.002)
    ctx = MagicMock(spec=NodeContext)
    ctx.stop_requested = False
    ctx.stream.side_effect = RuntimeError("consumer broke")
    with pytest.raises(RuntimeError, match="consumer broke"):
        await stream_reply(ctx, "hi", provider="anthropic")
    record = fake_anthropic.wait_disconnect()
    assert record.client_disconnected and record.tokens_sent < 1000
    assert len(fake_anthropic.requests) == 1


@pytest.mark.asyncio
async def test_connection_cut_before_first_token_is_retried_then_reported(
    provider_fake, monkeypatch
):
    """A connection dropped before any text is retried (bounded), then FAILED naming the provider,
    what happened and what to do; no text reaches the client."""
    name, fake = provider_fake
    monkeypatch.setenv("HYPERGRAPH_LLM_RETRIES", "1")
    fake.script = Script.numbered(10, cut_after=0)
    result, rec = await run_graph(Graph([chat_node(name)]), {"prompt": "hi"})
    assert result.status == RunStatus.FAILED
    assert isinstance(result.error, ProviderError)
    message = str(result.error)
    assert message.startswith(f"{name}: connection")
    assert "before the first token (2 attempts)" in message
    assert f"How to fix: check the network and {name.upper()}_BASE_URL" in message
    assert len(fake.requests) == 2
    assert rec.chunks == []
