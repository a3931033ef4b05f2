"""A stream dropped without closing stops its run, while the client stays open.

Each stream cancels its call when it is garbage collected, so the server stops
the run (docs/python-client.md, "Cancellation"). Without it, grpc.aio would keep
an unfinished call, and so its run, alive until the client's channel closes.
The workflow id being free again (a new run under it completes) shows the run ended.
"""

from __future__ import annotations

import gc

import pytest
from hg_client_support import SLOW, new_id

from hypergraph_grpc.client import AsyncClient, Client
from tests.support.server_process import wait_until_free, wait_until_free_async


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
        assert wait_until_free(client, workflow_id).completed
