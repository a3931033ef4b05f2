"""docs/llm.md's corrected OpenAI example runs against a fake Responses endpoint with the real SDK."""

from __future__ import annotations

import re
from pathlib import Path
from unittest.mock import MagicMock

import pytest
from fakes import Script

from hypergraph import AsyncRunner, Graph, NodeContext, RunStatus

DOC = Path(__file__).resolve().parents[2] / "docs" / "llm.md"


def _corrected_example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    [block] = [b for b in blocks if "response.output_text.delta" in b and "client = OpenAI()" in b]
    return block


@pytest.mark.asyncio
async def test_docs_corrected_openai_example_streams(fake_openai):
    """The block in docs/llm.md streams each delta through the runner and with a mock context (C4)."""
    fake_openai.script = Script.numbered(12)
    namespace: dict = {}
    exec(
        compile(_corrected_example(), str(DOC), "exec"), namespace
    )  # client = OpenAI() sees the fake's env
    stream_openai = namespace["stream_openai"]
    result = await AsyncRunner().run(Graph([stream_openai]), {"prompt": "hi"})
    assert result.status == RunStatus.COMPLETED
    assert result["response"] == "".join(f"t{i} " for i in range(12))
    ctx = MagicMock(spec=NodeContext)
    ctx.stop_requested = False
    assert await stream_openai(prompt="hi", ctx=ctx) == result["response"]
    assert ctx.stream.call_count == 12
