"""Graphs and processors shared by the runtime tests (the guide's examples, offline).

The guide's nodes call an LLM client; here a ``FakeStream`` plays the client's
``messages.stream(...)`` context manager, yielding fixed tokens, so the node
bodies stay exactly the guide's.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from hypergraph import (
    END,
    AsyncEventProcessor,
    EventProcessor,
    Graph,
    NodeContext,
    StreamingChunkEvent,
    TypedEventProcessor,
    node,
    route,
)

TOKENS = ["Quantum ", "computing ", "uses ", "qubits."]


class FakeStream:
    """Stands in for ``client.messages.stream(...)``: a context manager with text_stream."""

    def __init__(self, tokens: list[str]) -> None:
        self.text_stream = iter(tokens)

    def __enter__(self) -> FakeStream:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None


class FakeMessages:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens

    def stream(self, **kwargs: Any) -> FakeStream:
        return FakeStream(list(self.tokens))


class FakeClient:
    """A synchronous Anthropic-like client returning fixed tokens."""

    def __init__(self, tokens: list[str] | None = None) -> None:
        self.messages = FakeMessages(tokens or TOKENS)


client = FakeClient()


@node(output_name="response")
async def stream_response(messages: list, ctx: NodeContext, system: str = "") -> str:
    """Stream tokens from Claude with stop support."""
    response = ""

    with client.messages.stream(
        model="claude-sonnet-4-5-20250929",
        max_tokens=1024,
        system=system,
        messages=messages,
    ) as stream:
        for text in stream.text_stream:
            if ctx.stop_requested:
                break
            response += text
            ctx.stream(text)  # emit StreamingChunkEvent for live UI

    return response


@node(output_name="docs")
async def retrieve(query: str) -> list[str]:
    """Fast retrieval - no need to stream."""
    await asyncio.sleep(0)
    return [f"doc about {query}", "another doc"]


@node(output_name="response")
async def generate(docs: list[str], query: str, ctx: NodeContext) -> str:
    """Stream the generation step with stop support."""
    response = ""
    with client.messages.stream(messages=[{"role": "user", "content": query}]) as stream:
        for text in stream.text_stream:
            if ctx.stop_requested:
                break
            response += text
            ctx.stream(text)
    return response


def make_chat_graph(stream_turn_node: Any = None) -> Graph:
    """The guide's multi-turn loop; ``stream_turn`` may be replaced (same signature)."""
    turn = stream_turn_node or stream_turn
    return Graph([turn, update_history, should_continue])


@node(output_name="response")
async def stream_turn(messages: list, user_input: str, ctx: NodeContext) -> str:
    """Stream one conversation turn, stoppable."""
    full_messages = messages + [{"role": "user", "content": user_input}]
    response = ""

    with client.messages.stream(
        model="claude-sonnet-4-5-20250929",
        max_tokens=1024,
        messages=full_messages,
    ) as stream:
        for text in stream.text_stream:
            if ctx.stop_requested:
                break
            response += text
            ctx.stream(text)

    return response


@node(output_name="messages")
def update_history(messages: list, user_input: str, response: str) -> list:
    return messages + [
        {"role": "user", "content": user_input},
        {"role": "assistant", "content": response},
    ]


@route(targets=["stream_turn", END])
def should_continue(messages: list) -> str:
    if len(messages) >= 20:
        return END
    return "stream_turn"


class Recorder(EventProcessor):
    """Keeps every event it is given (sync, on the loop thread)."""

    def __init__(self) -> None:
        self.events: list = []
        self.shutdowns = 0
        self.threads: set[int] = set()

    def on_event(self, event: Any) -> None:
        self.events.append(event)
        self.threads.add(threading.get_ident())

    def shutdown(self) -> None:
        self.shutdowns += 1

    def of(self, cls: type) -> list:
        return [e for e in self.events if isinstance(e, cls)]

    def chunks(self, node_name: str | None = None) -> list:
        return [
            e.chunk
            for e in self.events
            if isinstance(e, StreamingChunkEvent)
            and (node_name is None or e.node_name == node_name)
        ]

    def kinds(self) -> list[str]:
        return [type(e).__name__ for e in self.events]


class AsyncRecorder(AsyncEventProcessor):
    """An async processor that yields to the loop on every event."""

    def __init__(self) -> None:
        self.events: list = []
        self.shutdowns = 0

    async def on_event_async(self, event: Any) -> None:
        await asyncio.sleep(0)
        self.events.append(event)

    async def shutdown_async(self) -> None:
        await asyncio.sleep(0)
        self.shutdowns += 1


class ChunkCollector(TypedEventProcessor):
    def __init__(self) -> None:
        self.chunks: list = []

    def on_streaming_chunk(self, event: StreamingChunkEvent) -> None:
        self.chunks.append(event.chunk)


@node(output_name="o")
async def quick(x):
    """A one-step async node: returns its input after one turn of the loop."""
    await asyncio.sleep(0)
    return x


def branch_loop(script):
    """A loop whose gate `pick` sends each pass to `up` or `down` (two producers of
    `value`) as `script` says; returns the graph and the names of the nodes that ran."""
    decisions = iter(script)
    ran = []

    @node(output_name="value")
    def up(n):
        ran.append("up")
        return n + 1

    @node(output_name="value")
    def down(n):
        ran.append("down")
        return n - 10

    @node(output_name="n")
    def commit(value):
        return value

    @route(targets=["up", "down", END])
    def pick(n):
        return next(decisions)

    return Graph([up, down, commit, pick]), ran
