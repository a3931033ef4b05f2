"""Every RPC's behaviour on valid requests against an in-process server on a free
loopback port: ListGraphs, Run, Iter, Stop, Watch, health and reflection."""

from __future__ import annotations

import asyncio

import pytest
from google.protobuf import duration_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from hypergraph_grpc.convert import struct_to_dict
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb
from tests.service.conftest import (
    collect,
    iter_request,
    run_request,
    text_of,
)
from tests.service.sequence import assert_seq_counts_calls


@pytest.mark.asyncio
async def test_list_graphs_describes_inputs_outputs_nodes(harness):
    response = await harness.stub.ListGraphs(pb.ListGraphsRequest())
    names = [g.name for g in response.graphs]
    assert names == sorted(names)
    assert {"tokens", "sleep", "fail", "add", "echo", "typed"} <= set(names)
    tokens = next(g for g in response.graphs if g.name == "tokens")
    assert [i.name for i in tokens.inputs][0] == "count" and tokens.inputs[0].required
    delay = next(i for i in tokens.inputs if i.name == "delay_ms")
    assert not delay.required and delay.default_value.number_value == 0.0
    assert [(o.name, o.node) for o in tokens.outputs] == [("text", "emit_tokens")]
    assert tokens.outputs[0].description.startswith("Stream `count` tokens")
    assert list(tokens.nodes) == ["emit_tokens"]
    typed = next(g for g in response.graphs if g.name == "typed")
    count = next(i for i in typed.inputs if i.name == "count")
    assert (count.type, count.description) == ("int", "how many items to count.")


@pytest.mark.asyncio
async def test_run_returns_result_with_ints(harness):
    response = await harness.stub.Run(run_request("add", a=2, b=40))
    result = response.result
    assert result.status == pb.RUN_STATUS_COMPLETED
    values = struct_to_dict(result.values)
    assert values == {"sum": 42} and type(values["sum"]) is int
    assert result.workflow_id.startswith("wf-") and len(result.workflow_id) == 15
    assert result.run_id


@pytest.mark.asyncio
async def test_run_values_round_trip_and_codec(harness):
    value = {"n": 7, "x": 1.5, "s": "héllo", "b": True, "l": [1, "two", None], "none": None}
    response = await harness.stub.Run(run_request("echo", value=value))
    assert struct_to_dict(response.result.values) == {"echoed": value}
    rich = struct_to_dict((await harness.stub.Run(run_request("rich", n=3))).result.values)["rich"]
    assert rich["point"] == {"x": 3, "y": 0.5} and rich["color"] == "red"
    assert rich["when"] == "2026-01-02T03:04:05" and rich["raw"] == "AP9oaQ=="
    assert rich["pair"] == [1, 2] and rich["tags"] == ["a", "b"] and rich["big"] == str(2**60)


@pytest.mark.asyncio
async def test_run_unencodable_output_is_reported_not_dropped(harness):
    result = (await harness.stub.Run(run_request("opaque", n=1))).result
    assert result.status == pb.RUN_STATUS_FAILED
    assert result.error.type == "OutputEncodingError"
    assert "'opaque'" in result.error.message and "Opaque" in result.error.message
    assert struct_to_dict(result.values) == {"fine": 1}


@pytest.mark.asyncio
async def test_run_select_and_given_workflow_id(harness):
    response = await harness.stub.Run(
        run_request(
            "typed", "my-id.1:x", select=["report"], name="n", count=1, ratio=0.5, items=[1]
        )
    )
    assert response.result.workflow_id == "my-id.1:x"
    assert struct_to_dict(response.result.values) == {"report": "n:1:0.5:1:False:none"}


@pytest.mark.asyncio
async def test_node_failure_is_an_ok_rpc_with_failed_result(harness):
    result = (await harness.stub.Run(run_request("fail", message="boom"))).result
    assert result.status == pb.RUN_STATUS_FAILED
    assert (result.error.type, result.error.node) == ("ValueError", "raise_error")
    assert "boom" in result.error.message


