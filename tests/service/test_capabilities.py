"""Per-run capability tokens (``serve --capability-key-file``), against a real server
process: an Iter may ask for a signed token (RunStarted.capability) that lets its holder
Watch and/or Stop that one run until it expires, and nothing else; a caller can hand out
only scopes it holds; altered or expired tokens are refused; keys rotate on SIGHUP."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import duration_pb2

from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2_grpc as pb_grpc
from tests.service.conftest import collect
from tests.service.helpers import rejected
from tests.support.server_process import ServerProcess, serve_refused

pytestmark = pytest.mark.asyncio

GRAPHS = ("--graphs", "hypergraph_grpc.demo.testing:GRAPHS")
AUTH_FILE = """
[[token]]
token = "owner-secret"
scopes = ["run", "watch", "stop"]

[[token]]
token = "runner-secret"
scopes = ["run"]
"""
OLD_KEY = '[[key]]\nid = "old"\nsecret = "' + "o" * 40 + '"\n'
NEW_KEY = '[[key]]\nid = "new"\nsecret = "' + "n" * 40 + '"\n'


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


OWNER = bearer("owner-secret")


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> tuple[Path, Path]:
    directory = tmp_path_factory.mktemp("capabilities")
    (directory / "auth.toml").write_text(AUTH_FILE)
    (directory / "keys.toml").write_text(OLD_KEY)
    return directory / "auth.toml", directory / "keys.toml"


@pytest.fixture(scope="module")
def server(files) -> Iterator[ServerProcess]:
    auth, keys = files
    with ServerProcess(
        *GRAPHS, "--auth-file", str(auth), "--capability-key-file", str(keys)
    ) as proc:
        yield proc


def sleep_request(workflow_id: str, *scopes: str, ttl: float = 0) -> pb.IterRequest:
    request = pb.IterRequest(graph="sleep", workflow_id=workflow_id, values={"seconds": 30})
    request.capability.scopes.extend(scopes)
    if ttl:
        request.capability.ttl.FromNanoseconds(int(ttl * 1e9))
    return request


async def started(stub, request, metadata=OWNER) -> tuple[object, pb.Event]:
    call = stub.Iter(request, metadata=metadata)
    return call, await call.read()


async def test_a_capability_watches_and_stops_its_run_and_nothing_else(server):
    async with grpc.aio.insecure_channel(server.target) as channel:
        stub = pb_grpc.RunnerServiceStub(channel)
        call, first = await started(stub, sleep_request("cap-1", "watch", "stop"))
        token = first.run_started.capability
        assert token.startswith("hgcap1.")
        holder = bearer(token)
        watch = stub.Watch(pb.WatchRequest(workflow_id="cap-1"), metadata=holder)
        replayed = await watch.read()
        assert replayed.HasField("run_started") and replayed.run_started.capability == ""
        for refused in (
            stub.Stop(pb.StopRequest(workflow_id="cap-other"), metadata=holder),
            stub.Run(pb.RunRequest(graph="add", values={"a": 1, "b": 1}), metadata=holder),
            stub.ListRuns(pb.ListRunsRequest(), metadata=holder),
            stub.ListGraphs(pb.ListGraphsRequest(), metadata=holder),
        ):
            details = await rejected(refused)
            assert details.code == grpc.StatusCode.PERMISSION_DENIED
            assert details.reason == "CAPABILITY_MISMATCH"
        assert (await stub.Stop(pb.StopRequest(workflow_id="cap-1"), metadata=holder)).found
        for stream in (call, watch):
            ended = (await collect(stream))[-1]
            assert ended.run_ended.result.status == pb.RUN_STATUS_STOPPED


async def test_a_watch_only_capability_cannot_stop_and_only_held_scopes_are_handed_out(server):
    async with grpc.aio.insecure_channel(server.target) as channel:
        stub = pb_grpc.RunnerServiceStub(channel)
        call, first = await started(stub, sleep_request("cap-2", "watch"))
        holder = bearer(first.run_started.capability)
        details = await rejected(stub.Stop(pb.StopRequest(workflow_id="cap-2"), metadata=holder))
        assert (details.code, details.reason) == (
            grpc.StatusCode.PERMISSION_DENIED,
            "SCOPE_MISSING",
        )
        runner = bearer("runner-secret")
        escalate = await rejected(stub.Iter(sleep_request("cap-3", "stop"), metadata=runner))
        assert escalate.reason == "SCOPE_MISSING"
        unknown = await rejected(stub.Iter(sleep_request("cap-4", "fly"), metadata=OWNER))
        assert unknown.code == grpc.StatusCode.INVALID_ARGUMENT
        assert unknown.fields == ["capability.scopes"]
        await stub.Stop(pb.StopRequest(workflow_id="cap-2"), metadata=OWNER)
        await collect(call)


async def test_an_altered_or_expired_capability_is_unauthenticated(server):
    async with grpc.aio.insecure_channel(server.target) as channel:
        stub = pb_grpc.RunnerServiceStub(channel)
        call, first = await started(stub, sleep_request("cap-5", "stop", ttl=1.0))
        token = first.run_started.capability
        prefix, key, payload, signature = token.split(".")
        forged = f"{prefix}.{key}.{payload[:-2]}AA.{signature}"
        stop = pb.StopRequest(workflow_id="cap-5")
        details = await rejected(stub.Stop(stop, metadata=bearer(forged)))
        assert details.reason == "INVALID_CREDENTIALS"
        await asyncio.sleep(2.1)  # the token's expiry is in whole seconds
        details = await rejected(stub.Stop(stop, metadata=bearer(token)))
        assert details.reason == "INVALID_CREDENTIALS"
        await stub.Stop(stop, metadata=OWNER)
        await collect(call)


async def test_keys_rotate_on_sighup_and_the_old_key_works_until_it_expires(tmp_path):
    auth, keys = tmp_path / "auth.toml", tmp_path / "keys.toml"
    auth.write_text(AUTH_FILE)
    keys.write_text(OLD_KEY)
    with ServerProcess(
        *GRAPHS, "--auth-file", str(auth), "--capability-key-file", str(keys)
    ) as server:
        async with grpc.aio.insecure_channel(server.target) as channel:
            stub = pb_grpc.RunnerServiceStub(channel)
            old_call, first = await started(stub, sleep_request("rot-1", "stop"))
            old_token = first.run_started.capability
            assert old_token.split(".")[1] == "old"
            keys.write_text(OLD_KEY + NEW_KEY)
            server.popen.send_signal(signal.SIGHUP)
            for attempt in range(200):  # the signal is handled asynchronously
                new_call, first = await started(stub, sleep_request(f"rot-2-{attempt}", "stop"))
                if first.run_started.capability.split(".")[1] == "new":
                    break
                await stub.Stop(pb.StopRequest(workflow_id=f"rot-2-{attempt}"), metadata=OWNER)
                await collect(new_call)
                await asyncio.sleep(0.05)
            else:
                pytest.fail(f"the new key never signed\n{server.log()}")
            new_token = first.run_started.capability
            new_id = f"rot-2-{attempt}"
            # The old key still verifies (no expiry given)...
            stop_old = pb.StopRequest(workflow_id="rot-1")
            assert (await stub.Stop(stop_old, metadata=bearer(old_token))).found
            # ... until it expires.
            keys.write_text(OLD_KEY + "expires = 2000-01-01T00:00:00Z\n" + NEW_KEY)
            server.popen.send_signal(signal.SIGHUP)
            stop_new = pb.StopRequest(workflow_id=new_id, grace=duration_pb2.Duration())
            for _ in range(200):
                try:
                    await stub.Stop(pb.StopRequest(workflow_id="rot-1"), metadata=bearer(old_token))
                except grpc.aio.AioRpcError as error:
                    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
                    break
                await asyncio.sleep(0.05)
            else:
                pytest.fail(f"the expired key was still accepted\n{server.log()}")
            assert (await stub.Stop(stop_new, metadata=bearer(new_token))).found
            for call in (old_call, new_call):
                await collect(call)


async def test_without_a_key_file_a_capability_request_is_failed_precondition():
    with ServerProcess(*GRAPHS, "--auth-token", "tok") as server:
        async with grpc.aio.insecure_channel(server.target) as channel:
            stub = pb_grpc.RunnerServiceStub(channel)
            request = sleep_request("cap-9", "watch")
            details = await rejected(stub.Iter(request, metadata=bearer("tok")))
    assert details.code == grpc.StatusCode.FAILED_PRECONDITION
    assert details.reason == "CAPABILITY_UNAVAILABLE"


@pytest.mark.parametrize(
    ("keys", "extra", "complaint"),
    [
        (OLD_KEY, (), "needs --auth-file or --auth-token"),
        ('[[key]]\nid = "k"\nsecret = "short"\n', ("--auth-token", "t"), "at least 32"),
        (OLD_KEY + OLD_KEY, ("--auth-token", "t"), "listed twice"),
    ],
)
async def test_serve_refuses_a_key_file_it_cannot_use(tmp_path, keys, extra, complaint):
    path = tmp_path / "keys.toml"
    path.write_text(keys)
    done = serve_refused(*GRAPHS, "--capability-key-file", str(path), *extra)
    assert done.returncode == 2
    assert complaint in done.stderr, done.stderr


async def test_the_python_client_asks_for_a_capability_and_a_holder_watches_with_it(server):
    from hypergraph_grpc.client import AsyncClient, RunStarted

    async with AsyncClient(server.target, metadata=OWNER) as owner:
        events = owner.iter("tokens", {"count": 30, "delay_ms": 20}, capability=["watch"])
        first = await anext(aiter(events))
        assert isinstance(first, RunStarted) and first.capability.startswith("hgcap1.")
        async with AsyncClient(server.target, metadata=bearer(first.capability)) as holder:
            watched = [event async for event in holder.watch(first.workflow_id)]
        assert type(watched[-1]).__name__ == "RunEnded"
        assert [e async for e in events][-1].result.status.name == "COMPLETED"
