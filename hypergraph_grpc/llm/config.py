"""Which model answers, and with what settings: environment and per-run inputs.

Everything is read when a node runs (not at import), so a server that sets
``HYPERGRAPH_PROVIDER`` from ``--provider`` before or after importing graphs,
and tests that point ``ANTHROPIC_BASE_URL`` at a fake, both just work.

| variable | meaning | default |
|---|---|---|
| ``HYPERGRAPH_PROVIDER`` | offline, anthropic, openai or auto | auto |
| ``ANTHROPIC_API_KEY`` / ``OPENAI_API_KEY`` | provider credentials | unset |
| ``ANTHROPIC_BASE_URL`` / ``OPENAI_BASE_URL`` | endpoint (a proxy, a fake) | the SDK's |
| ``ANTHROPIC_MODEL`` / ``OPENAI_MODEL`` | model when the run gives none | see DEFAULT_MODELS |
| ``HYPERGRAPH_MAX_TOKENS`` | output token limit when the run gives none | 1024 |
| ``HYPERGRAPH_OFFLINE_TOKENS_PER_SECOND`` | offline model's pace (0 = unpaced) | 50 |
| ``HYPERGRAPH_LLM_RETRIES`` | retries before the first token | 2 |
"""

from __future__ import annotations

import os

__all__ = [
    "PROVIDERS",
    "DEFAULT_MODELS",
    "resolve_provider",
    "resolve_model",
    "resolve_max_tokens",
    "resolve_rate",
    "retries",
    "api_key_for",
    "base_url_for",
    "describe_provider",
]

PROVIDERS = ("offline", "anthropic", "openai")
DEFAULT_MODELS = {
    "anthropic": "claude-sonnet-4-6",
    "openai": "gpt-5.2",
    "offline": "offline-stand-in",
}
_KEY_VARS = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY"}
_URL_VARS = {"anthropic": "ANTHROPIC_BASE_URL", "openai": "OPENAI_BASE_URL"}
_MODEL_VARS = {"anthropic": "ANTHROPIC_MODEL", "openai": "OPENAI_MODEL"}


def resolve_provider(requested: str | None = "") -> str:
    """The provider for one run: the `provider` input, else HYPERGRAPH_PROVIDER, else auto.

    auto = anthropic if ANTHROPIC_API_KEY is set, else openai if OPENAI_API_KEY
    is set, else the offline stand-in.
    """
    name = (requested or os.environ.get("HYPERGRAPH_PROVIDER") or "auto").strip().lower()
    if name == "auto":
        if os.environ.get("ANTHROPIC_API_KEY"):
            return "anthropic"
        return "openai" if os.environ.get("OPENAI_API_KEY") else "offline"
    if name not in PROVIDERS:
        raise ValueError(
            f"unknown LLM provider {name!r} (from the `provider` input or HYPERGRAPH_PROVIDER). "
            f"How to fix: use one of {', '.join(PROVIDERS)} or auto."
        )
    return name


def resolve_model(provider: str, requested: str | None = "") -> str:
    return (
        requested or os.environ.get(_MODEL_VARS.get(provider, ""), "") or DEFAULT_MODELS[provider]
    )


def resolve_max_tokens(requested: int | None = 0) -> int:
    value = requested or os.environ.get("HYPERGRAPH_MAX_TOKENS") or 1024
    try:
        value = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"max_tokens must be a positive integer, got {value!r}") from None
    if value <= 0:
        raise ValueError(f"max_tokens must be a positive integer, got {value!r}")
    return value


def resolve_rate(requested: float | None = None) -> float:
    """Offline tokens per second: the input, else the env variable, else 50 (0 = unpaced)."""
    value = (
        requested
        if requested not in (None, "")
        else os.environ.get("HYPERGRAPH_OFFLINE_TOKENS_PER_SECOND", 50)
    )
    try:
        rate = float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"tokens_per_second must be a number >= 0, got {value!r} "
            "(from the input or HYPERGRAPH_OFFLINE_TOKENS_PER_SECOND)"
        ) from None
    if rate < 0:
        raise ValueError(f"tokens_per_second must be >= 0 (0 = as fast as possible), got {rate}")
    return rate


def retries() -> int:
    return max(0, int(os.environ.get("HYPERGRAPH_LLM_RETRIES", 2)))


def api_key_for(provider: str, explicit: str | None = None) -> str | None:
    if explicit:
        return explicit
    if provider == "anthropic":
        return os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN") or None
    return os.environ.get(_KEY_VARS.get(provider, ""), "") or None


def base_url_for(provider: str, explicit: str | None = None) -> str | None:
    return explicit or os.environ.get(_URL_VARS.get(provider, ""), "") or None


def describe_provider() -> str:
    """One line for the server log: which model answers by default, and why."""
    try:
        provider = resolve_provider()
    except ValueError as exc:
        return f"model: misconfigured ({exc})"
    if provider == "offline":
        why = (
            "HYPERGRAPH_PROVIDER=offline"
            if os.environ.get("HYPERGRAPH_PROVIDER") == "offline"
            else "no API key set"
        )
        rate = resolve_rate()
        pace = f"{rate:g} tokens/s" if rate else "unpaced"
        return f"model: offline stand-in ({why}; {pace})"
    model = resolve_model(provider)
    url = base_url_for(provider)
    where = f" at {url}" if url else ""
    if not api_key_for(provider):
        return f"model: {provider} {model}{where} ({_KEY_VARS[provider]} is NOT set: runs will fail; set it or use --provider offline)"
    return f"model: {provider} {model}{where} ({_KEY_VARS[provider]} set)"
