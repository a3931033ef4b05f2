"""The `rag` demo graph: retrieve from a small corpus, then stream the answer."""

from __future__ import annotations

from hypergraph import Graph, NodeContext, node

from ..llm import stream_reply
from ._describe import described
from .corpus import default_retriever

__all__ = ["retrieve", "generate", "graph"]


@node(output_name="docs")
async def retrieve(query: str, k: int = 3) -> list[str]:
    """Find the `k` corpus passages that best match `query` (TF-IDF; fast, not streamed).

    Args:
        query: the user's question.
        k: how many passages to retrieve.
    """
    return default_retriever.search(query, int(k))


@node(output_name="response")
async def generate(
    docs: list[str],
    query: str,
    ctx: NodeContext,
    provider: str = "",
    model: str = "",
    max_tokens: int = 0,
    tokens_per_second: float | None = None,
) -> str:
    """Stream an answer to `query` grounded in the retrieved `docs`; stoppable at once.

    Args:
        provider: offline, anthropic, openai or auto; empty = the server's default.
        model: the model name; empty = the provider's default.
        max_tokens: output token limit; 0 = HYPERGRAPH_MAX_TOKENS or 1024.
        tokens_per_second: pace of the offline model; empty = its default (50).
    """
    context = "\n\n---\n\n".join(docs)
    return await stream_reply(
        ctx,
        query,
        system=f"Answer based on this context:\n{context}",
        provider=provider,
        model=model,
        max_tokens=max_tokens,
        tokens_per_second=tokens_per_second,
    )


graph = described(
    Graph([retrieve, generate], name="rag"),
    "Retrieval-augmented answer: finds passages about hypergraph for `query`, then streams an answer from them.",
)
