"""Node factories: ready-made streaming LLM nodes for a Graph.

    from hypergraph import Graph
    from hypergraph_grpc.llm import chat_node, anthropic_node

    graph = Graph([chat_node()])            # inputs: prompt; system, provider, model, max_tokens optional
    graph = Graph([anthropic_node(name="answer", output_name="answer")])

Each node streams every token with ``ctx.stream()``, stops at once on a stop
request (closing the upstream stream) and reports usage; see stream.py.
"""

from __future__ import annotations

from hypergraph import NodeContext, node

from .stream import stream_reply

__all__ = ["chat_node", "anthropic_node", "openai_node", "offline_node"]


def chat_node(
    provider: str | None = None,
    *,
    name: str = "generate",
    output_name: str = "response",
    system: str = "",
    model: str = "",
    max_tokens: int = 0,
    api_key: str | None = None,
    base_url: str | None = None,
):
    """A node `(prompt, ctx, system=..., model="", max_tokens=0[, provider=""]) -> output_name`.

    With `provider` None the node takes a `provider` input (empty = the server's
    HYPERGRAPH_PROVIDER / auto); otherwise the provider is fixed. `system`,
    `model` and `max_tokens` given here are the inputs' defaults.
    """
    fixed = {"api_key": api_key, "base_url": base_url}
    system_default, model_default, max_default = system, model, max_tokens

    if provider is None:

        async def generate(
            prompt: str,
            ctx: NodeContext,
            system: str = system_default,
            provider: str = "",
            model: str = model_default,
            max_tokens: int = max_default,
        ) -> str:
            return await stream_reply(
                ctx,
                prompt,
                system=system,
                provider=provider,
                model=model,
                max_tokens=max_tokens,
                **fixed,
            )

    else:
        chosen = provider

        async def generate(
            prompt: str,
            ctx: NodeContext,
            system: str = system_default,
            model: str = model_default,
            max_tokens: int = max_default,
        ) -> str:
            return await stream_reply(
                ctx,
                prompt,
                system=system,
                provider=chosen,
                model=model,
                max_tokens=max_tokens,
                **fixed,
            )

    who = provider or "the configured provider"
    generate.__doc__ = (
        f"Stream an answer to `prompt` from {who}, token by token; stoppable at once."
    )
    generate.__name__ = generate.__qualname__ = name
    return node(output_name=output_name, name=name)(generate)


def anthropic_node(**kwargs):
    """chat_node fixed to Anthropic (AsyncAnthropic, Messages streaming)."""
    return chat_node("anthropic", **kwargs)


def openai_node(**kwargs):
    """chat_node fixed to OpenAI (AsyncOpenAI, Responses streaming)."""
    return chat_node("openai", **kwargs)


def offline_node(*, tokens_per_second: float | None = None, **kwargs):
    """chat_node fixed to the offline stand-in (deterministic tokens, no network)."""
    made = chat_node("offline", **kwargs)
    if tokens_per_second is None:
        return made
    rate = tokens_per_second
    name, output_name = kwargs.get("name", "generate"), kwargs.get("output_name", "response")
    system_default = kwargs.get("system", "")

    async def generate(
        prompt: str, ctx: NodeContext, system: str = system_default, max_tokens: int = 0
    ) -> str:
        return await stream_reply(
            ctx,
            prompt,
            system=system,
            provider="offline",
            max_tokens=max_tokens,
            tokens_per_second=rate,
        )

    generate.__doc__ = (
        f"Stream the offline stand-in's answer at {rate:g} tokens/s; stoppable at once."
    )
    generate.__name__ = generate.__qualname__ = name
    return node(output_name=output_name, name=name)(generate)