@pytest.mark.asyncio
async def test_iter_streams_every_event_in_order(harness):
    events = await collect(harness.stub.Iter(iter_request("tokens", count=50, prefix="t")))
    assert_seq_counts_calls(events)
    kinds = [e.WhichOneof("kind") for e in events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_ended"
    assert kinds.count("run_ended") == 1
    assert kinds[1:3] == ["superstep_started", "node_started"]
    assert kinds[-2] == "node_ended"
    assert text_of(events) == "".join(f"t{i} " for i in range(50))
    chunks = [e for e in events if e.WhichOneof("kind") == "streaming_chunk"]
    # The node streams without pausing: what queued during a write leaves joined.
    assert sum(c.streaming_chunk.merged for c in chunks) == 50
    run_span = events[0].span_id
    node_span = chunks[0].span_id
    assert node_span != run_span and all(c.parent_span_id == run_span for c in chunks)
    assert events[0].run_started.graph == "tokens"
    assert {e.run_id for e in events} == {events[-1].run_ended.result.run_id}
    result = events[-1].run_ended.result
    assert result.status == pb.RUN_STATUS_COMPLETED
    assert struct_to_dict(result.values) == {"text": text_of(events)}


@pytest.mark.asyncio
async def test_tokens_graph_streams_bursts_every_token_in_order(harness):
    request = iter_request("tokens", count=10, prefix="t", delay_ms=1, burst=4)
    events = await collect(harness.stub.Iter(request))
    assert text_of(events) == "".join(f"t{i} " for i in range(10))
    assert events[-1].run_ended.result.status == pb.RUN_STATUS_COMPLETED


@pytest.mark.asyncio
async def test_iter_mixed_chunks_and_usage(harness):
    events = await collect(harness.stub.Iter(iter_request("mixed")))
    chunks = [e.streaming_chunk for e in events if e.WhichOneof("kind") == "streaming_chunk"]
    assert [c.WhichOneof("payload") for c in chunks] == ["text", "data", "value", "text"]
    assert chunks[1].data == b"\x01\x02"
    ended = next(e for e in events if e.WhichOneof("kind") == "node_ended")
    assert struct_to_dict(ended.node_ended.usage) == {
        "input_tokens": 3,
        "output_tokens": 4,
        "stop_reason": "end_turn",
    }
    assert struct_to_dict(events[-1].run_ended.result.usage)["output_tokens"] == 4


@pytest.mark.asyncio
async def test_iter_route_decisions_and_failed_node(harness):
    events = await collect(harness.stub.Iter(iter_request("loop", count=0, limit=2)))
    decisions = [e.route_decision for e in events if e.WhichOneof("kind") == "route_decision"]
    assert [d.decision for d in decisions] == ["bump", "END"] and decisions[-1].end
    assert struct_to_dict(events[-1].run_ended.result.values)["count"] == 2
    failed = await collect(harness.stub.Iter(iter_request("fail", message="bad")))
    node_failed = next(e for e in failed if e.WhichOneof("kind") == "node_failed")
    assert node_failed.node == "raise_error" and node_failed.node_failed.error.type == "ValueError"
    assert failed[-1].run_ended.result.status == pb.RUN_STATUS_FAILED


@pytest.mark.asyncio
async def test_stop_mid_stream_from_second_call(harness):
    call = harness.stub.Iter(
        iter_request("tokens", "stop-me", count=100000, delay_ms=5, prefix="s")
    )
    events, stop = [], None
    async for event in call:
        events.append(event)
        if stop is None and sum(e.WhichOneof("kind") == "streaming_chunk" for e in events) == 3:
            info = pb.StopRequest(workflow_id="stop-me")
            info.info.update({"kind": "user_stop"})
            stop = await harness.stub.Stop(info)
    assert stop.found and stop.state == pb.RUN_STATE_STOPPING and stop.run_id == events[0].run_id
    kinds = [e.WhichOneof("kind") for e in events]
    assert kinds.count("stop_requested") == 1
    assert "streaming_chunk" not in kinds[kinds.index("stop_requested") :]
    result = events[-1].run_ended.result
    assert result.status == pb.RUN_STATUS_STOPPED
    assert struct_to_dict(result.stop_info) == {"kind": "user_stop"}
    assert struct_to_dict(result.values)["text"] == text_of(events)
    again = await harness.stub.Stop(pb.StopRequest(workflow_id="stop-me"))
    assert not again.found and again.state == pb.RUN_STATE_ENDED


@pytest.mark.asyncio
async def test_stop_unknown_and_repeated_and_grace(harness):
    unknown = await harness.stub.Stop(pb.StopRequest(workflow_id="never-ran"))
    assert (unknown.found, unknown.run_id, unknown.state) == (False, "", pb.RUN_STATE_UNSPECIFIED)
    call = harness.stub.Iter(iter_request("stubborn", "stubborn-1", seconds=30))
    first = await call.read()
    assert first.WhichOneof("kind") == "run_started"
    one = await harness.stub.Stop(pb.StopRequest(workflow_id="stubborn-1"))
    two = await harness.stub.Stop(
        pb.StopRequest(workflow_id="stubborn-1", grace=duration_pb2.Duration(nanos=50_000_000))
    )
    assert one.found and two.found  # idempotent; the grace escalates
    events = [first] + await collect(call)
    result = events[-1].run_ended.result
    assert result.status == pb.RUN_STATUS_STOPPED and result.forced
    failed = [e for e in events if e.WhichOneof("kind") == "node_failed"]
    assert failed and failed[0].node_failed.error.type == "asyncio.CancelledError"


@pytest.mark.asyncio
async def test_health_and_reflection(harness):
    health = health_pb2_grpc.HealthStub(harness.channel)
    for service in ("", "hypergraph.v1.RunnerService"):
        reply = await health.Check(health_pb2.HealthCheckRequest(service=service))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    stub = reflection_pb2_grpc.ServerReflectionStub(harness.channel)

    async def requests():
        yield reflection_pb2.ServerReflectionRequest(list_services="")

    names = []
    async for reply in stub.ServerReflectionInfo(requests()):
        names = [s.name for s in reply.list_services_response.service]
    assert "hypergraph.v1.RunnerService" in names and "grpc.health.v1.Health" in names


@pytest.mark.asyncio
async def test_sync_node_and_concurrent_runs(harness):
    calls = [harness.stub.Run(run_request("sync_sleep", seconds=0.05)) for _ in range(5)]
    calls += [harness.stub.Run(run_request("add", a=i, b=1)) for i in range(20)]
    responses = await asyncio.gather(*calls)
    assert all(r.result.status == pb.RUN_STATUS_COMPLETED for r in responses)
    assert [struct_to_dict(r.result.values)["sum"] for r in responses[5:]] == [
        i + 1 for i in range(20)
    ]


@pytest.mark.asyncio
async def test_sync_node_chunks_from_a_worker_thread_arrive_in_order(harness):
    events = await collect(harness.stub.Iter(iter_request("sync_stream", count=5000)))
    assert_seq_counts_calls(events)
    assert text_of(events) == "".join(f"w{i} " for i in range(5000))
    assert struct_to_dict(events[-1].run_ended.result.values)["sync_text"] == text_of(events)


@pytest.mark.asyncio
async def test_reflection_serves_the_contract_file(harness):
    """What grpcurl needs: the file that defines RunnerService, by symbol."""
    from google.protobuf import descriptor_pb2
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    stub = reflection_pb2_grpc.ServerReflectionStub(harness.channel)

    async def requests():
        yield reflection_pb2.ServerReflectionRequest(
            file_containing_symbol="hypergraph.v1.RunnerService"
        )

    replies = [reply async for reply in stub.ServerReflectionInfo(requests())]
    protos = replies[0].file_descriptor_response.file_descriptor_proto
    files = [descriptor_pb2.FileDescriptorProto.FromString(raw) for raw in protos]
    services = {s.name: s for f in files for s in f.service}
    methods = {m.name for m in services["RunnerService"].method}
    assert methods == {"ListGraphs", "Run", "Iter", "Stop", "Watch", "ListRuns"}
