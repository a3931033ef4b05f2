"""Streamed Iter and Watch over the Connect protocol: envelopes, order, the end of the stream."""

from __future__ import annotations

import asyncio
import socket
import time

import grpc
import pyqwest
import pytest
from connectrpc.errors import ConnectError
from connectrpc.protocol import ProtocolType

from hypergraph_grpc.gen.hypergraph.v1 import runner_connect
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2_grpc as pb_grpc
from tests.web.connect_http import SERVICE, call_json, envelope, events_until_end, kind, stream_json


def test_iter_over_json_streams_every_token_in_order_then_run_ended(base):
    body = {"graph": "tokens", "values": {"count": 50, "delay_ms": 1}, "workflowId": "s-order"}
    with stream_json(base, "Iter", body) as envelopes:
        events, end = events_until_end(envelopes)
    assert end == {}  # no error
    kinds = [kind(e) for e in events]
    assert kinds[0] == "runStarted" and kinds[-1] == "runEnded"
    seqs = [int(e["seq"]) for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    chunks = [e["streamingChunk"] for e in events if kind(e) == "streamingChunk"]
    assert "".join(c["text"] for c in chunks) == "".join(f"tok{i} " for i in range(50))
    assert sum(c.get("merged", 1) for c in chunks) == 50
    assert all(e["workflowId"] == "s-order" for e in events)
    result = events[-1]["runEnded"]["result"]
    assert result["status"] == "RUN_STATUS_COMPLETED"


def test_iter_over_binary_connect_matches_the_grpc_stream(server, base):
    async def over_connect() -> list[pb.Event]:
        client = runner_connect.RunnerServiceClient(base)
        request = pb.IterRequest(graph="tokens", workflow_id="s-bin")
        request.values.update({"count": 20})
        return [event async for event in client.iter(request)]

    events = asyncio.run(over_connect())
    with grpc.insecure_channel(server.target) as channel:
        request = pb.IterRequest(graph="tokens", workflow_id="s-bin")
        request.values.update({"count": 20})
        grpc_events = list(pb_grpc.RunnerServiceStub(channel).Iter(request))

    # Both transports number every ctx.stream() call alike and carry the same text; how
    # many calls one message joins depends on the writer's timing, so framing may differ.
    def lifecycle(evs):
        return [(e.seq, e.WhichOneof("kind")) for e in evs if not e.HasField("streaming_chunk")]

    def text(evs):
        return "".join(e.streaming_chunk.text for e in evs)

    assert lifecycle(events) == lifecycle(grpc_events)
    assert text(events) == text(grpc_events) == "".join(f"tok{i} " for i in range(20))
    for evs in (events, grpc_events):
        chunks = [e for e in evs if e.HasField("streaming_chunk")]
        assert sum(max(1, e.streaming_chunk.merged) for e in chunks) == 20


def text_of(events) -> str:
    return "".join(
        e["streamingChunk"].get("text", "") for e in events if kind(e) == "streamingChunk"
    )


def test_watch_over_json_replays_a_run_after_a_seq(base):
    with stream_json(
        base, "Iter", {"graph": "tokens", "values": {"count": 10}, "workflowId": "s-watch"}
    ) as envelopes:
        events, _ = events_until_end(envelopes)
    with stream_json(base, "Watch", {"workflowId": "s-watch", "afterSeq": "3"}) as envelopes:
        watched, end = events_until_end(envelopes)
    assert end == {}
    # A replay may merge chunks (a merged chunk carries the seq of its last call).
    seqs = [int(e["seq"]) for e in watched]
    assert seqs == sorted(seqs) and seqs[0] > 3 and seqs[-1] == int(events[-1]["seq"])
    assert text_of(watched) == text_of(e for e in events if int(e["seq"]) > 3)
    assert kind(watched[-1]) == "runEnded"


def test_a_refused_iter_ends_its_stream_with_the_error_and_its_details(base):
    with stream_json(base, "Iter", {"graph": "no-such-graph"}) as envelopes:
        events, end = events_until_end(envelopes)
    assert events == []
    assert end["error"]["code"] == "not_found"
    assert "no-such-graph" in end["error"]["message"]
    assert [d["type"] for d in end["error"]["details"]] == [
        "google.rpc.ErrorInfo",
        "google.rpc.BadRequest",
    ]


def test_a_client_that_goes_away_stops_its_run(base):
    # A raw connection, closed after the first token: the run is stopped as client_cancelled.
    host, port = base.removeprefix("http://").rsplit(":", 1)
    body = envelope(
        {"graph": "tokens", "values": {"count": 100000, "delay_ms": 5}, "workflowId": "s-gone"}
    )
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            f"POST {SERVICE}Iter HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/connect+json\r\n"
            f"content-length: {len(body)}\r\n\r\n".encode()
            + body
        )
        received = b""
        while b"streamingChunk" not in received:
            received += sock.recv(65536)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with stream_json(base, "Watch", {"workflowId": "s-gone"}) as envelopes:
            events, _ = events_until_end(envelopes)
        if events and kind(events[-1]) == "runEnded":
            break
    result = events[-1]["runEnded"]["result"]
    assert result["status"] == "RUN_STATUS_STOPPED"
    assert result["stopInfo"] == {"kind": "client_cancelled"}


