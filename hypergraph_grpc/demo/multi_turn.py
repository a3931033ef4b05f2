"""The `multi_turn` demo graph: the guide's streaming conversation loop.

stream_turn -> update_history -> should_continue -> stream_turn ... until the
history holds 2 * max_turns messages (END) or a Stop request ends the run.
"""

from __future__ import annotations

from hypergraph import END, Graph, NodeContext, node, route

from ..llm import stream_reply
from ._describe import described

__all__ = ["stream_turn", "update_history", "should_continue", "graph"]


@node(output_name="response")
async def stream_turn(
    messages: list,
    user_input: str,
    ctx: NodeContext,
    system: str = "",
    provider: str = "",
    model: str = "",
    max_tokens: int = 0,
    tokens_per_second: float | None = None,
) -> str:
    """Stream one conversation turn: the answer to `user_input` given the history.

    Args:
        messages: the conversation so far (seed it, e.g. with []); grows by two per turn.
        user_input: the user's message, sent each turn.
        system: an optional system prompt.
        provider: offline, anthropic, openai or auto; empty = the server's default.
        model: the model name; empty = the provider's default.
        max_tokens: output token limit per turn; 0 = HYPERGRAPH_MAX_TOKENS or 1024.
        tokens_per_second: pace of the offline model; empty = its default (50).
    """
    full_messages = list(messages) + [{"role": "user", "content": user_input}]
    return await stream_reply(
        ctx,
        full_messages,
        system=system,
        provider=provider,
        model=model,
        max_tokens=max_tokens,
        tokens_per_second=tokens_per_second,
    )


@node(output_name="messages")
def update_history(messages: list, user_input: str, response: str) -> list:
    """Append the turn (user message, assistant answer) to the history."""
    return list(messages) + [
        {"role": "user", "content": user_input},
        {"role": "assistant", "content": response},
    ]


@route(targets=["stream_turn", END])
def should_continue(messages: list, max_turns: int = 3) -> object:
    """Another turn until the history holds 2 * max_turns messages, then END.

    Args:
        max_turns: the conversation ends once it holds 2 * max_turns messages.
    """
    if len(messages) >= 2 * int(max_turns):
        return END
    return "stream_turn"


graph = described(
    Graph([stream_turn, update_history, should_continue], name="multi_turn"),
    "Streaming conversation loop (the guide's route/END example): one streamed turn per pass "
    "until `messages` holds 2 * max_turns messages, or until Stop.",
)
