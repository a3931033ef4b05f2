"""Async SDK clients, one per (event loop, provider, key, base URL).

Why cached: an SDK client owns an HTTP connection pool; building one per call
would reconnect every time. Why per event loop: the pool's connections belong
to the loop that opened them (tests run each in a fresh loop).

``max_retries=0``: retries are ours (only before the first token, short
backoff; see stream.py), so a failing provider is reported quickly.
"""

from __future__ import annotations

import asyncio
import weakref

from .call import Call

__all__ = ["client_for", "preload"]

_by_loop: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def client_for(call: Call):
    """The AsyncAnthropic / AsyncOpenAI client for `call` on the running loop."""
    loop = asyncio.get_running_loop()
    cache = _by_loop.setdefault(loop, {})
    key = (call.provider, call.api_key, call.base_url)
    client = cache.get(key)
    if client is None:
        client = cache[key] = _make(call)
    return client


def _make(call: Call):
    if call.provider == "anthropic":
        from anthropic import AsyncAnthropic

        return AsyncAnthropic(api_key=call.api_key, base_url=call.base_url, max_retries=0)
    from openai import AsyncOpenAI

    return AsyncOpenAI(api_key=call.api_key, base_url=call.base_url, max_retries=0)


def preload(provider: str | None = None) -> str:
    """Import the SDK of `provider` (default: the configured one) now, not on the first request.

    The SDKs take seconds to import on a busy machine; a server pays that at
    start instead of adding it to its first user's first token. Returns the
    provider name ("offline" imports nothing; an unknown name is left to runs
    to report).
    """
    from .config import resolve_provider

    try:
        name = resolve_provider(provider or "")
    except ValueError:
        return "unknown"
    if name == "anthropic":
        import anthropic.resources.messages  # noqa: F401
        from anthropic.types import RawMessageStreamEvent  # noqa: F401
    elif name == "openai":
        import openai.resources.responses  # noqa: F401
        from openai.types.responses import ResponseStreamEvent  # noqa: F401
    return name
