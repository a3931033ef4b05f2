"""Provider backends: async generators of text deltas that fill in usage.

Each backend yields the text as the provider streams it and records
input/output tokens and the stop reason on the :class:`Call`. Closing the
generator early (``aclose()``, or cancelling the task iterating it) closes the
upstream HTTP stream at once, through the SDK stream's own close.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator

from .call import Call
from .clients import client_for
from .errors import StreamErrorEvent
from .sse import sse_events

__all__ = ["BACKENDS", "anthropic_stream", "openai_stream", "offline_stream", "offline_reply"]


async def anthropic_stream(call: Call) -> AsyncIterator[str]:
    """Anthropic Messages streaming (AsyncAnthropic): the text is in `text_delta` deltas.

    The SDK makes the request (auth, base URL, HTTP errors raised as its own
    exceptions, closing); the events are read as plain JSON (see sse.py) rather
    than as SDK models, which costs half the CPU per token. Events used:
    message_start (input tokens), content_block_delta/text_delta (the text),
    message_delta (stop reason, output tokens), error (raised).
    """
    kwargs = {
        "model": call.model,
        "max_tokens": call.max_tokens,
        "messages": call.messages,
        "stream": True,
    }
    if call.system:
        kwargs["system"] = call.system
    loads = json.loads
    messages = client_for(call).messages.with_streaming_response
    async with messages.create(**kwargs) as response:  # leaving it closes the connection
        async for kind, data in sse_events(response.http_response.aiter_bytes()):
            if kind == "content_block_delta":
                delta = loads(data)["delta"]
                if delta.get("type") == "text_delta":
                    yield delta["text"]
            elif kind == "message_start":
                call.input_tokens = loads(data)["message"]["usage"].get("input_tokens")
            elif kind == "message_delta":
                event = loads(data)
                call.output_tokens = event.get("usage", {}).get("output_tokens", call.output_tokens)
                call.stop_reason = event["delta"].get("stop_reason")
            elif kind == "error":
                raise StreamErrorEvent(loads(data))


async def openai_stream(call: Call) -> AsyncIterator[str]:
    """OpenAI Responses streaming: the text is in `response.output_text.delta` events' `delta`."""
    kwargs = {
        "model": call.model,
        "input": call.messages,
        "max_output_tokens": call.max_tokens,
        "stream": True,
    }
    if call.system:
        kwargs["instructions"] = call.system
    stream = await client_for(call).responses.create(**kwargs)
    try:
        async for event in stream:
            kind = event.type
            if kind == "response.output_text.delta":
                yield event.delta
            elif kind in ("response.completed", "response.incomplete"):
                _openai_usage(call, event.response)
            elif kind in ("response.failed", "error"):
                raise _openai_failure(event)
    finally:
        await stream.close()


def _openai_usage(call: Call, response) -> None:
    usage = response.usage
    if usage is not None:
        call.input_tokens, call.output_tokens = usage.input_tokens, usage.output_tokens
    details = response.incomplete_details
    call.stop_reason = details.reason if details is not None and details.reason else response.status


def _openai_failure(event) -> StreamErrorEvent:
    # A `response.failed` or `error` event inside a 200 stream: described with the
    # project's own type, as the Anthropic path does (SDK exceptions are the SDK's to build).
    error = getattr(getattr(event, "response", None), "error", None) or event
    message = getattr(error, "message", None) or "the response failed"
    return StreamErrorEvent({"message": message, "code": getattr(error, "code", None)})


# -- the offline stand-in ---------------------------------------------------------

_PASSAGE = (
    "hypergraph runs plain Python functions as a graph wired by name. Each node can stream "
    "tokens with ctx.stream() and stop cooperatively when ctx.stop_requested turns true. "
    "This server hosts such graphs over gRPC: start a run with Iter, read every event as it "
    "happens, and call Stop from anywhere to end it early with the text streamed so far."
)
_WORDS = re.compile(r"\S+\s*")


def offline_reply(call: Call) -> list[str]:
    """The stand-in's deterministic answer, as tokens (a word and its trailing space).

    It echoes the last user message, says which turn of a conversation it is,
    and quotes the first passage of a RAG context ("...context:\n<p1>\n\n---\n\n<p2>"),
    so the demos read sensibly offline.
    """
    last = next((m["content"] for m in reversed(call.messages) if m.get("role") == "user"), "")
    asked = " ".join(str(last).split()[:24])
    turn = 1 + sum(1 for m in call.messages if m.get("role") == "assistant")
    label = "[offline stand-in]" if turn == 1 else f"[offline stand-in, turn {turn}]"
    parts = [f'{label} You asked: "{asked}".']
    _, _, context = call.system.partition("context:\n")
    if context.strip():
        parts.append(f"From the context: {context.split(chr(10) + chr(10) + '---')[0].strip()}")
    parts.append(_PASSAGE)
    return _WORDS.findall(" ".join(parts))


async def offline_stream(call: Call) -> AsyncIterator[str]:
    """Deterministic tokens at `call.tokens_per_second` (0 = as fast as possible)."""
    tokens = offline_reply(call)
    call.input_tokens = sum(len(str(m.get("content", "")).split()) for m in call.messages) + len(
        call.system.split()
    )
    limit = min(len(tokens), call.max_tokens)
    loop = asyncio.get_running_loop()
    interval = 1.0 / call.tokens_per_second if call.tokens_per_second else 0.0
    start = loop.time()
    for i in range(limit):
        if interval:
            # on a fixed schedule, so the pace does not drift with scheduling delays
            await asyncio.sleep(max(0.0, start + i * interval - loop.time()))
        elif i % 64 == 63:
            await asyncio.sleep(0)  # unpaced: still let other tasks in
        call.output_tokens = i + 1
        yield tokens[i]
    call.stop_reason = "end_turn" if limit == len(tokens) else "max_tokens"


BACKENDS = {"anthropic": anthropic_stream, "openai": openai_stream, "offline": offline_stream}
