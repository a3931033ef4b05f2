"""clients/scenarios.json through the Python async client AND the sync client.

This is the reference implementation of the shared table: every other language
mirrors these checks (see clients/README.md for the fields).
"""

from __future__ import annotations

import asyncio
import json
import time

import grpc
import pytest
from hg_client_support import SCENARIOS, new_id
from tcp_relay import Relay, ThreadedRelay

from hypergraph_grpc.client import (
    AsyncClient,
    Client,
    HypergraphClientError,
    RunResult,
    StreamingChunk,
)

CASES = SCENARIOS["cases"]
IDS = [case["name"] for case in CASES]


def same(actual, expected) -> bool:
    """Equal as native values, types included (42 is not 42.0, True is not 1)."""
    return json.dumps(actual, sort_keys=True) == json.dumps(expected, sort_keys=True)


def deadline(case) -> float | None:
    return case["deadline_ms"] / 1000 if "deadline_ms" in case else None


def check_result(case, result: RunResult, text: str | None = None) -> None:
    if "expect_text" in case:
        assert text == case["expect_text"]
    if "expect_status" in case:
        assert result.status.value == case["expect_status"], result
    if "expect_values" in case:
        assert same(result.values, case["expect_values"]), result.values
    if "expect_error_type" in case:
        assert result.error is not None and result.error.type == case["expect_error_type"]
    if "expect_error_message_contains" in case:
        assert case["expect_error_message_contains"] in result.error.message
    if "expect_stop_info" in case:
        assert same(result.stop_info, case["expect_stop_info"]), result.stop_info
    if "expect_partial_output" in case:
        assert text, "no text was streamed before the stop"
        assert result.values[case["expect_partial_output"]] == text


def check_error(case, error: HypergraphClientError) -> None:
    assert error.code.name == case["expect_code"], error
    if "expect_message_contains" in case:
        assert case["expect_message_contains"] in error.message
    if "expect_field_violation" in case:
        assert case["expect_field_violation"] in [v.field for v in error.field_violations]
    if "expect_error_reason" in case:
        assert error.reason == case["expect_error_reason"]
        assert error.domain == "hypergraph.dev"


# ------------------------------------------------------------------------ async


async def async_case(case, target: str) -> None:
    kind = case["kind"]
    async with AsyncClient(target) as client:
        if kind == "list_graphs":
            names = {g.name for g in await client.list_graphs()}
            assert set(case["expect_graphs_include"]) <= names
        elif kind == "run" and "expect_code" in case:
            with pytest.raises(HypergraphClientError) as info:
                await client.run(case["graph"], case["values"], timeout=deadline(case))
            check_error(case, info.value)
        elif kind == "run":
            check_result(case, await client.run(case["graph"], case["values"]))
        elif kind == "iter":
            text = ""
            stream = client.iter(case["graph"], case["values"], timeout=deadline(case))
            async for event in stream:
                if isinstance(event, StreamingChunk):
                    text += event.text
            check_result(case, stream.result, text)
        elif kind == "stop_mid_stream":
            await async_stop_mid_stream(case, client, target)
        elif kind == "cancel":
            await async_cancel(case, client)
        elif kind == "watch_resume":
            await async_watch_resume(case, client)
        elif kind == "watch_after_cut":
            await async_watch_after_cut(case, client, target)
        else:
            pytest.fail(f"unknown scenario kind {kind!r}")


def check_stop_outcome(case, outcome, result) -> None:
    """Stop answered for the streamed run itself: found, its run id, the state it asks for."""
    assert outcome is not None and outcome.found == case["expect_stop_found"], outcome
    if "expect_stop_state" in case:
        assert outcome.state == case["expect_stop_state"], outcome
    if outcome.found:
        assert outcome.run_id == result.run_id, (outcome, result.run_id)


async def async_stop_mid_stream(case, client: AsyncClient, target: str) -> None:
    workflow_id = new_id(case["name"][:20])
    text, chunks, outcome = "", 0, None
    async with client.iter(case["graph"], case["values"], workflow_id=workflow_id) as stream:
        async for event in stream:
            if isinstance(event, StreamingChunk):
                text += event.text
                chunks += 1
                if chunks == case["stop_after_chunks"]:
                    async with AsyncClient(target) as second:  # a second client stops it
                        outcome = await second.stop(workflow_id, case["stop_info"])
    check_stop_outcome(case, outcome, stream.result)
    check_result(case, stream.result, text)


async def async_cancel(case, client: AsyncClient) -> None:
    workflow_id = new_id(case["name"][:20])
    chunks = 0
    async with client.iter(case["graph"], case["values"], workflow_id=workflow_id) as stream:
        async for event in stream:
            chunks += isinstance(event, StreamingChunk)
            if chunks == case["cancel_after_chunks"]:
                break  # leaving the `async with` cancels the call
    probe = case["probe"]
    give_up = time.monotonic() + probe["within_ms"] / 1000
    while True:
        try:
            result = await client.run(probe["graph"], probe["values"], workflow_id=workflow_id)
            break
        except HypergraphClientError as err:
            if err.code.name != probe["retry_code"] or time.monotonic() > give_up:
                raise
            await asyncio.sleep(0.02)
    assert result.completed, result


async def async_watch_resume(case, client: AsyncClient) -> None:
    workflow_id = new_id(case["name"][:20])
    started = client.iter(case["graph"], case["values"], workflow_id=workflow_id, detach=True)
    await anext(started)
    await started.aclose()  # detached: the run goes on
    first = []
    async with client.watch(workflow_id) as watching:
        async for event in watching:
            first.append(event)
            if len(first) == case["watch_first_events"]:
                break
    rest = client.watch(workflow_id, after_seq=first[-1].seq)
    events = first + [event async for event in rest]
    check_watched(case, events, rest.result)


