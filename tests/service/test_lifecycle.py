"""Cancellation, deadlines, Stop races, many streams, slow consumers, drain."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from hypergraph_grpc.config import ServiceConfig
from hypergraph_grpc.convert import struct_to_dict
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb
from tests.service.conftest import (
    close_harness,
    collect,
    eventually,
    iter_request,
    make_harness,
    run_request,
    text_of,
)
from tests.service.sequence import assert_seq_counts_calls

pytestmark = pytest.mark.asyncio


async def retry_run(stub, request, within: float = 5.0):
    """Run, retrying while the workflow id is still live (ALREADY_EXISTS)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + within
    while True:
        try:
            return await stub.Run(request)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.ALREADY_EXISTS or loop.time() > end:
                raise
            await asyncio.sleep(0.02)


async def test_cancel_after_first_event_stops_the_run(harness):
    call = harness.stub.Iter(iter_request("tokens", "cancel-1", count=100000, delay_ms=5))
    first = await call.read()
    assert first.WhichOneof("kind") == "run_started"
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call.read()
    probe = await retry_run(harness.stub, run_request("add", "cancel-1", a=1, b=1))
    assert probe.result.status == pb.RUN_STATUS_COMPLETED


async def test_detached_stream_keeps_running_after_cancel(harness):
    options = pb.StreamOptions(detach=True)
    call = harness.stub.Iter(
        iter_request("tokens", "detach-1", count=100000, delay_ms=5, options=options)
    )
    await call.read()
    call.cancel()
    await asyncio.sleep(0.2)
    assert "detach-1" in {r.workflow_id for r in harness.service._coord.live_runs()}
    stop = await harness.stub.Stop(pb.StopRequest(workflow_id="detach-1"))
    assert stop.found
    assert await eventually(lambda: harness.service._coord.live_count() == 0)


async def test_cancel_before_run_started_still_stops(harness):
    for i in range(10):
        call = harness.stub.Iter(iter_request("sleep", f"early-{i}", seconds=30))
        await asyncio.sleep(0)
        call.cancel()
    for i in range(10):
        probe = await retry_run(harness.stub, run_request("add", f"early-{i}", a=1, b=1))
        assert probe.result.status == pb.RUN_STATUS_COMPLETED


async def test_stop_racing_run_start(harness):
    async def one(i: int):
        wf = f"race-start-{i}"
        call = harness.stub.Iter(iter_request("tokens", wf, count=200, delay_ms=1))
        stop_task = asyncio.ensure_future(harness.stub.Stop(pb.StopRequest(workflow_id=wf)))
        events = await collect(call)
        stop = await stop_task
        result = events[-1].run_ended.result
        if stop.found:
            assert result.status == pb.RUN_STATUS_STOPPED
        else:
            assert result.status == pb.RUN_STATUS_COMPLETED
        return stop.found

    found = await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(20))), 30)
    assert len(found) == 20


async def test_stop_racing_run_end(harness):
    async def one(i: int):
        wf = f"race-end-{i}"
        run = asyncio.ensure_future(harness.stub.Run(run_request("add", wf, a=i, b=1)))
        for _ in range(i % 4):
            await asyncio.sleep(0)
        stop = await harness.stub.Stop(pb.StopRequest(workflow_id=wf))
        result = (await run).result
        if stop.found:
            assert result.status == pb.RUN_STATUS_STOPPED
        else:
            assert result.status == pb.RUN_STATUS_COMPLETED
            assert struct_to_dict(result.values) == {"sum": i + 1}

    await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(30))), 30)


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
    for node in ("stream_a", "stream_b"):
        own = [e.WhichOneof("kind") for e in events if e.node == node]
        assert own[0] == "node_started" and own[-1] == "node_ended"
        assert set(own[1:-1]) == {"streaming_chunk"}


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


async def test_drain_stops_live_runs_and_every_stream_gets_run_ended():
    h = await make_harness(ServiceConfig(shutdown_grace=0.3))
    health = health_pb2_grpc.HealthStub(h.channel)
    calls = [
        h.stub.Iter(iter_request("tokens", count=100000, delay_ms=5)),
        h.stub.Iter(iter_request("sleep", seconds=30)),
        h.stub.Iter(iter_request("stubborn", seconds=30)),
        h.stub.Iter(iter_request("sync_sleep", seconds=30)),
    ]
    for call in calls:
        assert (await call.read()).WhichOneof("kind") == "run_started"
    shutdown = asyncio.ensure_future(h.running.shutdown(drain_seconds=0.5))
    try:
        await asyncio.sleep(0.1)
        reply = await health.Check(health_pb2.HealthCheckRequest(service=""))
        assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await h.stub.Run(run_request("add", a=1, b=1))
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        endings = [(await collect(call))[-1] for call in calls]
        await shutdown
    finally:
        await h.channel.close()
    for ending in endings:
        result = ending.run_ended.result
        assert result.status == pb.RUN_STATUS_STOPPED
        assert struct_to_dict(result.stop_info) == {"kind": "server_shutdown"}
    assert endings[2].run_ended.result.forced  # stubborn ignores stop: grace cancels it


async def test_workflow_id_is_free_as_soon_as_run_ended_is_received(harness):
    """A chat reuses one workflow id turn after turn: no ALREADY_EXISTS in between."""
    for turn in range(30):
        events = await collect(harness.stub.Iter(iter_request("tokens", "chat-1", count=3)))
        assert events[-1].WhichOneof("kind") == "run_ended", turn
        response = await harness.stub.Run(run_request("add", "chat-1", a=turn, b=1))
        assert response.result.status == pb.RUN_STATUS_COMPLETED