def test_a_detached_stream_leaves_its_run_going(base):
    body = {
        "graph": "tokens",
        "values": {"count": 40, "delay_ms": 5},
        "workflowId": "s-detach",
        "options": {"detach": True},
    }
    with stream_json(base, "Iter", body) as envelopes:
        for item in envelopes:
            if kind(item.message) == "streamingChunk":
                break
    with stream_json(base, "Watch", {"workflowId": "s-detach"}) as envelopes:
        events, _ = events_until_end(envelopes)
    assert events[-1]["runEnded"]["result"]["status"] == "RUN_STATUS_COMPLETED"


def test_the_http_port_speaks_http2_without_tls(base):
    # HTTP/2 with prior knowledge (no TLS, no upgrade): a client the server could not
    # answer in HTTP/2 would fail here.
    async def over_http2() -> tuple[pb.ListGraphsResponse, list[pb.Event]]:
        transport = pyqwest.HTTPTransport(http_version=pyqwest.HTTPVersion.HTTP2)
        client = runner_connect.RunnerServiceClient(base, http_client=pyqwest.Client(transport))
        listed = await client.list_graphs(pb.ListGraphsRequest())
        request = pb.IterRequest(graph="tokens")
        request.values.update({"count": 3})
        return listed, [event async for event in client.iter(request)]

    listed, events = asyncio.run(over_http2())
    assert "chat" in [g.name for g in listed.graphs]
    assert "".join(e.streaming_chunk.text for e in events) == "tok0 tok1 tok2 "
    assert call_json(base, "ListGraphs", {}).status == 200  # and HTTP/1.1 on the same port


@pytest.mark.parametrize(
    ("protocol", "version"),
    [
        (ProtocolType.GRPC_WEB, pyqwest.HTTPVersion.HTTP1),
        (ProtocolType.GRPC, pyqwest.HTTPVersion.HTTP2),
    ],
    ids=["grpc-web-http1", "grpc-http2"],
)
def test_the_http_port_also_answers_grpc_web_and_grpc_clients(base, protocol, version):
    async def call() -> tuple[list[pb.Event], str]:
        http = pyqwest.Client(pyqwest.HTTPTransport(http_version=version))
        client = runner_connect.RunnerServiceClient(base, protocol=protocol, http_client=http)
        request = pb.IterRequest(graph="tokens")
        request.values.update({"count": 4})
        events = [event async for event in client.iter(request)]
        try:
            await client.run(pb.RunRequest(graph="no-such-graph"))
        except ConnectError as exc:
            return events, exc.code.value
        return events, ""

    events, refused = asyncio.run(call())
    assert "".join(e.streaming_chunk.text for e in events) == "tok0 tok1 tok2 tok3 "
    assert events[-1].run_ended.result.status == pb.RUN_STATUS_COMPLETED
    assert refused == "not_found"


def test_a_slow_http_reader_holds_the_writer_back_so_chunks_merge(base):
    # The node streams far more than the socket buffers hold while nothing is read:
    # the writer must wait for the connection, so the stream's queue merges chunks.
    count = 200_000
    body = {"graph": "tokens", "values": {"count": count}, "workflowId": "s-slow"}
    with stream_json(base, "Iter", body, timeout=120) as envelopes:
        time.sleep(2.0)
        events, end = events_until_end(envelopes)
    assert end == {}
    chunks = [e["streamingChunk"] for e in events if kind(e) == "streamingChunk"]
    assert sum(c.get("merged", 1) for c in chunks) == count
    assert len(chunks) < count / 10
    assert "".join(c["text"] for c in chunks).startswith("tok0 tok1 tok2 ")
