"""Iter streams over a real server under load: many streams at once keep every
token in order; a slow consumer gets merged chunks within bounded memory and
per-node order; an unmerged runaway queue stops its run; a sync node blocking
its worker thread never blocks another stream; a workflow id is free as soon
as its RunEnded is received."""

from __future__ import annotations

import asyncio
import threading

import grpc
import pytest

from hypergraph import Graph, NodeContext, node
from hypergraph_grpc.config import ServiceConfig
from hypergraph_grpc.convert import struct_to_dict
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb
from hypergraph_grpc.server import start_server
from tests.service.conftest import (
    ALL_GRAPHS,
    Harness,
    close_harness,
    collect,
    eventually,
    iter_request,
    make_harness,
    run_request,
    text_of,
)
from tests.service.sequence import assert_seq_counts_calls


@pytest.mark.asyncio
async def test_200_concurrent_streams_every_token_in_order(harness):
    async def one(i: int):
        events = await collect(harness.stub.Iter(iter_request("tokens", count=40, prefix=f"s{i}.")))
        assert_seq_counts_calls(events)
        assert text_of(events) == "".join(f"s{i}.{k} " for k in range(40))
        assert events[-1].run_ended.result.status == pb.RUN_STATUS_COMPLETED

    await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(200))), 60)


def _window_limited_stub(address: str):
    # No BDP probing: the client's flow-control window stays small, so a client
    # that does not read pushes back on the server's writer at once.
    channel = grpc.aio.insecure_channel(
        address,
        options=[("grpc.http2.bdp_probe", 0), ("grpc.http2.lookahead_bytes", 16384)],
    )
    from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2_grpc as pb_grpc

    return channel, pb_grpc.RunnerServiceStub(channel)


@pytest.mark.asyncio
async def test_slow_consumer_memory_bounded_and_merging_visible(harness):
    channel, stub = _window_limited_stub(harness.running.address)
    try:
        count = 150_000
        options = pb.StreamOptions(max_queued_events=32)
        call = stub.Iter(iter_request("tokens", "slow-1", count=count, prefix="", options=options))
        first = await call.read()
        assert first.WhichOneof("kind") == "run_started"
        # Do not read until the run has ended on the server: every chunk is queued.
        assert await eventually(lambda: harness.service._coord.live_count() == 0, timeout=30)
        (sink,) = harness.service.sinks
        # 32 events, then one merged entry per max_chunk_bytes of text, + lifecycle.
        assert len(sink.queue) <= 32 + 20 + 8
        events = [first] + await collect(call)
    finally:
        await channel.close()
    assert_seq_counts_calls(events)
    chunks = [e.streaming_chunk for e in events if e.WhichOneof("kind") == "streaming_chunk"]
    assert sum(c.merged for c in chunks) == count
    assert max(c.merged for c in chunks) > 1
    assert all(len(c.text.encode()) <= 65536 for c in chunks)
    assert text_of(events) == "".join(f"{k} " for k in range(count))
    kinds = [e.WhichOneof("kind") for e in events]
    assert kinds[-1] == "run_ended" and kinds.count("node_ended") == 1
    assert struct_to_dict(events[-1].run_ended.result.values)["text"] == text_of(events)


@pytest.mark.asyncio
async def test_slow_consumer_two_nodes_keep_per_node_order(harness):
    channel, stub = _window_limited_stub(harness.running.address)
    try:
        options = pb.StreamOptions(max_queued_events=8, max_chunk_bytes=1000)
        call = stub.Iter(iter_request("two_streams", count=30_000, options=options))
        await call.read()
        assert await eventually(lambda: harness.service._coord.live_count() == 0, timeout=30)
        events = await collect(call)
    finally:
        await channel.close()
    by_node: dict[str, str] = {}
    for e in events:
        if e.WhichOneof("kind") == "streaming_chunk":
            assert len(e.streaming_chunk.text) <= 1000
            by_node[e.node] = by_node.get(e.node, "") + e.streaming_chunk.text
    assert by_node["stream_a"] == "".join(f"a{i} " for i in range(30_000))
    assert by_node["stream_b"] == "".join(f"b{i} " for i in range(30_000))
    for name in ("stream_a", "stream_b"):
        own = [e.WhichOneof("kind") for e in events if e.node == name]
        assert own[0] == "node_started" and own[-1] == "node_ended"
        assert set(own[1:-1]) == {"streaming_chunk"}


@pytest.mark.asyncio
async def test_disable_merge_never_merges_and_stops_a_runaway_queue():
    h = await make_harness(ServiceConfig(unmerged_queue_factor=4))
    channel, stub = _window_limited_stub(h.running.address)
    try:
        options = pb.StreamOptions(disable_merge=True, max_queued_events=16)
        call = stub.Iter(iter_request("tokens", count=1_000_000, prefix="", options=options))
        await call.read()
        assert await eventually(lambda: h.service._coord.live_count() == 0, timeout=30)
        events = await collect(call)
    finally:
        await channel.close()
        await close_harness(h)
    chunks = [e.streaming_chunk for e in events if e.WhichOneof("kind") == "streaming_chunk"]
    assert all(c.merged == 1 for c in chunks)
    result = events[-1].run_ended.result
    assert result.status == pb.RUN_STATUS_STOPPED
    assert struct_to_dict(result.stop_info) == {"kind": "slow_consumer"}
    assert struct_to_dict(result.values)["text"] == text_of(events)


ENTERED = threading.Event()


RELEASE = threading.Event()


@node(output_name="released")
def wait_for_release(limit: float, ctx: NodeContext) -> bool:
    """A sync node that blocks its thread until the test releases it (or `limit` passes)."""
    ENTERED.set()
    return RELEASE.wait(limit)


BLOCKER = Graph([wait_for_release], name="blocker")


@pytest.mark.asyncio
async def test_sync_node_blocking_its_thread_never_blocks_another_stream():
    ENTERED.clear()
    RELEASE.clear()
    running = await start_server({**ALL_GRAPHS, "blocker": BLOCKER}, port=0)
    h = Harness(running, grpc.aio.insecure_channel(running.address))
    try:
        blocked = h.stub.Iter(iter_request("blocker", "wf-blocker", limit=30.0))
        assert await asyncio.to_thread(ENTERED.wait, 10)
        # The sync node now holds its worker thread; a loop it blocked could not serve this.
        events = await collect(h.stub.Iter(iter_request("tokens", count=50)))
        assert events[-1].run_ended.result.status == pb.RUN_STATUS_COMPLETED
        assert text_of(events) == "".join(f"tok{i} " for i in range(50))
        RELEASE.set()
        ended = (await collect(blocked))[-1].run_ended.result
        assert ended.status == pb.RUN_STATUS_COMPLETED
        assert ended.values.fields["released"].bool_value  # released by us, not by the limit
    finally:
        RELEASE.set()
        await close_harness(h)


@pytest.mark.asyncio
async def test_workflow_id_is_free_as_soon_as_run_ended_is_received(harness):
    """A chat reuses one workflow id turn after turn: no ALREADY_EXISTS in between."""
    for turn in range(30):
        events = await collect(harness.stub.Iter(iter_request("tokens", "chat-1", count=3)))
        assert events[-1].WhichOneof("kind") == "run_ended", turn
        response = await harness.stub.Run(run_request("add", "chat-1", a=turn, b=1))
        assert response.result.status == pb.RUN_STATUS_COMPLETED
