"""Watch and ListRuns against a real server with in-memory coordination."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from hypergraph_grpc.config import ServiceConfig
from hypergraph_grpc.coordination import EventLogLimits
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb
from hypergraph_grpc.service import ECHO_METADATA_KEY
from tests.service.conftest import (
    close_harness,
    collect,
    eventually,
    iter_request,
    make_harness,
    run_request,
    text_of,
)
from tests.service.helpers import Details
from tests.service.sequence import assert_seq_counts_calls

pytestmark = pytest.mark.asyncio

DETACH = pb.StreamOptions(detach=True)


async def start_detached(harness, workflow_id: str, count: int, delay_ms: int = 2):
    """Start a tokens run whose Iter stream the test then drops; the run goes on."""
    call = harness.stub.Iter(
        iter_request("tokens", workflow_id, count=count, delay_ms=delay_ms, options=DETACH)
    )
    first = await call.read()
    assert first.WhichOneof("kind") == "run_started"
    call.cancel()
    return first


async def read_some(call, count: int) -> list[pb.Event]:
    events = []
    while len(events) < count:
        event = await call.read()
        assert event is not grpc.aio.EOF
        events.append(event)
    return events


async def test_watch_from_zero_gets_every_event_of_a_detached_run(harness):
    await start_detached(harness, "wf-w1", count=80)
    events = await collect(harness.stub.Watch(pb.WatchRequest(workflow_id="wf-w1")))
    kinds = [e.WhichOneof("kind") for e in events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_ended"
    assert_seq_counts_calls(events)
    assert text_of(events) == "".join(f"tok{i} " for i in range(80))
    assert events[-1].run_ended.result.status == pb.RUN_STATUS_COMPLETED


async def test_watch_and_iter_number_the_same_events_alike(harness):
    iter_events = await collect(harness.stub.Iter(iter_request("tokens", "wf-same", count=30)))
    watched = await collect(harness.stub.Watch(pb.WatchRequest(workflow_id="wf-same")))
    # Both number every call alike; text that queued during an Iter write leaves joined
    # there, so the chunk framing (not the numbers) may differ.
    assert_seq_counts_calls(iter_events)
    assert_seq_counts_calls(watched)
    assert iter_events[-1].seq == watched[-1].seq
    assert [
        (e.seq, e.WhichOneof("kind")) for e in iter_events if not e.HasField("streaming_chunk")
    ] == [(e.seq, e.WhichOneof("kind")) for e in watched if not e.HasField("streaming_chunk")]
    assert text_of(iter_events) == text_of(watched)


async def test_watch_resuming_after_any_seq_of_a_merged_message_gets_exactly_the_rest(harness):
    await collect(harness.stub.Iter(iter_request("tokens", "wf-any", count=200)))
    whole = await collect(harness.stub.Watch(pb.WatchRequest(workflow_id="wf-any")))
    assert any(e.streaming_chunk.merged > 1 for e in whole)  # catching up merges
    for after in (3, 4, 50, 150, 203):  # seq 4 is tok0
        rest = await collect(
            harness.stub.Watch(pb.WatchRequest(workflow_id="wf-any", after_seq=after))
        )
        assert_seq_counts_calls(rest, after_seq=after)
        assert text_of(rest) == "".join(f"tok{i} " for i in range(max(0, after - 3), 200))


async def test_watch_resumes_after_a_dropped_connection_without_loss_or_duplicate(harness):
    await start_detached(harness, "wf-resume", count=200, delay_ms=2)
    channel, stub = await harness.new_stub()
    first = stub.Watch(pb.WatchRequest(workflow_id="wf-resume"))
    before = await read_some(first, 25)
    await channel.close()  # the connection is gone mid-stream
    after = await collect(
        harness.stub.Watch(pb.WatchRequest(workflow_id="wf-resume", after_seq=before[-1].seq))
    )
    whole = before + after
    assert_seq_counts_calls(whole)
    assert text_of(whole) == "".join(f"tok{i} " for i in range(200))
    assert whole[-1].WhichOneof("kind") == "run_ended"


async def test_a_watch_answers_its_headers_before_its_first_event(harness):
    # A quiet run: its first token comes at once, the next one 10 s later.
    await start_detached(harness, "wf-headers", count=3, delay_ms=10_000)
    catching_up = harness.stub.Watch(pb.WatchRequest(workflow_id="wf-headers"))
    event = await catching_up.read()
    while event.WhichOneof("kind") != "streaming_chunk":
        event = await catching_up.read()
    catching_up.cancel()
    call = harness.stub.Watch(pb.WatchRequest(workflow_id="wf-headers", after_seq=event.seq))
    try:
        assert await asyncio.wait_for(call.initial_metadata(), 5) is not None
    finally:
        call.cancel()
        await harness.stub.Stop(pb.StopRequest(workflow_id="wf-headers"))


async def test_a_watch_answers_its_echo_once_accepted_and_a_refused_one_has_no_headers(harness):
    echo = ((ECHO_METADATA_KEY, "w-1"),)
    await start_detached(harness, "wf-echo", count=5)
    accepted = harness.stub.Watch(pb.WatchRequest(workflow_id="wf-echo"), metadata=echo)
    assert tuple(await accepted.initial_metadata()) == echo
    await collect(accepted)
    refused = harness.stub.Watch(pb.WatchRequest(workflow_id="wf-nobody"), metadata=echo)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await refused.read()
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    # Trailers only: a client that sees headers knows its Watch was accepted.
    assert not await refused.initial_metadata()
    assert echo[0] in tuple(await refused.trailing_metadata())


async def test_finished_run_is_watchable_until_the_ttl_then_not_found():
    h = await make_harness(ServiceConfig(event_log=EventLogLimits(ttl_seconds=0.5)))
    try:
        await h.stub.Run(run_request("add", "wf-ttl", a=1, b=2))
        events = await collect(h.stub.Watch(pb.WatchRequest(workflow_id="wf-ttl")))
        assert events[-1].run_ended.result.status == pb.RUN_STATUS_COMPLETED
        await asyncio.sleep(0.7)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await collect(h.stub.Watch(pb.WatchRequest(workflow_id="wf-ttl")))
        assert info.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        await close_harness(h)


async def test_watch_of_an_unknown_id_is_not_found(harness):
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await collect(harness.stub.Watch(pb.WatchRequest(workflow_id="wf-nobody")))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    details = Details(info.value)
    assert details.reason == "WORKFLOW_NOT_FOUND"
    assert details.info.metadata["workflow_id"] == "wf-nobody"


async def test_watch_of_a_malformed_id_is_invalid_and_bounded(harness):
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await collect(harness.stub.Watch(pb.WatchRequest(workflow_id="x" * 100_000)))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert len(info.value.details()) < 2000


async def test_watch_older_than_kept_starts_with_the_lost_range():
    h = await make_harness(ServiceConfig(event_log=EventLogLimits(max_events=20)))
    try:
        await h.stub.Run(run_request("tokens", "wf-lost", count=100))
        events = await collect(h.stub.Watch(pb.WatchRequest(workflow_id="wf-lost", after_seq=5)))
        lost = events[0]
        assert lost.WhichOneof("kind") == "events_lost"
        assert lost.events_lost.first_seq == 6 and lost.events_lost.last_seq == lost.seq
        assert_seq_counts_calls(events, after_seq=5)  # the next event follows the lost range
        assert events[-1].seq - lost.seq == 20  # exactly the newest 20 are kept
        assert events[-1].WhichOneof("kind") == "run_ended"
    finally:
        await close_harness(h)


async def test_watch_of_a_graph_the_token_may_not_run_is_denied():
    from hypergraph_grpc.auth import AuthTokens

    h = await make_harness(auth=AuthTokens.parse(["full", "limited:add"]))
    try:
        full = (("authorization", "Bearer full"),)
        limited = (("authorization", "Bearer limited"),)
        await h.stub.Run(run_request("tokens", "wf-secret", count=3), metadata=full)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await collect(h.stub.Watch(pb.WatchRequest(workflow_id="wf-secret"), metadata=limited))
        assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
        runs = await h.stub.ListRuns(pb.ListRunsRequest(), metadata=limited)
        assert list(runs.runs) == []
        live = h.stub.Iter(iter_request("tokens", "wf-hidden", count=100000), metadata=full)
        assert (await live.read()).WhichOneof("kind") == "run_started"
        seen = await h.stub.ListRuns(pb.ListRunsRequest(), metadata=full)
        hidden = await h.stub.ListRuns(pb.ListRunsRequest(), metadata=limited)
        asked = await h.stub.ListRuns(pb.ListRunsRequest(graph="tokens"), metadata=limited)
        live.cancel()
        assert [r.workflow_id for r in seen.runs] == ["wf-hidden"]
        assert list(hidden.runs) == [] and list(asked.runs) == []
    finally:
        await close_harness(h)


async def test_list_runs_shows_live_runs_filtered_and_paged(harness):
    for i in range(5):
        await start_detached(harness, f"wf-list-{i}", count=100000, delay_ms=20)
    call = harness.stub.Iter(iter_request("sleep", "wf-list-sleep", seconds=30))
    assert (await call.read()).WhichOneof("kind") == "run_started"
    try:
        everything = await harness.stub.ListRuns(pb.ListRunsRequest())
        assert {r.workflow_id for r in everything.runs} == {
            *(f"wf-list-{i}" for i in range(5)),
            "wf-list-sleep",
        }
        assert everything.next_page_token == ""
        run = next(r for r in everything.runs if r.workflow_id == "wf-list-0")
        assert run.graph == "tokens" and run.run_id and run.owner
        assert run.state == pb.RUN_STATE_RUNNING and run.start_time.seconds > 0

        seen, token = [], ""
        while True:
            page = await harness.stub.ListRuns(
                pb.ListRunsRequest(graph="tokens", page_size=2, page_token=token)
            )
            assert len(page.runs) <= 2
            seen += [r.workflow_id for r in page.runs]
            token = page.next_page_token
            if not token:
                break
        assert seen == [f"wf-list-{i}" for i in range(5)]  # oldest first, each once

        await harness.stub.Stop(pb.StopRequest(workflow_id="wf-list-0"))
        states = {
            r.workflow_id: r.state for r in (await harness.stub.ListRuns(pb.ListRunsRequest())).runs
        }
        assert states.get("wf-list-0", pb.RUN_STATE_STOPPING) == pb.RUN_STATE_STOPPING
    finally:
        call.cancel()
        for i in range(5):
            await harness.stub.Stop(pb.StopRequest(workflow_id=f"wf-list-{i}"))
        assert await eventually(lambda: harness.service._coord.live_count() == 0)


async def test_list_runs_refuses_a_forged_page_token_and_a_negative_size(harness):
    for request in (
        pb.ListRunsRequest(page_token="not-a-token" * 500),
        pb.ListRunsRequest(page_token="bm90IGpzb24="),
        pb.ListRunsRequest(page_size=-1),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await harness.stub.ListRuns(request)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert len(info.value.details()) < 2000


async def test_out_of_range_watch_and_list_runs_values_get_defined_answers(harness):
    await harness.stub.Run(run_request("add", "wf-edge", a=1, b=2))
    beyond = await collect(
        harness.stub.Watch(pb.WatchRequest(workflow_id="wf-edge", after_seq=2**64 - 1))
    )
    assert beyond == []  # nothing after the last seq of an ended run: an empty stream
    huge = await harness.stub.ListRuns(pb.ListRunsRequest(page_size=2**31 - 1))
    assert huge.next_page_token == ""  # clamped to the maximum page, no error
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await collect(harness.stub.Watch(pb.WatchRequest(workflow_id="")))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
