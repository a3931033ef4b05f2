"""Guide "Consuming Streaming Events": the event processor (C53) and `.iter()` (C48) options."""

from __future__ import annotations

import pytest
from fakes import Script

from hypergraph import RunEndEvent, RunStartEvent, RunStatus

TOKENS = [f"t{i} " for i in range(30)]


@pytest.mark.asyncio
async def test_c53_stream_to_websocket_gets_every_chunk_in_order(load_example, fake_anthropic):
    """C53: StreamToWebSocket(TypedEventProcessor).on_streaming_chunk sees every chunk, in order, via run()."""
    fake_anthropic.script = Script.numbered(30)
    consuming = load_example("consuming")
    result = await consuming.option_1()
    assert result.status == RunStatus.COMPLETED
    assert consuming.websocket.sent == TOKENS
    assert result["response"] == "".join(TOKENS)


@pytest.mark.asyncio
async def test_c48_iter_example_verbatim(load_example, fake_anthropic):
    """C48: the guide's `async with runner.iter(...)` / `match` loop forwards every chunk; the run completes."""
    fake_anthropic.script = Script.numbered(30)
    consuming = load_example("consuming")
    handle = await consuming.option_2()
    assert consuming.sent_to_client == TOKENS
    assert handle.workflow_id == "chat-1"


@pytest.mark.asyncio
async def test_c48_iter_yields_all_events_in_order_then_result(load_example, fake_anthropic):
    """C48: iter() yields RunStartEvent first, RunEndEvent last, seq without gaps; result() returns the result."""
    fake_anthropic.script = Script.numbered(30)
    basic = load_example("basic")
    values = {"messages": [{"role": "user", "content": "hi"}]}
    async with basic.runner.iter(basic.graph, workflow_id="chat-1", **values) as handle:
        events = [event async for event in handle]
        result = await handle.result()
    assert isinstance(events[0], RunStartEvent) and isinstance(events[-1], RunEndEvent)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert result.status == RunStatus.COMPLETED and result["response"] == "".join(TOKENS)
