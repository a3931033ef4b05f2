"""Unary RunnerService calls over the Connect protocol with JSON, as curl makes them."""

from __future__ import annotations

import threading

import grpc

from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2_grpc as pb_grpc
from tests.web.connect_http import call_json, events_until_end, kind, stream_json


def test_list_graphs_over_json_lists_what_the_grpc_port_lists(server, base):
    reply = call_json(base, "ListGraphs", {})
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/json"
    with grpc.insecure_channel(server.target) as channel:
        listed = pb_grpc.RunnerServiceStub(channel).ListGraphs(pb.ListGraphsRequest())
    assert [g["name"] for g in reply.body["graphs"]] == [g.name for g in listed.graphs]
    chat = next(g for g in reply.body["graphs"] if g["name"] == "chat")
    prompt = next(i for i in chat["inputs"] if i["name"] == "prompt")
    assert prompt == {
        "name": "prompt",
        "required": True,
        "description": "the user's message.",
        "type": "str",
    }


def test_run_over_json_returns_the_run_result(base):
    reply = call_json(
        base,
        "Run",
        {"graph": "tokens", "values": {"count": 5}, "workflowId": "http-run-1"},
    )
    assert reply.status == 200, reply.body
    result = reply.body["result"]
    assert result["workflowId"] == "http-run-1"
    assert result["status"] == "RUN_STATUS_COMPLETED"
    assert result["values"] == {"text": "tok0 tok1 tok2 tok3 tok4 "}


def test_run_accepts_proto_field_names_as_well_as_json_names(base):
    reply = call_json(
        base, "Run", {"graph": "add", "values": {"a": 2, "b": 3}, "workflow_id": "x1"}
    )
    assert reply.status == 200, reply.body
    assert reply.body["result"]["workflowId"] == "x1"
    assert reply.body["result"]["values"] == {"sum": 5}


def sleeping_on_grpc(channel: grpc.Channel, workflow_id: str):
    """An Iter stream on the gRPC port of a run that sleeps 30 s, once it has started."""
    request = pb.IterRequest(graph="sleep", workflow_id=workflow_id)
    request.values.update({"seconds": 30})
    call = pb_grpc.RunnerServiceStub(channel).Iter(request)
    assert next(call).WhichOneof("kind") == "run_started"
    return call


def test_stop_over_json_stops_a_run_started_on_the_grpc_port(server, base):
    # One coordination behind both ports: an id live on gRPC is stopped from HTTP.
    with grpc.insecure_channel(server.target) as channel:
        call = sleeping_on_grpc(channel, "http-stop-1")
        reply = call_json(
            base,
            "Stop",
            {"workflowId": "http-stop-1", "info": {"kind": "user_stop"}},
        )
        assert reply.status == 200, reply.body
        assert reply.body["found"] is True
        assert reply.body["state"] == "RUN_STATE_STOPPING"
        ended = [e for e in call if e.WhichOneof("kind") == "run_ended"][0]
    assert ended.run_ended.result.status == pb.RUN_STATUS_STOPPED
    assert dict(ended.run_ended.result.stop_info) == {"kind": "user_stop"}


def test_a_workflow_id_live_on_one_port_is_taken_on_the_other(server, base):
    with grpc.insecure_channel(server.target) as channel:
        call = sleeping_on_grpc(channel, "http-busy-1")
        reply = call_json(
            base, "Run", {"graph": "add", "values": {"a": 1, "b": 1}, "workflowId": "http-busy-1"}
        )
        call.cancel()
    assert reply.status == 409
    assert reply.code == "already_exists"
    assert reply.error_info.reason == "WORKFLOW_ALREADY_RUNNING"


def test_stop_over_json_ends_an_iter_over_http_stopped(base):
    events: list[dict] = []
    end: dict = {}
    started = threading.Event()

    def read() -> None:
        nonlocal end
        body = {
            "graph": "tokens",
            "values": {"count": 100000, "delay_ms": 5},
            "workflowId": "http-stop-2",
        }
        with stream_json(base, "Iter", body) as envelopes:
            for item in envelopes:
                if item.end:
                    end = item.message
                    return
                events.append(item.message)
                if kind(item.message) == "streamingChunk":
                    started.set()

    reader = threading.Thread(target=read)
    reader.start()
    assert started.wait(30)
    reply = call_json(base, "Stop", {"workflowId": "http-stop-2", "info": {"kind": "user_stop"}})
    reader.join(30)
    assert reply.body["found"] is True
    assert end == {}
    result = events[-1]["runEnded"]["result"]
    assert result["status"] == "RUN_STATUS_STOPPED"
    assert result["stopInfo"] == {"kind": "user_stop"}


def test_iter_after_a_finished_stream_reuses_the_workflow_id(base):
    for _ in range(2):
        with stream_json(
            base, "Iter", {"graph": "add", "values": {"a": 1, "b": 2}, "workflowId": "again"}
        ) as envelopes:
            events, end = events_until_end(envelopes)
        assert end == {}
        assert events[-1]["runEnded"]["result"]["values"] == {"sum": 3}
