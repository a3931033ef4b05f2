"""Bearer tokens on the HTTP port: the same decisions as on the gRPC port, from HTTP headers."""

from __future__ import annotations

import pytest

from tests.web.conftest import serve_http
from tests.web.connect_http import call_json, events_until_end, stream_json

ADMIN = {"authorization": "Bearer admin-token"}
CHAT_ONLY = {"authorization": "Bearer chat-token"}


@pytest.fixture(scope="module")
def base():
    with serve_http(
        "--auth-token", "admin-token", "--auth-token", "chat-token:chat,add"
    ) as process:
        yield process.http_url


def test_a_call_without_a_token_is_unauthenticated(base):
    reply = call_json(base, "ListGraphs", {})
    assert (reply.status, reply.code) == (401, "unauthenticated")
    assert reply.error_info.reason == "MISSING_CREDENTIALS"


def test_a_wrong_token_is_unauthenticated(base):
    reply = call_json(base, "ListGraphs", {}, headers={"authorization": "Bearer nope"})
    assert (reply.status, reply.code) == (401, "unauthenticated")
    assert reply.error_info.reason == "INVALID_CREDENTIALS"


def test_a_valid_token_in_the_authorization_header_is_served(base):
    reply = call_json(base, "Run", {"graph": "add", "values": {"a": 1, "b": 2}}, headers=ADMIN)
    assert reply.status == 200
    assert reply.body["result"]["values"] == {"sum": 3}


def test_a_restricted_token_lists_and_runs_only_its_graphs(base):
    listed = call_json(base, "ListGraphs", {}, headers=CHAT_ONLY)
    assert [g["name"] for g in listed.body["graphs"]] == ["add", "chat"]
    refused = call_json(base, "Run", {"graph": "tokens", "values": {"count": 1}}, headers=CHAT_ONLY)
    assert (refused.status, refused.code) == (403, "permission_denied")
    assert refused.error_info.reason == "GRAPH_NOT_ALLOWED"


def test_a_stream_without_a_token_ends_unauthenticated_before_any_event(base):
    with stream_json(base, "Iter", {"graph": "tokens", "values": {"count": 3}}) as envelopes:
        events, end = events_until_end(envelopes)
    assert events == []
    assert end["error"]["code"] == "unauthenticated"
    with stream_json(
        base, "Iter", {"graph": "tokens", "values": {"count": 3}}, headers=ADMIN
    ) as envelopes:
        events, end = events_until_end(envelopes)
    assert end == {} and events[-1]["runEnded"]["result"]["status"] == "RUN_STATUS_COMPLETED"


def test_a_malformed_body_without_a_token_is_unauthenticated_first(base):
    reply = call_json(base, "Run", b"{not json")
    assert (reply.status, reply.code) == (401, "unauthenticated")
    reply = call_json(base, "Run", b"{not json", headers=ADMIN)
    assert (reply.status, reply.code) == (400, "invalid_argument")
    assert reply.error_info.reason == "MALFORMED_REQUEST"


def test_an_auth_file_with_certificate_subjects_answers_the_http_port_by_token(tmp_path):
    path = tmp_path / "auth.toml"
    path.write_text(
        '[[client]]\nsubject = "CN=svc"\nscopes = ["run"]\n'
        '[[token]]\ntoken = "file-token"\nscopes = ["run"]\n'
    )
    with serve_http("--auth-file", str(path)) as process:
        missing = call_json(process.http_url, "ListGraphs", {})
        assert (missing.status, missing.code) == (401, "unauthenticated")
        assert missing.error_info.reason == "MISSING_CREDENTIALS"
        served = call_json(
            process.http_url, "ListGraphs", {}, headers={"authorization": "Bearer file-token"}
        )
        assert served.status == 200
