"""StreamOptions.view: EVENT_VIEW_TEXT leaves out the node lifecycle and nothing else;
an unknown view, or the text view on Watch, is refused naming options.view."""

from __future__ import annotations

import grpc
import pytest

from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb
from tests.service.conftest import collect, iter_request, text_of
from tests.service.helpers import rejected

TEXT = pb.StreamOptions(view=pb.EVENT_VIEW_TEXT)
LIFECYCLE = {"superstep_started", "node_started", "node_ended", "route_decision"}


def kinds(events) -> list[str]:
    return [e.WhichOneof("kind") for e in events]


@pytest.mark.asyncio
async def test_text_view_sends_run_started_chunks_and_run_ended_only(harness):
    full = await collect(harness.stub.Iter(iter_request("tokens", "view-full", count=5)))
    text = await collect(
        harness.stub.Iter(iter_request("tokens", "view-text", count=5, options=TEXT))
    )
    assert LIFECYCLE & set(kinds(full))  # the full view has them to leave out
    assert kinds(text)[0] == "run_started" and kinds(text)[-1] == "run_ended"
    assert set(kinds(text)) == {"run_started", "streaming_chunk", "run_ended"}
    assert text_of(text) == text_of(full) == "tok0 tok1 tok2 tok3 tok4 "
    # seq numbers every event of the run: the same RunEnded seq, gaps where events were left out.
    assert text[-1].seq == full[-1].seq
    assert [e.seq for e in text] == [e.seq for e in full if e.WhichOneof("kind") not in LIFECYCLE]
    assert text[-1].run_ended.result.status == pb.RUN_STATUS_COMPLETED


@pytest.mark.asyncio
async def test_text_view_keeps_node_failures(harness):
    events = await collect(
        harness.stub.Iter(iter_request("fail", "view-fail", message="boom", options=TEXT))
    )
    assert kinds(events) == ["run_started", "node_failed", "run_ended"]
    assert "boom" in events[1].node_failed.error.message
    assert events[-1].run_ended.result.status == pb.RUN_STATUS_FAILED


@pytest.mark.asyncio
async def test_text_view_keeps_stop_requested(harness):
    call = harness.stub.Iter(
        iter_request("tokens", "view-stop", count=100000, delay_ms=2, options=TEXT)
    )
    first = [await call.read() for _ in range(3)]  # RunStarted and two chunks
    stop = await harness.stub.Stop(
        pb.StopRequest(workflow_id="view-stop", info={"kind": "user_stop"})
    )
    rest = await collect(call)
    assert stop.found
    assert "stop_requested" in kinds(rest)
    assert not LIFECYCLE & set(kinds(first + rest))
    assert rest[-1].run_ended.result.status == pb.RUN_STATUS_STOPPED


@pytest.mark.asyncio
async def test_unknown_view_is_refused_naming_the_field(harness):
    options = pb.StreamOptions(view=7)
    details = await rejected(harness.stub.Iter(iter_request("tokens", count=1, options=options)))
    assert details.code == grpc.StatusCode.INVALID_ARGUMENT
    assert details.fields == ["options.view"]
    assert "EVENT_VIEW_TEXT" in details.message and "7" in details.message
    # Nothing started: the id is free.
    assert harness.service.open_streams == 0


@pytest.mark.asyncio
async def test_watch_refuses_the_text_view(harness):
    await collect(harness.stub.Iter(iter_request("tokens", "view-watch", count=2)))
    details = await rejected(
        harness.stub.Watch(pb.WatchRequest(workflow_id="view-watch", options=TEXT))
    )
    assert details.code == grpc.StatusCode.INVALID_ARGUMENT
    assert details.fields == ["options.view"]
    assert "Iter" in details.message
    # The full view still watches the same run.
    events = await collect(harness.stub.Watch(pb.WatchRequest(workflow_id="view-watch")))
    assert kinds(events)[-1] == "run_ended"
