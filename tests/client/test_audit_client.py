"""Client audit: a stream dropped without closing stops its run (docs/python-client.md,
"Cancellation"), for the async client too.

grpc.aio keeps an unfinished call alive until its channel closes, so without the
stream cancelling its call when it is collected, a leaked `iter()` kept its run
going for as long as the client stayed open.
"""

from __future__ import annotations

import gc
import time

import pytest
from hg_client_support import SLOW, new_id

from hypergraph_grpc.client import AlreadyExistsError, AsyncClient, Client
from tests.support.server_process import wait_until_free_async


@pytest.mark.asyncio
async def test_dropped_async_stream_stops_its_run_while_the_client_stays_open(target):
    workflow_id = new_id("gc")
    async with AsyncClient(target) as client:
        events = client.iter("tokens", SLOW, workflow_id=workflow_id)
        await events.__anext__()
        del events
        gc.collect()
        assert (await wait_until_free_async(client, workflow_id)).completed


@pytest.mark.asyncio
async def test_dropped_text_stream_stops_its_run(target):
    workflow_id = new_id("gc")
    async with AsyncClient(target) as client:
        tokens = client.stream_text("tokens", SLOW, workflow_id=workflow_id)
        await tokens.__anext__()
        del tokens
        gc.collect()
        assert (await wait_until_free_async(client, workflow_id)).completed


def test_dropped_sync_stream_stops_its_run(target):
    workflow_id = new_id("gc")
    with Client(target) as client:
        events = client.iter("tokens", SLOW, workflow_id=workflow_id)
        next(events)
        del events
        gc.collect()
        give_up = time.monotonic() + 15
        while True:
            try:
                result = client.run("add", {"a": 1, "b": 1}, workflow_id=workflow_id)
                break
            except AlreadyExistsError:
                assert time.monotonic() < give_up
                time.sleep(0.02)
        assert result.completed


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("keyword", "value"),
    [("max_iterations", -1), ("max_queued_events", -5), ("max_chunk_bytes", 1 << 40)],
)
async def test_out_of_range_counts_name_the_argument(target, keyword, value):
    async with AsyncClient(target) as client:
        with pytest.raises(ValueError, match=f"{keyword}={value}.*How to fix"):
            client.iter("tokens", {"count": 1}, **{keyword: value})
    with Client(target) as client, pytest.raises(ValueError, match=f"{keyword}={value}"):
        client.iter("tokens", {"count": 1}, **{keyword: value})


def test_watch_after_seq_is_checked(target):
    with Client(target) as client, pytest.raises(ValueError, match="after_seq=-1"):
        client.watch("w", after_seq=-1)
