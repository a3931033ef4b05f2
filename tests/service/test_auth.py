"""Bearer tokens and per-token graph allowlists (``--auth-token TOKEN[:graph1,graph2]``):
a missing or unknown token is UNAUTHENTICATED; a restricted token gets
PERMISSION_DENIED / GRAPH_NOT_ALLOWED for other graphs (Run, Iter, Stop and
Watch of their live runs) and sees only its graphs in ListGraphs; the flag and
env syntax is parsed with errors that say how to fix them. Health stays open."""

from __future__ import annotations

import grpc
import pytest
import pytest_asyncio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from hypergraph_grpc.auth import AuthTokenError, AuthTokens
from hypergraph_grpc.errors import DOMAIN
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb
from hypergraph_grpc.service import ECHO_METADATA_KEY
from tests.service.conftest import close_harness, collect, iter_request, make_harness, run_request
from tests.service.helpers import Details, rejected
from tests.support.server_process import serve_refused

FULL = (("authorization", "Bearer full"),)


LIMITED = (("authorization", "Bearer limited"),)


def assert_not_allowed(details: Details, graph: str) -> None:
    assert details.code == grpc.StatusCode.PERMISSION_DENIED
    assert (details.reason, details.domain) == ("GRAPH_NOT_ALLOWED", DOMAIN)
    assert details.info.metadata["graph"] == graph
    assert details.info.metadata["allowed_graphs"] == "add,echo"
    message = details.message
    assert repr(graph) in message, message
    assert "add, echo" in message, message  # the graphs this token may run
    assert "How to fix" in message and "--auth-token TOKEN:graph1,graph2" in message


@pytest_asyncio.fixture
async def harness():
    h = await make_harness(auth=AuthTokens.parse(["full", "limited:add,echo"]))
    try:
        yield h
    finally:
        await close_harness(h)


@pytest.mark.asyncio
async def test_bearer_token_auth_unauthenticated():
    h = await make_harness(auth=AuthTokens.parse(["s3cret"]))
    try:
        missing = await rejected(h.stub.Run(run_request("add", a=1, b=1)))
        assert missing.code == grpc.StatusCode.UNAUTHENTICATED
        assert missing.reason == "MISSING_CREDENTIALS" and "Bearer" in missing.message
        wrong = await rejected(
            h.stub.ListGraphs(pb.ListGraphsRequest(), metadata=(("authorization", "Bearer nope"),))
        )
        assert (
            wrong.code == grpc.StatusCode.UNAUTHENTICATED and wrong.reason == "INVALID_CREDENTIALS"
        )
        streamed = await rejected(h.stub.Iter(iter_request("add", a=1, b=1)))
        assert streamed.code == grpc.StatusCode.UNAUTHENTICATED
        echo = (ECHO_METADATA_KEY, "call-7")
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await h.stub.Run(run_request("add", a=1, b=1), metadata=(echo,))
        assert echo in tuple(refused.value.trailing_metadata())  # echoed beside the refusal
        assert Details(refused.value).reason == "MISSING_CREDENTIALS"
        good = (("authorization", "Bearer s3cret"),)
        response = await h.stub.Run(run_request("add", a=1, b=1), metadata=good)
        assert response.result.status == pb.RUN_STATUS_COMPLETED
        health = health_pb2_grpc.HealthStub(h.channel)  # health stays open for load balancers
        reply = await health.Check(health_pb2.HealthCheckRequest())
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        await close_harness(h)


@pytest.mark.asyncio
async def test_run_and_iter_outside_the_allowlist_are_denied_before_any_run(harness):
    details = await rejected(harness.stub.Run(run_request("tokens", count=2), metadata=LIMITED))
    assert_not_allowed(details, "tokens")
    streamed = await rejected(harness.stub.Iter(iter_request("tokens", count=2), metadata=LIMITED))
    assert_not_allowed(streamed, "tokens")
    # An unknown graph is denied too, so a restricted token learns no other names.
    unknown = await rejected(harness.stub.Run(run_request("no_such"), metadata=LIMITED))
    assert_not_allowed(unknown, "no_such")
    assert harness.service._coord.live_count() == 0  # nothing was started
    # Graphs in the list still run; a bad token is still UNAUTHENTICATED.
    done = await harness.stub.Run(run_request("add", a=1, b=2), metadata=LIMITED)
    assert done.result.status == pb.RUN_STATUS_COMPLETED
    events = await collect(harness.stub.Iter(iter_request("echo", value=3), metadata=LIMITED))
    assert events[-1].WhichOneof("kind") == "run_ended"
    bad = await rejected(
        harness.stub.Run(run_request("add", a=1, b=2), metadata=(("authorization", "Bearer x"),))
    )
    assert bad.code == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.asyncio
