"""Refusals over the Connect protocol: the gRPC port's codes and details, bounded, never unknown."""

from __future__ import annotations

import json
import urllib.error

import pytest

from tests.web.connect_http import call_json, request

# Connect's HTTP statuses for the codes the service answers with.
HTTP_STATUS = {
    "invalid_argument": 400,
    "not_found": 404,
    "already_exists": 409,
    "resource_exhausted": 429,
    "unauthenticated": 401,
    "permission_denied": 403,
}


def test_an_unknown_graph_is_not_found_with_error_info_and_bad_request(base):
    reply = call_json(base, "Run", {"graph": "chta", "values": {"prompt": "hi"}})
    assert (reply.status, reply.code) == (404, "not_found")
    assert "Known graphs" in reply.body["message"]
    assert reply.error_info.reason == "GRAPH_NOT_FOUND"
    assert reply.error_info.domain == "hypergraph.dev"
    assert [v.field for v in reply.bad_request.field_violations] == ["graph"]


def test_bad_inputs_are_invalid_argument_with_one_violation_per_field(base):
    reply = call_json(base, "Run", {"graph": "add", "values": {"a": "one", "c": 3}})
    assert (reply.status, reply.code) == (400, "invalid_argument")
    assert reply.error_info.reason == "INVALID_INPUT"
    fields = sorted(v.field for v in reply.bad_request.field_violations)
    assert fields == ["values.a", "values.b", "values.c"]


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'{"graph": 5}',
        b'{"maxIterations": "' + b"9" * 100_000 + b'"}',
        b'{"graph": "add", "values": "' + b"x" * 200_000 + b'"}',
        b"[1, 2, 3]",
    ],
    ids=["not-json", "wrong-type", "huge-number", "huge-string", "not-an-object"],
)
def test_a_malformed_body_is_malformed_request_with_a_bounded_message(base, body):
    reply = call_json(base, "Run", body)
    assert (reply.status, reply.code) == (400, "invalid_argument")
    assert reply.error_info.reason == "MALFORMED_REQUEST"
    assert len(json.dumps(reply.body)) < 1500
    assert reply.body["message"].startswith("the Run request body does not parse")


def test_a_request_over_the_size_limit_is_resource_exhausted(base):
    big = {"graph": "echo", "values": {"value": "x" * (5 * 1024 * 1024)}}
    reply = call_json(base, "Run", big)
    assert (reply.status, reply.code) == (429, "resource_exhausted")
    assert reply.error_info.reason == "REQUEST_TOO_LARGE"
    assert len(reply.body["message"]) < 1000


def test_a_request_far_over_the_limit_is_refused_and_the_port_goes_on(base):
    # Past twice the limit the body is not read to its end: the answer is 429, or, when
    # the client is still sending as the server answers and closes, a broken connection.
    huge = b'{"graph": "echo", "values": {"value": "' + b"x" * (16 * 1024 * 1024) + b'"}}'
    try:
        reply = call_json(base, "Run", huge)
    except urllib.error.URLError as exc:
        assert isinstance(exc.reason, (BrokenPipeError, ConnectionResetError)), exc
    else:
        assert (reply.status, reply.code) == (429, "resource_exhausted")
        assert len(json.dumps(reply.body)) < 1000
    assert call_json(base, "Run", {"graph": "add", "values": {"a": 1, "b": 1}}).status == 200


def test_bad_stop_arguments_are_invalid_argument(base):
    reply = call_json(base, "Stop", {"workflowId": "bad id!" * 100, "grace": "-1s"})
    assert (reply.status, reply.code) == (400, "invalid_argument")
    assert sorted(v.field for v in reply.bad_request.field_violations) == ["grace", "workflow_id"]
    assert len(reply.body["message"]) < 1000


def test_stop_of_an_unknown_workflow_is_answered_not_found_false(base):
    reply = call_json(base, "Stop", {"workflowId": "never-started"})
    assert reply.status == 200
    assert reply.body.get("found", False) is False


def test_an_unknown_method_or_media_type_gets_an_http_status_not_a_crash(base):
    status, _, _ = request(base, "/hypergraph.v1.RunnerService/Nope", method="POST", data=b"{}")
    assert status == 404
    status, headers, _ = request(
        base,
        "/hypergraph.v1.RunnerService/ListGraphs",
        method="POST",
        data=b"{}",
        headers={"content-type": "text/plain"},
    )
    assert status == 415
    assert "application/json" in headers["accept-post"]


def test_every_refusal_uses_connects_http_status_for_its_code(base):
    for body in ({"graph": "nope"}, {"graph": "add", "values": {}}):
        reply = call_json(base, "Run", body)
        assert reply.status == HTTP_STATUS[reply.code]


def test_garbage_protobuf_is_malformed_request(base):
    status, _, body = request(
        base,
        "/hypergraph.v1.RunnerService/Run",
        method="POST",
        data=b"\xff\xff\xff\xff\x0f" * 20,
        headers={"content-type": "application/proto"},
    )
    assert status == 400
    error = json.loads(body)
    assert error["code"] == "invalid_argument"
    assert "MALFORMED_REQUEST" in json.dumps(error) or error["message"].startswith(
        "the Run request body does not parse"
    )
