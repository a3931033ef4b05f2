"""A tenant's limit of live runs holds across the cluster: every replica counts in Redis."""

from __future__ import annotations

import asyncio
import time

import pytest

from hypergraph_grpc.client import AsyncClient, ResourceExhaustedError, RunStarted
from tests.cluster.conftest import LEASE_SECONDS, replica_pair

pytestmark = pytest.mark.asyncio

AUTH_FILE = """
[[token]]
token = "acme-secret"
scopes = ["run", "watch", "stop"]
tenant = "acme"

[[tenant]]
name = "acme"
max_runs = 2
"""
ACME = [("authorization", "Bearer acme-secret")]
QUIET = {"seconds": 60}  # the sleep graph: a run that stays live until stopped


@pytest.fixture(scope="module")
def tenant_pair(redis, tmp_path_factory):
    path = tmp_path_factory.mktemp("auth") / "auth.toml"
    path.write_text(AUTH_FILE)
    with replica_pair(redis, "--auth-file", str(path)) as replicas:
        yield replicas


async def start_quiet(client: AsyncClient, workflow_id: str) -> None:
    stream = client.iter("sleep", QUIET, workflow_id=workflow_id, detach=True)
    assert isinstance(await anext(stream), RunStarted)
    await stream.aclose()  # detached: the run stays live


async def test_a_tenants_run_limit_holds_across_replicas(tenant_pair):
    first, second = tenant_pair
    async with (
        AsyncClient(first.target, metadata=ACME) as on_first,
        AsyncClient(second.target, metadata=ACME) as on_second,
    ):
        try:
            await start_quiet(on_first, "job-1")
            await start_quiet(on_second, "job-2")
            # Past two leases: the runs stay counted because their replicas renew them.
            await asyncio.sleep(2 * LEASE_SECONDS)
            # Each replica holds one of acme's runs; a third is refused on either.
            for client in (on_first, on_second):
                with pytest.raises(ResourceExhaustedError) as refused:
                    await start_quiet(client, "job-3")
                assert refused.value.reason == "TENANT_QUOTA_EXCEEDED"
                assert "already has 2 live runs in the cluster" in refused.value.message
            # A run that ends frees its place for a run on the other replica.
            outcome = await on_second.stop("job-1", grace=0.1)
            assert outcome.found
            await start_quiet_when_free(on_second, "job-3")
        finally:
            for workflow_id in ("job-1", "job-2", "job-3"):
                await on_first.stop(workflow_id, grace=0.1)


async def start_quiet_when_free(client: AsyncClient, workflow_id: str) -> None:
    """start_quiet, retried while the stopped run is still ending (its release is awaited
    before its RunEnded, so this takes a moment at most)."""
    give_up = time.monotonic() + 15
    while True:
        try:
            return await start_quiet(client, workflow_id)
        except ResourceExhaustedError:
            if time.monotonic() > give_up:
                raise
            await asyncio.sleep(0.05)
