"""The demo graphs served by ``hypergraph-grpc serve`` when no --graphs is given.

- ``chat``: one streamed answer to `prompt`.
- ``rag``: retrieve passages about hypergraph for `query`, then stream an answer.
- ``multi_turn``: the guide's conversation loop (route/END), `max_turns` turns.

They run offline out of the box (the stand-in model); with ANTHROPIC_API_KEY or
OPENAI_API_KEY set (or ``--provider``) they stream from the real model.
The graphs every client's tests use are in :mod:`hypergraph_grpc.demo.testing`.
"""

from __future__ import annotations

from ..llm import preload
from . import chat, multi_turn, rag

__all__ = ["GRAPHS"]

GRAPHS = {
    "chat": chat.graph,
    "rag": rag.graph,
    "multi_turn": multi_turn.graph,
}

# Import the configured provider's SDK now (serve sets HYPERGRAPH_PROVIDER before
# loading graphs), so the first request does not wait seconds for it.
preload()
