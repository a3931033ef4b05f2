"""Streaming LLM nodes: Anthropic, OpenAI and an offline stand-in model.

- :func:`stream_reply` streams one answer inside any node (``ctx.stream()`` per
  token, stop closes the upstream stream at once, usage reported, provider
  errors explained).
- :func:`chat_node` and friends build ready-made nodes.
- :func:`describe_provider` is the one line a server logs at start.

Provider selection: the ``provider`` input, else ``HYPERGRAPH_PROVIDER``
(offline | anthropic | openai | auto); auto picks anthropic when
ANTHROPIC_API_KEY is set, else openai when OPENAI_API_KEY is set, else offline.
See docs/llm.md.

This package imports the SDKs lazily and ``hypergraph`` only for the node
factories, so ``describe_provider`` is cheap to import.
"""

from __future__ import annotations

from .clients import preload
from .config import DEFAULT_MODELS, PROVIDERS, describe_provider, resolve_provider
from .errors import ProviderError
from .stream import stream_reply

__all__ = [
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


def __getattr__(name: str):
    # The factories need the hypergraph runtime; import it only when asked.
    if name in ("chat_node", "anthropic_node", "openai_node", "offline_node"):
        from . import nodes

        return getattr(nodes, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