async def test_a_token_without_a_list_runs_every_graph(harness):
    listing = await harness.stub.ListGraphs(pb.ListGraphsRequest(), metadata=FULL)
    assert {"add", "echo", "tokens", "sleep"} <= {g.name for g in listing.graphs}
    done = await harness.stub.Run(run_request("tokens", count=2), metadata=FULL)
    assert done.result.status == pb.RUN_STATUS_COMPLETED
    missing = await rejected(harness.stub.Run(run_request("no_such"), metadata=FULL))
    assert missing.code == grpc.StatusCode.NOT_FOUND


@pytest.mark.asyncio
async def test_list_graphs_shows_only_the_allowed_graphs(harness):
    listing = await harness.stub.ListGraphs(pb.ListGraphsRequest(), metadata=LIMITED)
    assert sorted(g.name for g in listing.graphs) == ["add", "echo"]
    assert listing.graphs[0].inputs  # full descriptions, not just names


@pytest.mark.asyncio
async def test_stop_and_watch_of_a_live_run_outside_the_allowlist(harness):
    call = harness.stub.Iter(iter_request("sleep", "wf-perm", seconds=30.0), metadata=FULL)
    first = await call.read()  # the run is claimed once the stream has started
    assert first.WhichOneof("kind") == "run_started"
    denied = await rejected(
        harness.stub.Stop(pb.StopRequest(workflow_id="wf-perm"), metadata=LIMITED)
    )
    assert_not_allowed(denied, "sleep")
    watched = await rejected(
        harness.stub.Watch(pb.WatchRequest(workflow_id="wf-perm"), metadata=LIMITED)
    )
    assert_not_allowed(watched, "sleep")
    # An id with no live run stays found=false, whatever the token.
    unknown = await harness.stub.Stop(pb.StopRequest(workflow_id="wf-none"), metadata=LIMITED)
    assert not unknown.found
    # The run was not touched; the full token may stop it.
    assert harness.service._coord.live_count() == 1
    stopped = await harness.stub.Stop(pb.StopRequest(workflow_id="wf-perm"), metadata=FULL)
    assert stopped.found
    events = await collect(call)
    assert events[-1].WhichOneof("kind") == "run_ended"


def test_parse_flags_and_env():
    tokens = AuthTokens.parse(["a", "b:add, echo"], "c;d:tokens", ["add", "echo", "tokens"])
    assert tokens.allowlists == {
        "a": None,
        "b": {"add", "echo"},
        "c": None,
        "d": {"tokens"},
    }
    assert tokens.known("b") == "b" and tokens.known("e") is None
    assert tokens.graphs_for("b") == {"add", "echo"} and tokens.graphs_for("a") is None
    # The env var may also separate tokens with commas when no token has a list.
    assert AuthTokens.parse([], "tok1, tok2").allowlists == {"tok1": None, "tok2": None}


@pytest.mark.parametrize(
    ("flags", "env", "expected"),
    [
        (["tok:"], "", "empty name"),
        (["tok:add,,echo"], "", "empty name"),
        ([":add"], "", "not a valid token"),
        (["tok:nope"], "", "'nope' are not served; served graphs: add, echo"),
        (["tok:add", "tok:echo"], "", "token given twice"),
        ([], "a:add,b", "'b' are not served"),
    ],
)
def test_parse_errors_say_what_and_how_to_fix(flags, env, expected):
    with pytest.raises(AuthTokenError) as info:
        AuthTokens.parse(flags, env, ["add", "echo"])
    message = str(info.value)
    assert expected in message, message
    assert "How to fix" in message


def test_serve_refuses_a_bad_allowlist_with_a_clear_message():
    done = serve_refused(
        "--graphs", "hypergraph_grpc.demo.testing:GRAPHS", "--auth-token", "tok:add,nope"
    )
    assert done.returncode == 2, done.stderr
    assert "--auth-token 'tok:add,nope'" in done.stderr
    assert "'nope' are not served" in done.stderr and "How to fix" in done.stderr
