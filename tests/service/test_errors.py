"""The error table (docs/protocol.md, "Errors"): each refusal's code, message and
google.rpc details (ErrorInfo reason, BadRequest field violations); a server
bug is INTERNAL with the workflow id, never a bare UNKNOWN; a node that raises
is an OK call with a FAILED result naming the exception as node_failed does."""

from __future__ import annotations

import logging

import grpc
import pytest

from hypergraph import AsyncRunner
from hypergraph_grpc.config import ServiceConfig
from hypergraph_grpc.errors import DOMAIN
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb
from tests.service.conftest import (
    close_harness,
    collect,
    iter_request,
    make_harness,
    run_request,
)
from tests.service.helpers import Details, rejected


@pytest.mark.asyncio
async def test_unknown_graph_is_not_found_listing_known_names(harness):
    details = await rejected(harness.stub.Run(run_request("no_such_graph")))
    assert details.code == grpc.StatusCode.NOT_FOUND
    assert "no_such_graph" in details.message and "tokens" in details.message
    assert (details.reason, details.domain) == ("GRAPH_NOT_FOUND", DOMAIN)
    assert "tokens" in details.info.metadata["known_graphs"]
    streamed = await rejected(harness.stub.Iter(iter_request("nope")))
    assert streamed.code == grpc.StatusCode.NOT_FOUND and streamed.reason == "GRAPH_NOT_FOUND"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("graph", "values", "select", "workflow_id", "fields"),
    [
        ("add", {"a": 1}, (), "", ["values.b"]),
        ("add", {"a": 1, "b": 2, "c": 3}, (), "", ["values.c"]),
        ("add", {"a": 1, "b": 2.5}, (), "", ["values.b"]),
        ("add", {"a": "x", "b": 2}, (), "", ["values.a"]),
        ("add", {"a": 1, "b": 2}, ("sum", "total"), "", ["select"]),
        ("add", {"a": 1, "b": 2}, (), "bad id!", ["workflow_id"]),
        ("add", {"a": 1, "b": 2}, (), "x" * 129, ["workflow_id"]),
        (
            "typed",
            {"name": "n", "count": 1, "ratio": 0.5, "items": "notalist"},
            (),
            "",
            ["values.items"],
        ),
        ("add", {}, (), "", ["values.a", "values.b"]),
    ],
)
async def test_invalid_argument_with_field_violations(
    harness, graph, values, select, workflow_id, fields
):
    details = await rejected(
        harness.stub.Run(run_request(graph, workflow_id, select=select, **values))
    )
    assert details.code == grpc.StatusCode.INVALID_ARGUMENT
    assert (details.reason, details.domain) == ("INVALID_INPUT", DOMAIN)
    assert details.fields == fields
    for field in fields:
        name = field.split(".")[-1]
        if field != "workflow_id":
            assert repr(name)[1:-1] in details.message


@pytest.mark.asyncio
async def test_unknown_input_suggests_close_match(harness):
    details = await rejected(harness.stub.Run(run_request("tokens", cont=3)))
    assert "did you mean 'count'?" in details.message
    assert details.fields == ["values.count", "values.cont"]


@pytest.mark.asyncio
async def test_second_stream_with_live_workflow_id_is_already_exists(harness):
    first = harness.stub.Iter(iter_request("sleep", "dup-1", seconds=30))
    assert (await first.read()).WhichOneof("kind") == "run_started"
    details = await rejected(harness.stub.Iter(iter_request("tokens", "dup-1", count=1)))
    assert details.code == grpc.StatusCode.ALREADY_EXISTS
    assert details.reason == "WORKFLOW_ALREADY_RUNNING" and "dup-1" in details.message
    unary = await rejected(harness.stub.Run(run_request("add", "dup-1", a=1, b=1)))
    assert unary.code == grpc.StatusCode.ALREADY_EXISTS
    first.cancel()


