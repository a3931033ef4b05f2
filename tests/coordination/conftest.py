"""The coordination implementations the contract suite runs against.

``make_coordination(stop_receiver, limits, replica_id)`` builds one; every test
of test_contract.py runs once per implementation. The Redis one talks to a
private redis-server (emptied before each test).
"""

from __future__ import annotations

import pytest
import pytest_asyncio

from hypergraph_grpc.coordination.memory import InMemoryCoordination
from tests.support.redis_server import RedisServer


@pytest.fixture(scope="session")
def redis_server():
    server = RedisServer()
    yield server
    server.close()


@pytest_asyncio.fixture(params=["memory", "redis"])
async def make_coordination(request):
    built = []
    if request.param == "memory":

        async def make(stop_receiver, limits=None, replica_id=""):
            coordination = InMemoryCoordination(stop_receiver, limits, replica_id)
            await coordination.start()
            built.append(coordination)
            return coordination

        yield make
        return

    from hypergraph_grpc.coordination.redis import RedisCoordination

    server = request.getfixturevalue("redis_server")

    async def make(stop_receiver, limits=None, replica_id=""):
        coordination = RedisCoordination.from_url(
            server.url, stop_receiver, limits, replica_id=replica_id, lease_seconds=2.0
        )
        await coordination.start()
        built.append(coordination)
        return coordination

    import redis.asyncio as aioredis

    admin = aioredis.from_url(server.url)
    await admin.flushall()
    yield make
    for coordination in built:
        await coordination.close()
    await admin.flushall()
    await admin.aclose()
