"""Small deterministic graphs that every client's tests run against.

Served with ``--graphs hypergraph_grpc.demo.testing:GRAPHS`` (see
clients/scenarios.json). They stream, sleep, fail and add, so each client
can check streaming order, stop, cancellation, deadlines, errors and value
round trips without any model.
"""

from __future__ import annotations

import asyncio

from hypergraph import Graph, NodeContext, node


@node(output_name="text")
async def emit_tokens(
    count: int, ctx: NodeContext, delay_ms: float = 0.0, prefix: str = "tok", burst: int = 1
) -> str:
    """Stream `count` tokens "<prefix><i> "; stoppable between tokens.

    With `delay_ms`, `burst` tokens are streamed every `delay_ms` on a fixed schedule,
    as a model upstream keeps its own pace: a late wake-up catches up instead of
    slowing the stream down. `burst` > 1 streams tokens in groups, as a provider's
    network read delivers several server-sent events at once.
    """
    text = []
    group = max(1, int(burst))
    loop = asyncio.get_running_loop()
    due = loop.time()
    for i in range(int(count)):
        if ctx.stop_requested:
            break
        token = f"{prefix}{i} "
        text.append(token)
        ctx.stream(token)
        if delay_ms:
            if i % group == group - 1:
                due += delay_ms / 1000
                await asyncio.sleep(max(0.0, due - loop.time()))
        elif i % 64 == 63:
            await asyncio.sleep(0)  # let other streams and Stop requests in
    return "".join(text)


@node(output_name="slept")
async def sleep_for(seconds: float, ctx: NodeContext) -> float:
    """Sleep up to `seconds`, waking every 20 ms to honour a stop."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while loop.time() - start < seconds and not ctx.stop_requested:
        await asyncio.sleep(0.02)
    return round(loop.time() - start, 3)


@node(output_name="never")
def raise_error(message: str) -> str:
    """Raise ValueError(message): the run ends FAILED (not an RPC error)."""
    raise ValueError(message)


@node(output_name="sum")
def add_numbers(a: int, b: int) -> int:
    """Return a + b (checks that ints stay ints over the wire)."""
    return a + b


@node(output_name="echoed")
def echo_value(value: object) -> object:
    """Return `value` unchanged (checks the value codec both ways)."""
    return value


GRAPHS = {
    "tokens": Graph([emit_tokens], name="tokens"),
    "sleep": Graph([sleep_for], name="sleep"),
    "fail": Graph([raise_error], name="fail"),
    "add": Graph([add_numbers], name="add"),
    "echo": Graph([echo_value], name="echo"),
}
