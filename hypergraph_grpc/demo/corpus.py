"""A small in-process corpus about hypergraph and a TF-IDF retriever for it.

Stands in for the guide's ``embedder`` + ``vector_db``: tiny, deterministic,
no dependencies, fast enough to call per request.
"""

from __future__ import annotations

import math
import re
from collections import Counter

__all__ = ["DOCS", "Retriever", "default_retriever"]

DOCS = [
    "Nodes: decorate a Python function with @node(output_name=...) to make it a node. "
    "Its parameters are its inputs and its return value is written under the output name.",
    "Graphs: Graph([node_a, node_b]) wires nodes by name: an output named docs feeds every "
    "node that has a parameter named docs. Graph inputs are the parameters nobody produces.",
    "Streaming: add a parameter annotated NodeContext and call ctx.stream(token) for every "
    "token; consumers receive StreamingChunkEvent events while the node keeps running.",
    "Stopping: runner.stop(workflow_id, info=...) sets ctx.stop_requested; a streaming node "
    "checks it, closes its upstream stream and returns the partial text. The run ends STOPPED.",
    "Routing: @route(targets=[...]) returns the next node's name or END, which makes loops "
    "such as a multi-turn chat that ends after a number of messages.",
    "Running: AsyncRunner().run(graph, values) returns a RunResult with status, values, "
    "usage and errors; runner.iter(...) yields every event as it happens.",
    "gRPC service: hypergraph-grpc serve hosts graphs; clients call Run, Iter (a stream of "
    "events), Stop and ListGraphs from Python, Go, TypeScript, Java or Rust.",
    "Models: the LLM nodes stream from Anthropic or OpenAI with their async SDKs, or from an "
    "offline stand-in model when no API key is set; usage and stop reason are reported.",
]

_WORD = re.compile(r"[a-z0-9]+")  # splits workflow_id into workflow, id


def _stem(word: str) -> str:
    """A crude stemmer: stopping, stopped, stops -> stop; enough for a demo corpus."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            if len(word) > 3 and word[-1] == word[-2]:
                word = word[:-1]  # stopp -> stop
            break
    return word


def _terms(text: str) -> list[str]:
    return [_stem(w) for w in _WORD.findall(text.lower())]


class Retriever:
    """TF-IDF over `docs`: a document scores the sum of tf * idf of the query's terms."""

    def __init__(self, docs: list[str]) -> None:
        self.docs = list(docs)
        self._tfs = [Counter(_terms(doc)) for doc in self.docs]
        df = Counter(term for tf in self._tfs for term in tf)
        n = len(self.docs)
        self._idf = {term: math.log((1 + n) / (1 + count)) + 1 for term, count in df.items()}

    def search(self, query: str, k: int = 3) -> list[str]:
        """The `k` best documents for `query`, best first (ties keep corpus order)."""
        if k <= 0:
            raise ValueError(f"k must be a positive number of documents, got {k}")
        terms = set(_terms(query))
        scores = []
        for i, tf in enumerate(self._tfs):
            total = sum(tf.values()) or 1
            score = sum(tf[t] / total * self._idf.get(t, 0.0) for t in terms)
            scores.append((-score, i))
        return [self.docs[i] for _, i in sorted(scores)[:k]]


default_retriever = Retriever(DOCS)
