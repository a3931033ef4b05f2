"""Guide: "Streaming in RAG Pipelines" (verbatim; embedder and vector_db are stand-ins)."""

from anthropic import Anthropic

from hypergraph import AsyncRunner, Graph, NodeContext, node

client = Anthropic()


# --- not in the guide: the guide leaves `embedder` and `vector_db` undefined ---
class _Embedder:
    async def embed(self, text: str) -> set[str]:
        return set(text.lower().replace("?", "").split())


class _VectorDB:
    def __init__(self, docs: list[str]) -> None:
        self.docs = docs
        self.searches: list[int] = []

    async def search(self, embedding: set[str], k: int = 5) -> list[str]:
        self.searches.append(k)
        ranked = sorted(self.docs, key=lambda d: -len(embedding & set(d.lower().split())))
        return ranked[:k]


embedder = _Embedder()
vector_db = _VectorDB(
    [
        "use hypergraph by decorating functions with @node",
        "a Graph wires nodes by name",
        "ctx.stream emits tokens",
        "runner.stop stops a workflow",
        "route and END make loops",
        "unrelated text about cooking",
    ]
)
# --- end of stand-ins ---


@node(output_name="docs")
async def retrieve(query: str) -> list[str]:
    """Fast retrieval - no need to stream."""
    embedding = await embedder.embed(query)
    return await vector_db.search(embedding, k=5)


@node(output_name="response")
async def generate(docs: list[str], query: str, ctx: NodeContext) -> str:
    """Stream the generation step with stop support."""
    context = "\n\n---\n\n".join(docs)
    response = ""

    with client.messages.stream(
        model="claude-sonnet-4-5-20250929",
        max_tokens=2048,
        system=f"Answer based on this context:\n{context}",
        messages=[{"role": "user", "content": query}],
    ) as stream:
        for text in stream.text_stream:
            if ctx.stop_requested:
                break
            response += text
            ctx.stream(text)

    return response


rag_pipeline = Graph([retrieve, generate])

runner = AsyncRunner()


async def main():
    result = await runner.run(rag_pipeline, {"query": "How do I use hypergraph?"})
    return result