@pytest.mark.asyncio
async def test_resource_exhausted_runs_streams_and_size():
    h = await make_harness(ServiceConfig(max_runs=1, max_streams=1, max_request_bytes=2000))
    try:
        first = h.stub.Iter(iter_request("sleep", "r1", seconds=30))
        await first.read()
        runs = await rejected(h.stub.Run(run_request("add", a=1, b=1)))
        assert runs.code == grpc.StatusCode.RESOURCE_EXHAUSTED and runs.reason == "TOO_MANY_RUNS"
        streams = await rejected(h.stub.Iter(iter_request("add", a=1, b=1)))
        assert streams.code == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert streams.reason == "TOO_MANY_STREAMS"
        assert runs.retry_after == streams.retry_after == 1.0
        assert h.service.admission.refused == {"TOO_MANY_RUNS": 1, "TOO_MANY_STREAMS": 1}
        big = await rejected(h.stub.Run(run_request("echo", value="x" * 5000)))
        assert big.code == grpc.StatusCode.RESOURCE_EXHAUSTED and big.reason == "REQUEST_TOO_LARGE"
        assert "--max-request-bytes" in big.message
        first.cancel()
    finally:
        await close_harness(h)


class BrokenRunner(AsyncRunner):
    """A runner whose run() raises a plain bug for the graph 'add'."""

    async def run(self, graph, values=None, **kw):
        if graph.name == "add":
            raise KeyError("bug in the runtime")
        return await super().run(graph, values, **kw)


@pytest.mark.asyncio
async def test_server_bug_is_internal_with_workflow_id(caplog):
    h = await make_harness(runner=BrokenRunner())
    try:
        details = await rejected(h.stub.Run(run_request("add", "bug-1", a=1, b=1)))
        assert details.code == grpc.StatusCode.INTERNAL and details.reason == "INTERNAL_ERROR"
        assert "bug-1" in details.message
        streamed = await rejected(h.stub.Iter(iter_request("add", "bug-2", a=1, b=1)))
        assert streamed.code == grpc.StatusCode.INTERNAL and "bug-2" in streamed.message
        assert any(getattr(r, "workflow_id", "") == "bug-1" for r in caplog.records)
    finally:
        await close_harness(h)


class StopBugRunner(AsyncRunner):
    """A runner whose stop() has a plain bug while ``broken`` is set."""

    broken = True

    def stop(self, workflow_id, **kw):
        if self.broken:
            raise ZeroDivisionError("bug in stop")
        return super().stop(workflow_id, **kw)


@pytest.mark.asyncio
async def test_server_bug_in_stop_is_internal_with_details_and_logged(caplog):
    runner = StopBugRunner()
    h = await make_harness(runner=runner)
    try:
        call = h.stub.Iter(iter_request("sleep", "wf-bug", seconds=30))
        assert (await call.read()).WhichOneof("kind") == "run_started"
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await h.stub.Stop(pb.StopRequest(workflow_id="wf-bug"))
        details = Details(info.value)
        assert details.code == grpc.StatusCode.INTERNAL
        assert (details.reason, details.domain) == ("INTERNAL_ERROR", DOMAIN)
        assert "wf-bug" in details.message and "ZeroDivisionError" in details.message
        assert any(
            getattr(r, "workflow_id", "") == "wf-bug" and r.levelno >= logging.ERROR
            for r in caplog.records
        )
    finally:
        runner.broken = False  # let the drain stop the run
        await close_harness(h)


@pytest.mark.asyncio
async def test_stop_with_malformed_id_is_invalid_argument(harness):
    details = await rejected(harness.stub.Stop(pb.StopRequest(workflow_id="")))
    assert details.code == grpc.StatusCode.INVALID_ARGUMENT and details.fields == ["workflow_id"]


@pytest.mark.asyncio
async def test_node_failed_and_the_run_result_name_the_exception_alike(harness):
    """An exception class re-exported by its package (``hypergraph.NodeOutputError``,
    defined in a private module) has one name in node_failed, RunEnded and Run."""
    expected = "hypergraph.NodeOutputError"
    events = await collect(harness.stub.Iter(iter_request("bad_outputs", x=1)))
    failed = [e.node_failed.error for e in events if e.WhichOneof("kind") == "node_failed"]
    ended = events[-1].run_ended.result
    assert [error.type for error in failed] == [expected]
    assert ended.error.type == expected and ended.error.node == "one_value_for_two_outputs"
    answer = await harness.stub.Run(run_request("bad_outputs", x=1))
    assert answer.result.error.type == expected
