"""Guide "Multi-Turn Streaming with Stop": the route/END loop, and runner.stop() from another coroutine."""

from __future__ import annotations

import asyncio

import pytest
from fakes import Script

from hypergraph import AsyncRunner, RunStatus, StreamingChunkEvent, TypedEventProcessor

SEED = {"messages": [], "user_input": "Tell me more"}


class _FirstChunk(TypedEventProcessor):
    """Not in the guide: sets an asyncio.Event at the first streamed chunk."""

    def __init__(self) -> None:
        self.seen = asyncio.Event()
        self.chunks: list[str] = []

    def on_streaming_chunk(self, event: StreamingChunkEvent):
        self.chunks.append(event.chunk)
        self.seen.set()


def test_c16_multi_turn_graph_builds_with_inferred_entrypoint(load_example):
    """C16/C15: Graph([stream_turn, update_history, should_continue]) builds; entrypoint stream_turn; seeds required."""
    mt = load_example("multi_turn")
    assert tuple(mt.streaming_chat.entrypoints) == ("stream_turn",)
    assert set(mt.streaming_chat.inputs.required) == {"messages", "user_input"}


@pytest.mark.asyncio
async def test_c22_loop_runs_ten_turns_to_twenty_messages(load_example, fake_anthropic):
    """C22: the loop streams 10 turns and ends COMPLETED at 20 messages; each turn sends the growing history."""
    mt = load_example("multi_turn")
    result = await AsyncRunner().run(mt.streaming_chat, SEED)
    assert result.status == RunStatus.COMPLETED
    assert len(result["messages"]) == 20
    assert len(fake_anthropic.requests) == 10
    sizes = [len(r.body["messages"]) for r in fake_anthropic.requests]
    assert sizes == [1, 3, 5, 7, 9, 11, 13, 15, 17, 19]
    assert result["messages"][1] == {"role": "assistant", "content": "Hello, I am a fake model."}


@pytest.mark.asyncio
async def test_c45_stop_from_another_coroutine_ends_the_loop_stopped(load_example, fake_anthropic):
    """C45: runner.stop(workflow_id, info=...) from another coroutine ends the loop STOPPED before 20 messages.

    The guide's sync client blocks the event loop while it streams, so the
    stopping coroutine only runs between turns (guide note 2).
    """
    fake_anthropic.script = Script.numbered(20, delay=0.001)
    mt = load_example("multi_turn")
    runner, first = AsyncRunner(), _FirstChunk()
    workflow_id = "chat-42"

    async def stop_soon():
        await first.seen.wait()
        return runner.stop(workflow_id, info={"kind": "user_stop"})

    stopper = asyncio.create_task(stop_soon())
    result = await runner.run(
        mt.streaming_chat, SEED, workflow_id=workflow_id, event_processors=[first]
    )
    assert await stopper is True
    assert result.status == RunStatus.STOPPED
    assert result.stop_info == {"kind": "user_stop"}
    assert len(result.values.get("messages", [])) < 20
    assert len(fake_anthropic.requests) < 10


@pytest.mark.asyncio
async def test_c45_async_client_stop_lands_mid_stream(load_example, fake_anthropic):
    """C45: with AsyncAnthropic (the only change) the stop lands mid-stream: the endpoint sees the
    client hang up, and the partial response equals exactly the text streamed (C44)."""
    fake_anthropic.script = Script.numbered(1000, delay=0.002)
    mt = load_example("multi_turn_async")
    runner, first = AsyncRunner(), _FirstChunk()

    async def stop_after_some_tokens():
        await first.seen.wait()
        while len(first.chunks) < 5:
            await asyncio.sleep(0.001)
        return runner.stop("chat-43", info={"kind": "user_stop"})

    stopper = asyncio.create_task(stop_after_some_tokens())
    result = await runner.run(
        mt.streaming_chat, SEED, workflow_id="chat-43", event_processors=[first]
    )
    assert await stopper is True
    assert result.status == RunStatus.STOPPED and result.stop_info == {"kind": "user_stop"}
    record = fake_anthropic.wait_disconnect()
    assert record.client_disconnected and not record.completed
    assert 5 <= record.tokens_sent < 1000
    assert result["response"] == "".join(first.chunks)
    assert len(fake_anthropic.requests) == 1
