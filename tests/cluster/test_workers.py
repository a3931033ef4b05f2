"""``serve --workers N``: N processes on one port sharing Redis coordination."""

from __future__ import annotations

import asyncio
import re
import socket
import time
import urllib.request

import grpc
import pytest

from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2_grpc as pb_grpc
from tests.cluster.conftest import GRAPHS
from tests.support.server_process import ServerProcess, serve_refused
from tests.web.connect_http import call_json


def test_more_than_one_worker_without_redis_is_refused_saying_why():
    refused = serve_refused("--workers", "2")
    assert refused.returncode == 2
    assert "--coordination redis://" in refused.stderr and "run twice" in refused.stderr


@pytest.mark.asyncio
async def test_two_workers_share_one_port_and_one_cluster(redis):
    workers = ServerProcess(*GRAPHS, "--coordination", redis.url, "--workers", "2")
    try:
        channels = [
            grpc.aio.insecure_channel(
                workers.target, options=[("grpc.use_local_subchannel_pool", 1)]
            )
            for _ in range(16)
        ]
        try:
            starts = []
            for i, ch in enumerate(channels):  # one connection each: the kernel spreads them
                request = pb.IterRequest(graph="tokens", workflow_id=f"wf-worker-{i}")
                request.values.update({"count": 100000, "delay_ms": 20})
                request.options.detach = True
                call = pb_grpc.RunnerServiceStub(ch).Iter(request)
                starts.append(call)
            for call in starts:
                assert (await call.read()).WhichOneof("kind") == "run_started"
                call.cancel()
            stub = pb_grpc.RunnerServiceStub(channels[0])
            runs = (await stub.ListRuns(pb.ListRunsRequest(graph="tokens"))).runs
            assert len({r.owner for r in runs}) == 2  # both processes hold runs
            stops = [stub.Stop(pb.StopRequest(workflow_id=f"wf-worker-{i}")) for i in range(16)]
            assert all(answer.found for answer in await asyncio.gather(*stops))
        finally:
            for ch in channels:
                await ch.close()
    finally:
        assert workers.stop() == 0


def test_workers_serve_one_http_port_and_name_it(redis):
    with socket.socket() as probe:  # a free port for the workers to share
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    workers = ServerProcess(
        *GRAPHS, "--coordination", redis.url, "--workers", "2", "--http-port", str(port)
    )
    try:
        assert workers.http_url == f"http://127.0.0.1:{port}"
        reply = call_json(workers.http_url, "Run", {"graph": "add", "values": {"a": 2, "b": 2}})
        assert reply.status == 200 and reply.body["result"]["values"] == {"sum": 4}
    finally:
        assert workers.stop() == 0


def test_each_worker_serves_metrics_of_its_own(redis):
    workers = ServerProcess(
        *GRAPHS, "--coordination", redis.url, "--workers", "2", "--metrics-port", "0"
    )
    try:
        give_up = time.monotonic() + 60
        while len(urls := set(re.findall(r"metrics_url=(\S+)", workers.log()))) < 2:
            assert time.monotonic() < give_up, workers.log()
            time.sleep(0.05)
        assert len(urls) == 2  # one port each (0: each picked a free one)
        for url in urls:
            text = urllib.request.urlopen(url, timeout=10).read().decode()
            assert "hypergraph_heartbeat_timestamp_seconds " in text
    finally:
        assert workers.stop() == 0
