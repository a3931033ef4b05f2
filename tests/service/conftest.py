"""Fixtures for the server-side tests: a real grpc.aio server on a free loopback port.

Most tests run the server in-process (``start_server(port=0)``) so they can look
at its state (open streams, live runs); the subprocess tests start
``python -m hypergraph_grpc.cli serve --port 0`` as a user would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest_asyncio

from hypergraph_grpc.config import ServiceConfig
from hypergraph_grpc.demo import testing
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2_grpc as pb_grpc
from hypergraph_grpc.server import RunningServer, start_server
from tests.service import graphs as test_graphs

ALL_GRAPHS = {**testing.GRAPHS, **test_graphs.GRAPHS}


class Harness:
    """A running server plus a channel and stub talking to it."""

    def __init__(self, running: RunningServer, channel: grpc.aio.Channel) -> None:
        self.running = running
        self.channel = channel
        self.stub = pb_grpc.RunnerServiceStub(channel)
        self.service = running.service

    async def new_stub(self) -> tuple[grpc.aio.Channel, pb_grpc.RunnerServiceStub]:
        channel = grpc.aio.insecure_channel(self.running.address)
        return channel, pb_grpc.RunnerServiceStub(channel)


async def make_harness(config: ServiceConfig | None = None, **kw) -> Harness:
    running = await start_server(ALL_GRAPHS, host="127.0.0.1", port=0, config=config, **kw)
    channel = grpc.aio.insecure_channel(running.address)
    return Harness(running, channel)


async def close_harness(harness: Harness) -> None:
    await harness.channel.close()
    await harness.running.shutdown(drain_seconds=0)


@pytest_asyncio.fixture
async def harness() -> AsyncIterator[Harness]:
    h = await make_harness()
    try:
        yield h
    finally:
        await close_harness(h)


def values(**items) -> dict:
    return items


def iter_request(graph: str, workflow_id: str = "", **kw) -> pb.IterRequest:
    options = kw.pop("options", None)
    request = pb.IterRequest(graph=graph, workflow_id=workflow_id, options=options)
    request.values.update(kw)
    return request


def run_request(graph: str, workflow_id: str = "", select=(), **kw) -> pb.RunRequest:
    request = pb.RunRequest(graph=graph, workflow_id=workflow_id, select=list(select))
    request.values.update(kw)
    return request


async def collect(call) -> list[pb.Event]:
    """Every remaining message of a stream (read() style, so it mixes with call.read())."""
    events = []
    while True:
        event = await call.read()
        if event is grpc.aio.EOF:
            return events
        events.append(event)


def text_of(events) -> str:
    return "".join(
        e.streaming_chunk.text for e in events if e.WhichOneof("kind") == "streaming_chunk"
    )


async def eventually(predicate, timeout: float = 5.0, interval: float = 0.02) -> bool:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        if predicate():
            return True
        await asyncio.sleep(interval)
    return predicate()
