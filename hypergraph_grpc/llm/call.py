"""One model call: what was asked, and what the provider reported back."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Call", "to_messages"]


@dataclass
class Call:
    """The request a backend sends, plus the usage it fills in while streaming."""

    provider: str
    model: str
    max_tokens: int
    messages: list[dict]
    system: str = ""
    api_key: str | None = None
    base_url: str | None = None
    tokens_per_second: float = 50.0  # offline model only
    # filled in by the backend as the stream reports them
    input_tokens: int | None = None
    output_tokens: int | None = None
    stop_reason: str | None = None
    extra: dict = field(default_factory=dict)


def to_messages(prompt_or_messages: str | list) -> list[dict]:
    """A prompt string becomes one user message; a message list is checked and kept."""
    if isinstance(prompt_or_messages, str):
        return [{"role": "user", "content": prompt_or_messages}]
    messages = list(prompt_or_messages or [])
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or "role" not in message or "content" not in message:
            raise ValueError(
                f"messages[{i}] must be a dict with 'role' and 'content', got {message!r}. "
                'How to fix: pass e.g. [{"role": "user", "content": "Hello"}].'
            )
    if not messages:
        raise ValueError(
            'messages is empty. How to fix: pass at least one {"role": "user", "content": ...} message.'
        )
    return messages