async def async_watch_after_cut(case, client: AsyncClient, target: str) -> None:
    workflow_id = new_id(case["name"][:20])
    started = client.iter(case["graph"], case["values"], workflow_id=workflow_id, detach=True)
    await anext(started)
    await started.aclose()  # detached: the run goes on
    relay = await Relay(target).start()
    try:
        async with AsyncClient(relay.address) as watcher:
            events = []
            watching = watcher.watch(workflow_id)  # resumes by itself (the default)
            async for event in watching:
                events.append(event)
                if len(events) == case["cut_after_events"]:
                    relay.cut()  # the connection is lost mid-stream
        check_watched(case, events, watching.result)
        assert relay.accepted >= 2, "the Watch never came back through the relay"
    finally:
        await relay.close()


def check_watched(case, events, result: RunResult) -> None:
    """Every event once, in order (the seq rule from seq 0), ending with RunEnded."""
    seq = 0
    for event in events:
        seq += event.merged if isinstance(event, StreamingChunk) else 1
        assert event.seq == seq, f"seq {event.seq}, expected {seq}"
    text = "".join(e.text for e in events if isinstance(e, StreamingChunk))
    check_result(case, result, text)


@pytest.mark.asyncio
@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_scenario_async(case, scenario_server) -> None:
    await async_case(case, scenario_server.target)


# ------------------------------------------------------------------------- sync


def sync_case(case, target: str) -> None:
    kind = case["kind"]
    with Client(target) as client:
        if kind == "list_graphs":
            assert set(case["expect_graphs_include"]) <= {g.name for g in client.list_graphs()}
        elif kind == "run" and "expect_code" in case:
            with pytest.raises(HypergraphClientError) as info:
                client.run(case["graph"], case["values"], timeout=deadline(case))
            check_error(case, info.value)
        elif kind == "run":
            check_result(case, client.run(case["graph"], case["values"]))
        elif kind == "iter":
            stream = client.iter(case["graph"], case["values"], timeout=deadline(case))
            text = "".join(e.text for e in stream if isinstance(e, StreamingChunk))
            check_result(case, stream.result, text)
        elif kind == "stop_mid_stream":
            sync_stop_mid_stream(case, client, target)
        elif kind == "cancel":
            sync_cancel(case, client)
        elif kind == "watch_resume":
            sync_watch_resume(case, client)
        elif kind == "watch_after_cut":
            sync_watch_after_cut(case, client, target)
        else:
            pytest.fail(f"unknown scenario kind {kind!r}")


def sync_stop_mid_stream(case, client: Client, target: str) -> None:
    workflow_id = new_id(case["name"][:20])
    text, chunks, outcome = "", 0, None
    with client.iter(case["graph"], case["values"], workflow_id=workflow_id) as stream:
        for event in stream:
            if isinstance(event, StreamingChunk):
                text += event.text
                chunks += 1
                if chunks == case["stop_after_chunks"]:
                    with Client(target) as second:
                        outcome = second.stop(workflow_id, case["stop_info"])
    check_stop_outcome(case, outcome, stream.result)
    check_result(case, stream.result, text)


def sync_cancel(case, client: Client) -> None:
    workflow_id = new_id(case["name"][:20])
    chunks = 0
    with client.iter(case["graph"], case["values"], workflow_id=workflow_id) as stream:
        for event in stream:
            chunks += isinstance(event, StreamingChunk)
            if chunks == case["cancel_after_chunks"]:
                break  # leaving the `with` cancels the call
    probe = case["probe"]
    give_up = time.monotonic() + probe["within_ms"] / 1000
    while True:
        try:
            result = client.run(probe["graph"], probe["values"], workflow_id=workflow_id)
            break
        except HypergraphClientError as err:
            if err.code.name != probe["retry_code"] or time.monotonic() > give_up:
                raise
            time.sleep(0.02)
    assert result.completed, result


def sync_watch_resume(case, client: Client) -> None:
    workflow_id = new_id(case["name"][:20])
    with client.iter(case["graph"], case["values"], workflow_id=workflow_id, detach=True) as run:
        next(run)  # detached: leaving the `with` leaves the run going
    first = []
    with client.watch(workflow_id) as watching:
        for event in watching:
            first.append(event)
            if len(first) == case["watch_first_events"]:
                break
    rest = client.watch(workflow_id, after_seq=first[-1].seq)
    check_watched(case, first + list(rest), rest.result)


def sync_watch_after_cut(case, client: Client, target: str) -> None:
    workflow_id = new_id(case["name"][:20])
    with client.iter(case["graph"], case["values"], workflow_id=workflow_id, detach=True) as run:
        next(run)  # detached: leaving the `with` leaves the run going
    relay = ThreadedRelay(target)
    try:
        with Client(relay.address) as watcher:
            events = []
            watching = watcher.watch(workflow_id)  # resumes by itself (the default)
            for event in watching:
                events.append(event)
                if len(events) == case["cut_after_events"]:
                    relay.cut()  # the connection is lost mid-stream
        check_watched(case, events, watching.result)
        assert relay.accepted >= 2, "the Watch never came back through the relay"
    finally:
        relay.close()


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_scenario_sync(case, scenario_server) -> None:
    sync_case(case, scenario_server.target)


def test_every_scenario_kind_is_known() -> None:
    kinds = {case["kind"] for case in CASES}
    known = {"list_graphs", "run", "iter", "stop_mid_stream", "cancel", "watch_resume"}
    assert kinds <= known | {"watch_after_cut"}
    assert grpc.StatusCode  # the codes named by expect_code are grpc.StatusCode names
    for case in CASES:
        if "expect_code" in case:
            assert case["expect_code"] in grpc.StatusCode.__members__
