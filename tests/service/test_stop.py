"""Stop racing a run's start and end: a Stop that arrives before RunStarted is
applied when the run starts; one after the run's end answers found=false."""

from __future__ import annotations

import asyncio

import pytest

from hypergraph_grpc.convert import struct_to_dict
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb
from tests.service.conftest import (
    collect,
    iter_request,
    run_request,
)


@pytest.mark.asyncio
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


@pytest.mark.asyncio
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
