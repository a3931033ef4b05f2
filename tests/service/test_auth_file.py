"""``serve --auth-file``: tokens and mTLS client certificate subjects, each with scopes
(run, watch, stop, admin), an optional graph allowlist and an optional tenant, re-read
on SIGHUP; against a real server process. A scope a caller lacks is PERMISSION_DENIED
/ SCOPE_MISSING; a tenant sees only its own workflow ids (another tenant's answer like
unknown ones); a bad file stops ``serve`` (or, on reload, keeps the current tokens)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2

from hypergraph_grpc.errors import DOMAIN
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2_grpc as pb_grpc
from hypergraph_grpc.tls import channel_credentials
from tests.service.conftest import collect, run_request
from tests.service.helpers import Details, rejected
from tests.support.certificates import CLIENT_NAME, make_pki
from tests.support.server_process import ServerProcess, serve_refused

pytestmark = pytest.mark.asyncio

GRAPHS = ("--graphs", "hypergraph_grpc.demo.testing:GRAPHS")
AUTH_FILE = """
[[token]]
token = "runner-secret"
scopes = ["run"]

[[token]]
token = "add-only-secret"
scopes = ["run", "stop"]
graphs = ["add"]

[[token]]
token = "watcher-secret"
scopes = ["watch"]

[[token]]
token = "stopper-secret"
scopes = ["stop"]

[[token]]
token = "admin-secret"
scopes = ["admin"]

[[token]]
token = "acme-secret"
scopes = ["run", "watch", "stop"]
tenant = "acme"

[[token]]
token = "globex-secret"
scopes = ["run", "watch", "stop"]
tenant = "globex"

[[token]]
token = "small-secret"
scopes = ["run", "watch", "stop"]
tenant = "small"

