"""Guide: "Streaming with OpenAI", corrected: the text is in
`response.output_text.delta` events' `delta` (docs/llm.md shows this version)."""

from openai import OpenAI

from hypergraph import NodeContext, node

client = OpenAI()


@node(output_name="response")
async def stream_openai(prompt: str, ctx: NodeContext, instructions: str = "") -> str:
    """Stream tokens from GPT-5.2 with stop support."""
    response = ""

    stream = client.responses.create(
        model="gpt-5.2",
        input=prompt,
        instructions=instructions,
        stream=True,
    )

    for event in stream:
        if ctx.stop_requested:
            break
        if event.type == "response.output_text.delta":
            response += event.delta
            ctx.stream(event.delta)

    return response
