"""A client that goes away stops its run: a cancelled stream, a passed deadline
(unary or streaming) or a killed client process ends the run STOPPED with
``stop_info`` ``client_cancelled`` / ``deadline_exceeded`` and frees its workflow
id; a stream opened with ``detach`` leaves its run going."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from hypergraph import AsyncRunner
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb
from tests.service.conftest import (
    close_harness,
    collect,
    eventually,
    iter_request,
    make_harness,
    run_request,
)
from tests.service.helpers import retry_run


class RecordingRunner(AsyncRunner):
    """An AsyncRunner that keeps every RunResult by workflow id (the server's own view)."""

    def __init__(self) -> None:
        super().__init__()
        self.results: dict[str, object] = {}

    async def run(self, graph, values=None, **kw):
        result = await super().run(graph, values, **kw)
        self.results[result.workflow_id] = result
        return result


@pytest.mark.asyncio
async def test_cancel_after_first_event_frees_the_workflow_id(harness):
    call = harness.stub.Iter(iter_request("tokens", "cancel-1", count=100000, delay_ms=5))
    first = await call.read()
    assert first.WhichOneof("kind") == "run_started"
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call.read()
    probe = await retry_run(harness.stub, run_request("add", "cancel-1", a=1, b=1))
    assert probe.result.status == pb.RUN_STATUS_COMPLETED


@pytest.mark.asyncio
async def test_cancel_after_first_event_ends_the_run_stopped_client_cancelled():
    runner = RecordingRunner()
    h = await make_harness(runner=runner)
    try:
        call = h.stub.Iter(iter_request("tokens", "wf-cancel", count=100000, delay_ms=5))
        assert (await call.read()).WhichOneof("kind") == "run_started"
        call.cancel()
        assert await eventually(lambda: "wf-cancel" in runner.results, timeout=10)
        result = runner.results["wf-cancel"]
        assert result.stopped
        assert result.stop_info == {"kind": "client_cancelled"}
    finally:
        await close_harness(h)


@pytest.mark.asyncio
async def test_cancel_before_run_started_still_stops(harness):
    for i in range(10):
        call = harness.stub.Iter(iter_request("sleep", f"early-{i}", seconds=30))
        await asyncio.sleep(0)
        call.cancel()
    for i in range(10):
        probe = await retry_run(harness.stub, run_request("add", f"early-{i}", a=1, b=1))
        assert probe.result.status == pb.RUN_STATUS_COMPLETED


@pytest.mark.asyncio
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


@pytest.mark.asyncio
async def test_deadline_ends_the_run_stopped_deadline_exceeded():
    runner = RecordingRunner()
    h = await make_harness(runner=runner)
    try:
        call = h.stub.Iter(iter_request("sleep", "wf-deadline", seconds=30), timeout=0.3)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await collect(call)
        assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert await eventually(lambda: "wf-deadline" in runner.results, timeout=10)
        result = runner.results["wf-deadline"]
        assert result.stopped and result.stop_info == {"kind": "deadline_exceeded"}
    finally:
        await close_harness(h)


@pytest.mark.asyncio
async def test_deadline_on_sleeping_node_is_deadline_exceeded_and_stops_the_run(harness):
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await harness.stub.Run(run_request("sleep", "dl-1", seconds=30), timeout=0.3)
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    # The run was stopped on the server: the id frees up and can be reused.
    response = await retry_run(harness.stub, run_request("add", "dl-1", a=1, b=1))
    assert response.result.status == pb.RUN_STATUS_COMPLETED
    call = harness.stub.Iter(iter_request("sleep", "dl-2", seconds=30), timeout=0.3)
    with pytest.raises(grpc.aio.AioRpcError) as streamed:
        await collect(call)
    assert streamed.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    again = await retry_run(harness.stub, run_request("add", "dl-2", a=1, b=1))
    assert again.result.status == pb.RUN_STATUS_COMPLETED


CLIENT_SCRIPT = """
import sys, time, grpc
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb, runner_pb2_grpc as pbg
channel = grpc.insecure_channel(sys.argv[1])
request = pb.IterRequest(graph="tokens", workflow_id="wf-killed")
request.values.update({"count": 100000, "delay_ms": 5})
stream = pbg.RunnerServiceStub(channel).Iter(request)
next(stream)
print("ready", flush=True)
time.sleep(600)
"""


@pytest.mark.asyncio
async def test_a_client_process_killed_mid_stream_stops_its_run():
    """A real disconnect (the client process dies), not a polite cancel."""
    import subprocess
    import sys
    from pathlib import Path

    runner = RecordingRunner()
    h = await make_harness(runner=runner)
    client = subprocess.Popen(
        [sys.executable, "-c", CLIENT_SCRIPT, h.running.address],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
    )
    try:
        assert await asyncio.to_thread(client.stdout.readline) == b"ready\n"
        client.kill()
        await asyncio.to_thread(client.wait)
        assert await eventually(lambda: "wf-killed" in runner.results, timeout=15)
        result = runner.results["wf-killed"]
        assert result.stopped and result.stop_info == {"kind": "client_cancelled"}
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
        await close_harness(h)
