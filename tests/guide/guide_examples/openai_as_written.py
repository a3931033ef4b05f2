"""Guide: "Streaming with OpenAI", exactly as written (defect 1 of the guide's notes).

`part.output_text` does not exist on the SDK's stream events: this raises
AttributeError. See openai_corrected.py.
"""

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

    for part in stream:
        if ctx.stop_requested:
            break
        if part.output_text:
            response += part.output_text
            ctx.stream(part.output_text)

    return response