[[tenant]]
name = "small"
max_runs = 2
max_streams = 1
"""


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[ServerProcess]:
    path = tmp_path_factory.mktemp("auth") / "auth.toml"
    path.write_text(AUTH_FILE)
    with ServerProcess(*GRAPHS, "--auth-file", str(path)) as proc:
        yield proc


def assert_scope_missing(details: Details, scope: str) -> None:
    assert details.code == grpc.StatusCode.PERMISSION_DENIED, details.message
    assert (details.reason, details.domain) == ("SCOPE_MISSING", DOMAIN)
    assert details.info.metadata["scope"] == scope
    assert "How to fix" in details.message


async def test_each_scope_opens_only_its_methods(server):
    async with grpc.aio.insecure_channel(server.target) as channel:
        stub = pb_grpc.RunnerServiceStub(channel)
        runner, watcher, stopper = (bearer(f"{n}-secret") for n in ("runner", "watcher", "stopper"))
        reply = await stub.Run(run_request("add", a=1, b=2), metadata=runner)
        assert reply.result.values["sum"] == 3
        assert (await stub.ListGraphs(pb.ListGraphsRequest(), metadata=runner)).graphs
        stop = pb.StopRequest(workflow_id="wf-none")
        assert_scope_missing(await rejected(stub.Stop(stop, metadata=runner)), "stop")
        listing = pb.ListRunsRequest()
        assert_scope_missing(await rejected(stub.ListRuns(listing, metadata=runner)), "watch")
        await stub.ListRuns(listing, metadata=watcher)
        assert_scope_missing(
            await rejected(stub.Iter(pb.IterRequest(graph="add"), metadata=watcher)), "run"
        )
        assert not (await stub.Stop(stop, metadata=stopper)).found
        assert_scope_missing(
            await rejected(stub.Run(run_request("add", a=1, b=2), metadata=stopper)), "run"
        )


async def test_admin_holds_every_scope_and_an_allowlist_still_applies(server):
    async with grpc.aio.insecure_channel(server.target) as channel:
        stub = pb_grpc.RunnerServiceStub(channel)
        admin, add_only = bearer("admin-secret"), bearer("add-only-secret")
        assert (await stub.Run(run_request("add", a=2, b=2), metadata=admin)).result.values
        await stub.ListRuns(pb.ListRunsRequest(), metadata=admin)
        await stub.Stop(pb.StopRequest(workflow_id="wf-none"), metadata=admin)
        listed = await stub.ListGraphs(pb.ListGraphsRequest(), metadata=add_only)
        assert [graph.name for graph in listed.graphs] == ["add"]
        denied = await rejected(stub.Run(run_request("echo", value=1), metadata=add_only))
        assert denied.code == grpc.StatusCode.PERMISSION_DENIED
        assert denied.reason == "GRAPH_NOT_ALLOWED"
        unknown = await rejected(stub.ListGraphs(pb.ListGraphsRequest(), metadata=bearer("x")))
        assert unknown.reason == "INVALID_CREDENTIALS"


async def test_a_tenant_sees_and_stops_only_its_own_runs(server):
    acme, globex = bearer("acme-secret"), bearer("globex-secret")
    async with grpc.aio.insecure_channel(server.target) as channel:
        stub = pb_grpc.RunnerServiceStub(channel)
        sleep = pb.IterRequest(graph="sleep", workflow_id="job-1", values={"seconds": 30})
        acme_call = stub.Iter(sleep, metadata=acme)
        started = await acme_call.read()
        assert started.workflow_id == "acme:job-1"
        # The same id in another tenant is another run, not ALREADY_EXISTS.
        globex_call = stub.Iter(sleep, metadata=globex)
        assert (await globex_call.read()).workflow_id == "globex:job-1"
        generated = await stub.Run(run_request("add", a=1, b=1), metadata=globex)
        assert generated.result.values["sum"] == 2
        assert generated.result.workflow_id.startswith("globex:wf-")
        # Another tenant's run answers exactly as an id nobody uses.
        for other_tenants in ("acme:job-1", "job-unknown"):
            stop = pb.StopRequest(workflow_id=other_tenants)
            assert await stub.Stop(stop, metadata=globex) == pb.StopResponse()
        watched = await rejected(
            stub.Watch(pb.WatchRequest(workflow_id="acme:job-1"), metadata=globex)
        )
        unknown = await rejected(
            stub.Watch(pb.WatchRequest(workflow_id="job-none"), metadata=globex)
        )
        assert (watched.code, watched.reason) == (unknown.code, unknown.reason)
        assert watched.reason == "WORKFLOW_NOT_FOUND"
        listed = await stub.ListRuns(pb.ListRunsRequest(), metadata=globex)
        assert [run.workflow_id for run in listed.runs] == ["globex:job-1"]
        everyone = await stub.ListRuns(pb.ListRunsRequest(), metadata=bearer("admin-secret"))
        assert {"acme:job-1", "globex:job-1"} <= {run.workflow_id for run in everyone.runs}
        # Each tenant stops its own run, by its short or its full id.
        assert (await stub.Stop(pb.StopRequest(workflow_id="job-1"), metadata=acme)).found
        stop = pb.StopRequest(workflow_id="globex:job-1")
        assert (await stub.Stop(stop, metadata=globex)).found
        for call in (acme_call, globex_call):
            ended = (await collect(call))[-1]
            assert ended.run_ended.result.status == pb.RUN_STATUS_STOPPED


def assert_quota(details: Details, limit: int) -> None:
    assert details.code == grpc.StatusCode.RESOURCE_EXHAUSTED, details.message
    assert details.reason == "TENANT_QUOTA_EXCEEDED"
    assert details.info.metadata == {"tenant": "small", "limit": str(limit)}
    failures = [
        d for d in details.status.details if d.Is(error_details_pb2.QuotaFailure.DESCRIPTOR)
    ]
    quota = error_details_pb2.QuotaFailure()
    failures[0].Unpack(quota)
    assert quota.violations[0].subject == "tenant:small"


async def test_a_tenant_over_its_limits_gets_resource_exhausted_with_quota_failure(server):
    small = bearer("small-secret")
    async with grpc.aio.insecure_channel(server.target) as channel:
        stub = pb_grpc.RunnerServiceStub(channel)
        sleep = {"seconds": 30}
        detached = pb.IterRequest(
            graph="sleep", values=sleep, options=pb.StreamOptions(detach=True)
        )
        first = stub.Iter(detached, metadata=small)
        run_id = (await first.read()).workflow_id
        # One stream open: a second is refused, and so is a Watch.
        assert_quota(await rejected(stub.Iter(detached, metadata=small)), 1)
        assert_quota(
            await rejected(stub.Watch(pb.WatchRequest(workflow_id=run_id), metadata=small)), 1
        )
        first.cancel()  # detached: the run goes on, the stream is free
        second = stub.Iter(detached, metadata=small)
        assert (await second.read()).HasField("run_started")
        second.cancel()
        # Two live runs: a third (Run or Iter) is refused; other tenants are not affected.
        assert_quota(await rejected(stub.Run(run_request("add", a=1, b=1), metadata=small)), 2)
        await stub.Run(run_request("add", a=1, b=1), metadata=bearer("acme-secret"))
        stopped = await stub.ListRuns(pb.ListRunsRequest(), metadata=small)
        assert len(stopped.runs) == 2
        for run in stopped.runs:
            assert (
                await stub.Stop(pb.StopRequest(workflow_id=run.workflow_id), metadata=small)
            ).found
        for _ in range(200):
            if not (await stub.ListRuns(pb.ListRunsRequest(), metadata=small)).runs:
                break
            await asyncio.sleep(0.05)
        reply = await stub.Run(run_request("add", a=2, b=2), metadata=small)
        assert reply.result.values["sum"] == 4


async def test_sighup_rereads_the_file_and_a_broken_file_keeps_the_current_tokens(tmp_path):
    path = tmp_path / "auth.toml"
    path.write_text('[[token]]\ntoken = "old-secret"\nscopes = ["run"]\n')
    with ServerProcess(*GRAPHS, "--auth-file", str(path)) as server:
        async with grpc.aio.insecure_channel(server.target) as channel:
            stub = pb_grpc.RunnerServiceStub(channel)
            call = stub.Iter(
                pb.IterRequest(graph="sleep", values={"seconds": 0.5}),
                metadata=bearer("old-secret"),
            )
            assert (await call.read()).HasField("run_started")
            path.write_text('[[token]]\ntoken = "new-secret"\nscopes = ["run"]\n')
            server.popen.send_signal(signal.SIGHUP)
            request = pb.ListGraphsRequest()
            for _ in range(200):  # the signal is handled asynchronously
                try:
                    await stub.ListGraphs(request, metadata=bearer("new-secret"))
                    break
                except grpc.aio.AioRpcError:
                    await asyncio.sleep(0.05)
            else:
                pytest.fail(f"the new token was never accepted\n{server.log()}")
            old = await rejected(stub.ListGraphs(request, metadata=bearer("old-secret")))
            assert old.reason == "INVALID_CREDENTIALS"
            # The stream opened with the old token goes on to its end.
            assert (await collect(call))[-1].HasField("run_ended")
            path.write_text("[[token]]\ntoken = ")
            server.popen.send_signal(signal.SIGHUP)
            for _ in range(200):
                if "auth file reload failed" in server.log():
                    break
                await asyncio.sleep(0.05)
            assert "auth file reload failed" in server.log()
            await stub.ListGraphs(request, metadata=bearer("new-secret"))


async def test_an_mtls_client_certificate_subject_maps_to_scopes(tmp_path):
    pki = make_pki(tmp_path / "pki")
    path = tmp_path / "auth.toml"
    path.write_text(
        f'[[client]]\nsubject = "CN={CLIENT_NAME},O=hypergraph tests"\nscopes = ["run"]\n'
        '[[token]]\ntoken = "stopper-secret"\nscopes = ["stop"]\n'
    )
    tls = ("--tls-cert", pki.server.cert, "--tls-key", pki.server.key, "--tls-client-ca", pki.ca)
    with ServerProcess(*GRAPHS, *tls, "--auth-file", str(path)) as server:
        credentials = channel_credentials(pki.ca, pki.client.cert, pki.client.key)
        async with grpc.aio.secure_channel(server.target, credentials) as channel:
            stub = pb_grpc.RunnerServiceStub(channel)
            reply = await stub.Run(run_request("add", a=1, b=2))
            assert reply.result.values["sum"] == 3
            stop = pb.StopRequest(workflow_id="wf-none")
            assert_scope_missing(await rejected(stub.Stop(stop)), "stop")
            # A token, when sent, decides instead of the certificate.
            assert not (await stub.Stop(stop, metadata=bearer("stopper-secret"))).found


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        ('[[token]]\ntoken = "t"\nscopes = ["fly"]\n', "scopes must be a non-empty list"),
        ('[[token]]\ntoken = "t"\n', "scopes must be a non-empty list"),
        ('[[token]]\ntoken = "t"\nscopes = ["run"]\ngraphs = ["nope"]\n', "'nope' are not served"),
        ('[[token]]\ntoken = "t"\nscopes = ["run"]\ntenant = "a:b"\n', "tenant 'a:b' is not valid"),
        ('[[token]]\ntoken = "t"\nscopes = ["run"]\nowner = "a"\n', "unknown key(s) owner"),
        ("[[token]]\ntoken = ", "is not valid TOML"),
        ('[[tenant]]\nname = "a"\nmax_runs = -1\n', "must be counts >= 0"),
        ("", "no [[token]] or [[client]] entry"),
    ],
)
async def test_serve_refuses_an_auth_file_it_cannot_use(tmp_path: Path, content, complaint):
    path = tmp_path / "auth.toml"
    path.write_text(content)
    done = serve_refused(*GRAPHS, "--auth-file", str(path))
    assert done.returncode == 2
    assert complaint in done.stderr, done.stderr


async def test_serve_refuses_an_auth_file_together_with_auth_tokens(tmp_path: Path):
    path = tmp_path / "auth.toml"
    path.write_text('[[token]]\ntoken = "t"\nscopes = ["run"]\n')
    done = serve_refused(*GRAPHS, "--auth-file", str(path), "--auth-token", "other")
    assert done.returncode == 2 and "--auth-file replaces --auth-token" in done.stderr


async def test_tokens_on_the_command_line_get_a_warning():
    with ServerProcess(*GRAPHS, "--auth-token", "quick-start") as server:
        async with grpc.aio.insecure_channel(server.target) as channel:
            stub = pb_grpc.RunnerServiceStub(channel)
            await stub.ListGraphs(pb.ListGraphsRequest(), metadata=bearer("quick-start"))
    assert "use --auth-file" in server.log()
