"""AsyncClient against a real server (the test graphs): every method, events, errors, cancel."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from hg_client_support import SLOW, new_id, seq_by_calls
from tcp_relay import Relay

from hypergraph_grpc.client import (
    AlreadyExistsError,
    AsyncClient,
    DeadlineExceededError,
    InvalidArgumentError,
    NodeEnded,
    NodeStarted,
    NotFoundError,
    RunEnded,
    RunFailedError,
    RunStarted,
    RunStatus,
    StreamingChunk,
    SuperstepStarted,
    UnavailableError,
)
from tests.support.server_process import wait_until_free_async

pytestmark = pytest.mark.asyncio


async def test_list_graphs_describes_inputs_and_outputs(target):
    async with AsyncClient(target) as client:
        graphs = {g.name: g for g in await client.list_graphs()}
    tokens = graphs["tokens"]
    inputs = {i.name: i for i in tokens.inputs}
    assert inputs["count"].required and not inputs["count"].has_default
    assert inputs["prefix"].has_default and inputs["prefix"].default == "tok"
    assert [o.name for o in tokens.outputs] == ["text"]
    assert tokens.nodes == ("emit_tokens",)
    assert "Stream" in tokens.description or tokens.description


async def test_run_returns_native_values(target):
    async with AsyncClient(target) as client:
        result = await client.run("add", {"a": 2, "b": 40})
    assert result.status is RunStatus.COMPLETED and result.completed
    assert result["sum"] == 42 and type(result["sum"]) is int
    assert "sum" in result and result.get("nope", 7) == 7
    assert result.workflow_id.startswith("wf-") and result.run_id
    assert result.error is None and result.stop_info is None


async def test_run_keeps_given_workflow_id_and_select(target):
    workflow_id = new_id("pyc")
    async with AsyncClient(target) as client:
        result = await client.run(
            "tokens", {"count": 3, "prefix": "a"}, workflow_id=workflow_id, select=["text"]
        )
    assert result.workflow_id == workflow_id
    assert result.values == {"text": "a0 a1 a2 "}


async def test_failed_run_is_a_result_and_can_raise(target):
    async with AsyncClient(target) as client:
        result = await client.run("fail", {"message": "kaput"})
    assert result.failed and result.error.type == "ValueError"
    assert "kaput" in result.error.message
    with pytest.raises(RunFailedError) as info:
        result.raise_on_failure()
    assert info.value.result is result


async def test_iter_yields_typed_events_in_order(target):
    async with AsyncClient(target) as client:
        stream = client.iter("tokens", {"count": 20, "prefix": "e"})
        events = [event async for event in stream]
    assert isinstance(events[0], RunStarted) and events[0].graph == "tokens"
    assert isinstance(events[-1], RunEnded) and events[-1].status is RunStatus.COMPLETED
    assert [e.seq for e in events] == seq_by_calls(events)
    kinds = {type(e) for e in events}
    assert {SuperstepStarted, NodeStarted, StreamingChunk, NodeEnded} <= kinds
    chunks = [e for e in events if isinstance(e, StreamingChunk)]
    assert "".join(c.text for c in chunks) == "".join(f"e{i} " for i in range(20))
    assert sum(c.merged for c in chunks) == 20
    assert all(c.node == "emit_tokens" and c.time > 0 for c in chunks)
    assert stream.result == events[-1].result and stream.workflow_id == events[0].workflow_id
    assert events[-1].result["text"] == "".join(c.text for c in chunks)


async def test_iter_events_support_match(target):
    text = ""
    async with AsyncClient(target) as client:
        async for event in client.iter("tokens", {"count": 5, "prefix": "m"}):
            match event:
                case StreamingChunk(text=token):
                    text += token
                case RunEnded(result=result):
                    assert result.completed
    assert text == "m0 m1 m2 m3 m4 "


async def test_disable_merge_sends_one_message_per_token(target):
    async with AsyncClient(target) as client:
        stream = client.iter("tokens", {"count": 300}, disable_merge=True)
        chunks = [e async for e in stream if isinstance(e, StreamingChunk)]
    assert len(chunks) == 300 and all(c.merged == 1 for c in chunks)


async def test_text_view_leaves_out_the_node_lifecycle(target):
    async with AsyncClient(target) as client:
        events = [e async for e in client.iter("tokens", {"count": 3}, view="text")]
    assert isinstance(events[0], RunStarted) and isinstance(events[-1], RunEnded)
    assert {type(e) for e in events} == {RunStarted, StreamingChunk, RunEnded}


async def test_an_unknown_view_is_refused_before_any_call(target):
    async with AsyncClient(target) as client:
        with pytest.raises(ValueError, match="view='text'"):
            client.iter("tokens", {"count": 1}, view="lifecycle")


async def test_stream_text_yields_only_tokens(target):
    async with AsyncClient(target) as client:
        stream = client.stream_text("tokens", {"count": 4, "prefix": "x"})
        tokens = [token async for token in stream]
    assert "".join(tokens) == "x0 x1 x2 x3 " and all(isinstance(t, str) for t in tokens)
    assert stream.result.completed


async def test_stream_text_raises_when_the_run_fails(target):
    async with AsyncClient(target) as client:
        with pytest.raises(RunFailedError) as info:
            async for _ in client.stream_text("fail", {"message": "bad"}):
                pass
    assert info.value.result.error.type == "ValueError"


async def test_stop_from_another_client_ends_stream_stopped(target):
    workflow_id = new_id("pyc")
    async with AsyncClient(target) as client, AsyncClient(target) as other:
        stream = client.iter("tokens", SLOW, workflow_id=workflow_id)
        text, outcome = "", None
        async for event in stream:
            if isinstance(event, StreamingChunk):
                text += event.text
                if outcome is None and text.count(" ") >= 2:
                    outcome = await other.stop(workflow_id, {"kind": "test"}, grace=5)
                    assert outcome and outcome.found and outcome.run_id
                    assert outcome.state == "STOPPING"
        again = await other.stop(workflow_id)
    result = stream.result
    assert result.stopped and result.stop_info == {"kind": "test"}
    assert result["text"] == text
    assert not again.found


async def test_stop_unknown_workflow_is_not_found(target):
    async with AsyncClient(target) as client:
        outcome = await client.stop("no-such-workflow")
    assert not outcome and outcome.found is False


async def test_breaking_out_of_iter_stops_the_run(target):
    workflow_id = new_id("pyc")
    async with AsyncClient(target) as client:
        async with client.iter("tokens", SLOW, workflow_id=workflow_id) as stream:
            async for event in stream:
                if isinstance(event, StreamingChunk):
                    break
        assert stream.result is None
        assert (await wait_until_free_async(client, workflow_id)).completed


async def test_cancelling_the_consuming_task_stops_the_run(target):
    workflow_id = new_id("pyc")
    started = asyncio.Event()

    async def consume(client):
        async for event in client.iter("tokens", SLOW, workflow_id=workflow_id):
            if isinstance(event, StreamingChunk):
                started.set()

    async with AsyncClient(target) as client:
        task = asyncio.create_task(consume(client))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert (await wait_until_free_async(client, workflow_id)).completed


async def test_detached_stream_keeps_running_after_cancel(target):
    workflow_id = new_id("pyc")
    async with AsyncClient(target) as client:
        async with client.iter("tokens", SLOW, workflow_id=workflow_id, detach=True) as stream:
            async for event in stream:
                if isinstance(event, StreamingChunk):
                    break
        await asyncio.sleep(0.2)
        with pytest.raises(AlreadyExistsError) as info:
            await client.run("add", {"a": 1, "b": 1}, workflow_id=workflow_id)
        assert info.value.reason
        assert (await client.stop(workflow_id, {"kind": "cleanup"}, grace=1)).found
        await wait_until_free_async(client, workflow_id)


async def test_errors_are_typed_with_details(target):
    async with AsyncClient(target) as client:
        with pytest.raises(NotFoundError) as info:
            await client.run("nope")
        assert info.value.code is grpc.StatusCode.NOT_FOUND
        assert info.value.reason == "GRAPH_NOT_FOUND" and "tokens" in info.value.message
        with pytest.raises(InvalidArgumentError) as info:
            await client.run("add", {"a": 1})
        assert "values.b" in [v.field for v in info.value.field_violations]
        assert "values.b" in str(info.value)
        with pytest.raises(InvalidArgumentError):
            async for _ in client.iter("add", {"a": 1, "b": 2, "zz": 3}):
                pass


async def test_deadline_exceeded(target):
    async with AsyncClient(target, timeout=0.3) as client:
        with pytest.raises(DeadlineExceededError):
            await client.run("sleep", {"seconds": 30})
        with pytest.raises(DeadlineExceededError):
            async for _ in client.iter("sleep", {"seconds": 30}):
                pass


async def test_watch_of_an_unknown_workflow_is_not_found(target):
    async with AsyncClient(target) as client:
        with pytest.raises(NotFoundError) as info:
            async for _ in client.watch("wf-nobody-here"):
                pass
    assert info.value.reason == "WORKFLOW_NOT_FOUND"


async def test_a_watch_cut_before_its_first_event_resumes_after_its_own_after_seq(target):
    workflow_id = new_id("watch-resume-late")
    relay = await Relay(target).start()
    try:
        async with AsyncClient(target) as starter, AsyncClient(relay.address) as watcher:
            events = starter.iter(
                "tokens", {"count": 3, "delay_ms": 300}, workflow_id=workflow_id, detach=True
            )
            started = await anext(events)
            while not isinstance(started, StreamingChunk):  # the next event is 300 ms away
                started = await anext(events)
            await events.aclose()  # detached: the run goes on
            await watcher.list_graphs()  # the relay's connection is up
            stream = watcher.watch(workflow_id, after_seq=started.seq)
            await asyncio.sleep(0.1)  # the Watch waits for the next event...
            relay.cut()  # ...when its connection is lost
            seen = [event async for event in stream]
        assert seen[0].seq == started.seq + 1  # nothing at or before after_seq again
        assert isinstance(seen[-1], RunEnded) and stream.result.completed
    finally:
        await relay.close()


async def consume(stream) -> list:
    return [event async for event in stream]


async def test_a_watch_cancelled_while_it_waits_to_resume_makes_no_new_call(target):
    workflow_id = new_id("watch-cancel-wait")
    relay = await Relay(target).start()
    async with AsyncClient(target) as starter, AsyncClient(relay.address) as watcher:
        events = starter.iter("tokens", SLOW, workflow_id=workflow_id, detach=True)
        await anext(events)
        await events.aclose()  # detached: the run goes on until stopped below
        try:
            stream = watcher.watch(workflow_id)
            reading = asyncio.ensure_future(consume(stream))
            await asyncio.sleep(0.2)  # events flow...
            relay.cut()  # ...the read fails, and the stream waits 0.1 s to resume...
            await asyncio.sleep(0.05)
            stream.cancel()  # ...when it is cancelled: the stream ends quietly
            assert await reading
            await asyncio.sleep(0.3)
            assert relay.accepted == 1  # no Watch was made again (and left running)
        finally:
            await starter.stop(workflow_id)
            await relay.close()


async def test_list_runs_shows_a_live_run(target):
    workflow_id = new_id("listed")
    async with AsyncClient(target) as client:
        events = client.iter("tokens", SLOW, workflow_id=workflow_id)
        assert isinstance(await anext(events), RunStarted)
        runs = {r.workflow_id: r for r in await client.list_runs(graph="tokens", page_size=1)}
        await events.aclose()
    assert runs[workflow_id].graph == "tokens" and runs[workflow_id].state == "RUNNING"


async def test_unreachable_server_is_unavailable():
    async with AsyncClient("127.0.0.1:1", timeout=5) as client:
        with pytest.raises(UnavailableError) as info:
            await client.list_graphs()
    assert info.value.code is grpc.StatusCode.UNAVAILABLE


async def test_metadata_is_accepted(target):
    async with AsyncClient(target, metadata=[("x-request-id", "abc")]) as client:
        assert (await client.run("add", {"a": 1, "b": 2}))["sum"] == 3


async def test_cancelling_a_unary_run_stops_it(target):
    workflow_id = new_id("pyc")
    async with AsyncClient(target) as client:
        task = asyncio.create_task(client.run("sleep", {"seconds": 60}, workflow_id=workflow_id))
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert (await wait_until_free_async(client, workflow_id)).completed
