"""Cross-origin calls: origins on the --cors-origin list may call the HTTP port, others not."""

from __future__ import annotations

import pytest

from tests.web.conftest import serve_http
from tests.web.connect_http import call_json, request

ALLOWED = "https://app.example.com"
OTHER = "https://evil.example.net"
PATH = "/hypergraph.v1.RunnerService/Run"


@pytest.fixture(scope="module")
def base():
    with serve_http("--cors-origin", ALLOWED) as process:
        yield process.http_url


def preflight(base: str, origin: str, headers: str = "content-type,connect-protocol-version"):
    return request(
        base,
        PATH,
        method="OPTIONS",
        headers={
            "origin": origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": headers,
        },
    )


def test_a_preflight_from_an_allowed_origin_is_answered(base):
    status, headers, _ = preflight(
        base, ALLOWED, "content-type,connect-protocol-version,authorization"
    )
    assert status == 204
    assert headers["access-control-allow-origin"] == ALLOWED
    assert "POST" in headers["access-control-allow-methods"]
    allowed = {h.strip() for h in headers["access-control-allow-headers"].split(",")}
    assert {"content-type", "connect-protocol-version", "authorization"} <= allowed


def test_a_preflight_from_another_origin_is_refused(base):
    status, headers, body = preflight(base, OTHER)
    assert status == 403
    assert "access-control-allow-origin" not in headers
    assert b"not allowed" in body


def test_a_preflight_asking_for_other_headers_is_refused(base):
    status, headers, _ = preflight(base, ALLOWED, "content-type,x-secret-sauce")
    assert status == 403
    assert "access-control-allow-origin" not in headers


def test_responses_to_an_allowed_origin_carry_its_cors_headers(base):
    reply = call_json(
        base, "Run", {"graph": "add", "values": {"a": 1, "b": 1}}, headers={"origin": ALLOWED}
    )
    assert reply.status == 200
    assert reply.headers["access-control-allow-origin"] == ALLOWED
    assert "grpc-status" in reply.headers["access-control-expose-headers"]


def test_responses_to_another_origin_carry_none(base):
    reply = call_json(base, "ListGraphs", {}, headers={"origin": OTHER})
    assert "access-control-allow-origin" not in reply.headers


def test_the_ports_own_page_needs_no_cors(base):
    host = base.removeprefix("http://")
    reply = call_json(base, "ListGraphs", {}, headers={"origin": base, "host": host})
    assert reply.status == 200
    assert "access-control-allow-origin" not in reply.headers


def test_a_star_allows_every_origin_and_an_empty_list_none():
    from hypergraph_grpc.cors import CorsPolicy

    assert CorsPolicy(["*"]).allows(OTHER)
    assert not CorsPolicy().allows(ALLOWED)
    assert CorsPolicy([ALLOWED + "/"]).allows(ALLOWED)
