"""The Anthropic Messages API on the wire: SSE events, errors, full messages.

Shapes follow https://docs.anthropic.com/en/api/messages-streaming: message_start
(usage.input_tokens), content_block_start, content_block_delta (text_delta),
content_block_stop, message_delta (stop_reason, usage.output_tokens),
message_stop; a ``ping`` after the first block start as the real API sends.
"""

from __future__ import annotations

__all__ = [
    "ERROR_TYPES",
    "error_body",
    "head_events",
    "delta_event",
    "tail_events",
    "midstream_error_event",
    "message",
]

# HTTP status -> Anthropic error type (https://docs.anthropic.com/en/api/errors)
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}

_MESSAGES = {
    400: "messages: field required",
    401: "invalid x-api-key",
    429: "Number of request tokens has exceeded your per-minute rate limit",
    529: "Overloaded",
}


def error_body(status: int) -> dict:
    kind = ERROR_TYPES.get(status, "api_error")
    return {"type": "error", "error": {"type": kind, "message": _MESSAGES.get(status, kind)}}


def head_events(model: str, input_tokens: int, msg_id: str) -> list[tuple[str, dict]]:
    start = {
        "type": "message_start",
        "message": {
            "id": msg_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": 1},
        },
    }
    block = {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "text", "text": ""},
    }
    return [("message_start", start), ("content_block_start", block), ("ping", {"type": "ping"})]


def delta_event(text: str) -> tuple[str, dict]:
    return (
        "content_block_delta",
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}},
    )


def tail_events(stop_reason: str, output_tokens: int) -> list[tuple[str, dict]]:
    return [
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": output_tokens},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]


def midstream_error_event(status: int) -> tuple[str, dict]:
    return ("error", error_body(status))


def message(
    model: str, text: str, input_tokens: int, output_tokens: int, stop_reason: str, msg_id: str
) -> dict:
    """A whole (non-streaming) Message."""
    return {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
    }
