"""Start N `tokens` Iter calls at once against a server; print what became of them as JSON.

Run in its own process by test_admission.py (``python -m tests.service.burst_client
HOST:PORT N``), so the burst of starts arrives at the server from outside, as it
would from many clients.
"""

from __future__ import annotations

import asyncio
import collections
import json
import sys

import grpc

from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2_grpc as pb_grpc
from tests.service.helpers import Details

TOKENS = 5
CONNECTIONS = 4


async def _one(stub: pb_grpc.RunnerServiceStub, outcomes: collections.Counter) -> None:
    request = pb.IterRequest(graph="tokens")
    request.values.update({"count": TOKENS, "delay_ms": 20, "prefix": "t"})
    text = []
    try:
        async for event in stub.Iter(request, timeout=60):
            if event.WhichOneof("kind") == "streaming_chunk":
                text.append(event.streaming_chunk.text)
            elif event.WhichOneof("kind") == "run_ended":
                status = pb.RunStatus.Name(event.run_ended.result.status)
    except grpc.aio.AioRpcError as error:
        details = Details(error)
        hint = "with_retry_info" if details.retry_after else "without_retry_info"
        outcomes[f"{error.code().name}:{details.reason}:{hint}"] += 1
        return
    complete = "".join(text) == "".join(f"t{i} " for i in range(TOKENS))
    outcomes[f"OK:{status}:{'every_token' if complete else 'tokens_missing'}"] += 1


async def main(address: str, count: int) -> None:
    channels = [grpc.aio.insecure_channel(address) for _ in range(CONNECTIONS)]
    for channel in channels:
        await channel.channel_ready()
    stubs = [pb_grpc.RunnerServiceStub(channel) for channel in channels]
    outcomes: collections.Counter = collections.Counter()
    await asyncio.gather(*(_one(stubs[i % CONNECTIONS], outcomes) for i in range(count)))
    for channel in channels:
        await channel.close()
    print(json.dumps(dict(outcomes)))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
