"""Small graphs for the service tests (beside hypergraph_grpc.demo.testing)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import enum
import time

from hypergraph import END, Graph, NodeContext, node, route


class Color(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Point:
    x: int
    y: float


@node(output_name="rich")
def rich_values(n: int) -> dict:
    """Return values that are not plain JSON (the codec turns them into JSON)."""
    return {
        "point": Point(n, 0.5),
        "color": Color.RED,
        "when": datetime.datetime(2026, 1, 2, 3, 4, 5),
        "day": datetime.date(2026, 1, 2),
        "raw": b"\x00\xffhi",
        "pair": (1, 2),
        "tags": {"b", "a"},
        "big": 2**60,
    }


class Opaque:
    pass


@node(output_name=("fine", "opaque"))
def opaque_value(n: int) -> tuple:
    """Return an object the codec cannot encode."""
    return n, Opaque()


@node(output_name="done")
async def mixed_chunks(ctx: NodeContext) -> bool:
    """Stream text, bytes and a JSON value."""
    ctx.stream("hello ")
    ctx.stream(b"\x01\x02")
    ctx.stream({"step": 1, "ok": True})
    ctx.stream("world")
    ctx.report_usage(input_tokens=3, output_tokens=4, stop_reason="end_turn")
    return True


@node(output_name="a_text")
async def stream_a(count: int, ctx: NodeContext) -> str:
    """Stream `count` tokens a0 a1 ..."""
    out = []
    for i in range(count):
        token = f"a{i} "
        out.append(token)
        ctx.stream(token)
        if i % 50 == 49:
            await asyncio.sleep(0)
    return "".join(out)


@node(output_name="b_text")
async def stream_b(count: int, ctx: NodeContext) -> str:
    """Stream `count` tokens b0 b1 ..."""
    out = []
    for i in range(count):
        token = f"b{i} "
        out.append(token)
        ctx.stream(token)
        if i % 50 == 49:
            await asyncio.sleep(0)
    return "".join(out)


@node(output_name="report")
def typed_inputs(
    name: str, count: int, ratio: float, items: list, flag: bool = False, note: str = "none"
) -> str:
    """Join the inputs into a report.

    Args:
        name: who the report is for.
        count: how many items to count.
        ratio: a number between 0 and 1.
        items: the things to report.
        flag: whether to shout.
        note: a free note.
    """
    return f"{name}:{count}:{ratio}:{len(items)}:{flag}:{note}"


@node(output_name="waited")
async def stubborn(seconds: float) -> float:
    """Sleep `seconds` ignoring stop requests (only a grace cancels it)."""
    await asyncio.sleep(seconds)
    return seconds


@node(output_name="ticks")
def sync_sleeper(seconds: float, ctx: NodeContext) -> int:
    """A sync node sleeping in its worker thread, honouring stop every 10 ms."""
    ticks = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end and not ctx.stop_requested:
        time.sleep(0.01)
        ticks += 1
    return ticks


@node(output_name="sync_text")
def sync_streamer(count: int, ctx: NodeContext) -> str:
    """A sync node streaming from its worker thread."""
    out = []
    for i in range(count):
        token = f"w{i} "
        out.append(token)
        ctx.stream(token)
    return "".join(out)


@node(output_name="count")
def bump(count: int) -> int:
    """Add one."""
    return count + 1


@route(targets=["bump", END])
def again(count: int, limit: int):
    """Loop until `count` reaches `limit`."""
    return END if count >= limit else "bump"


@node(output_name=("left", "right"))
def one_value_for_two_outputs(x: int):
    """Return one value where two outputs are declared: the runtime's NodeOutputError."""
    return x


GRAPHS = {
    "rich": Graph([rich_values], name="rich"),
    "opaque": Graph([opaque_value], name="opaque"),
    "mixed": Graph([mixed_chunks], name="mixed"),
    "two_streams": Graph([stream_a, stream_b], name="two_streams"),
    "typed": Graph([typed_inputs], name="typed"),
    "stubborn": Graph([stubborn], name="stubborn"),
    "sync_sleep": Graph([sync_sleeper], name="sync_sleep"),
    "loop": Graph([bump, again], name="loop"),
    "sync_stream": Graph([sync_streamer], name="sync_stream"),
    "bad_outputs": Graph([one_value_for_two_outputs], name="bad_outputs"),
}
