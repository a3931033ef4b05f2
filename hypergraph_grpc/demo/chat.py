"""The `chat` demo graph: one streamed answer to a prompt."""

from __future__ import annotations

from hypergraph import Graph, NodeContext, node

from ..llm import stream_reply
from ._describe import described

__all__ = ["reply", "graph"]


@node(output_name="response")
async def reply(
    prompt: str,
    ctx: NodeContext,
    system: str = "",
    provider: str = "",
    model: str = "",
    max_tokens: int = 0,
    tokens_per_second: float | None = None,
) -> str:
    """Stream the model's answer to `prompt`, token by token; stoppable at once.

    Args:
        prompt: the user's message.
        system: an optional system prompt.
        provider: offline, anthropic, openai or auto; empty = the server's default.
        model: the model name; empty = the provider's default.
        max_tokens: output token limit; 0 = HYPERGRAPH_MAX_TOKENS or 1024.
        tokens_per_second: pace of the offline model; empty = its default (50).
    """
    return await stream_reply(
        ctx,
        prompt,
        system=system,
        provider=provider,
        model=model,
        max_tokens=max_tokens,
        tokens_per_second=tokens_per_second,
    )


graph = described(
    Graph([reply], name="chat"),
    "One chat turn: streams the model's answer to `prompt` token by token (Stop ends it at once).",
)
