"""C4: the guide's "Testing Streaming Nodes" tests, verbatim, with MagicMock(spec=NodeContext).

`stream_response` is the basic example's node, imported afresh (its module-level
``client = Anthropic()``) once the fake endpoint is up.
"""

from unittest.mock import MagicMock

import pytest
from fakes import Script

from hypergraph import NodeContext

stream_response = None  # set by the fixture below, before each test


@pytest.fixture(autouse=True)
def _basic_example(load_example, fake_anthropic):
    global stream_response
    fake_anthropic.script = Script.numbered(200)
    stream_response = load_example("basic").stream_response
    yield
    stream_response = None


# --- verbatim from the guide ---
@pytest.mark.asyncio
async def test_stream_response():
    ctx = MagicMock(spec=NodeContext)
    ctx.stop_requested = False

    result = await stream_response(
        messages=[{"role": "user", "content": "Say hello"}],
        ctx=ctx,
    )
    assert len(result) > 0
    assert ctx.stream.called  # chunks were emitted


@pytest.mark.asyncio
async def test_stream_stops():
    ctx = MagicMock(spec=NodeContext)
    ctx.stop_requested = True

    result = await stream_response(
        messages=[{"role": "user", "content": "Write a novel"}],
        ctx=ctx,
    )
    assert result == ""  # stopped immediately


# --- end of the guide's tests ---


@pytest.mark.asyncio
async def test_c4_stopped_node_closes_the_stream_early(fake_anthropic):
    """C4: with stop_requested the guide's node breaks at the first token; leaving `with` hangs up."""
    fake_anthropic.script = Script.numbered(200, delay=0.005)
    ctx = MagicMock(spec=NodeContext)
    ctx.stop_requested = True
    assert (
        await stream_response(messages=[{"role": "user", "content": "Write a novel"}], ctx=ctx)
        == ""
    )
    record = fake_anthropic.wait_disconnect()
    assert record.client_disconnected and record.tokens_sent < 200
    assert not ctx.stream.called
