"""Graphs served by the service under test in bench/bench_service.py.

Served with ``--graphs bench.graphs:GRAPHS``. The one graph, ``tokens``, takes the
same inputs as the ``tokens`` test graph (hypergraph_grpc/demo/testing.py) and
streams the same tokens, but returns only how many it streamed. The test graph
keeps every token for its ``text`` output, so under a 1,000,000-token slow
consumer most of the server's memory growth was the node's own list, whatever
the stream did; here the growth is the stream's.

Pacing (the node side of a fair comparison): without ``delay_ms`` the node
yields to the event loop every ``yield_every`` tokens (default 64), the way a
model client hands over a network read's worth of tokens at once; the baseline
servicer has no producer at all (it yields pre-built messages to gRPC, which
suspends it on every write), so the service's writer is the one that pays the
per-message task switch in both.
"""

from __future__ import annotations

import asyncio

from hypergraph import Graph, NodeContext, node

__all__ = ["GRAPHS", "count_tokens"]


@node(output_name="emitted")
async def count_tokens(
    count: int,
    ctx: NodeContext,
    delay_ms: float = 0.0,
    prefix: str = "tok",
    yield_every: int = 64,
) -> int:
    """Stream `count` tokens "<prefix><i> "; return how many (not the text)."""
    every = max(1, int(yield_every))
    emitted = 0
    for i in range(int(count)):
        if ctx.stop_requested:
            break
        ctx.stream(f"{prefix}{i} ")
        emitted += 1
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)
        elif emitted % every == 0:
            await asyncio.sleep(0)  # let other streams and Stop requests in
    return emitted


GRAPHS = {"tokens": Graph([count_tokens], name="tokens")}
