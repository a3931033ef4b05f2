"""The HTTP port as a part of `serve`: its flags, its listening line, its page, a busy port."""

from __future__ import annotations

import socket

import pytest

from hypergraph_grpc.cli import build_parser
from tests.support.server_process import serve_refused
from tests.web.connect_http import request


def parse(*argv: str):
    return build_parser(["serve", *argv]).parse_args(["serve", *argv])


def test_the_http_port_is_off_unless_asked_for():
    args = parse()
    assert args.http_port is None and args.cors_origin is None
    args = parse("--http-port", "8080", "--cors-origin", "https://a.example", "--cors-origin", "*")
    assert args.http_port == 8080 and args.cors_origin == ["https://a.example", "*"]


def test_a_negative_http_port_is_refused(capsys):
    with pytest.raises(SystemExit):
        parse("--http-port", "-1")
    assert "is negative" in capsys.readouterr().err


def test_serve_names_both_ports(server):
    host, port = server.target.rsplit(":", 1)
    assert server.http_url.startswith(f"http://{host}:")
    assert server.http_url != f"http://{host}:{port}"


def test_a_busy_http_port_is_refused_with_what_to_do():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        ended = serve_refused(
            "--http-port", str(busy), "--graphs", "hypergraph_grpc.demo.testing:GRAPHS"
        )
    assert ended.returncode == 1
    assert f"cannot bind the HTTP port 127.0.0.1:{busy}" in ended.stderr
    assert "--http-port" in ended.stderr
    assert "Traceback" not in ended.stderr


def test_the_page_is_served_at_the_root(base):
    status, headers, body = request(base, "/")
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'self'" in headers["content-security-policy"]
    assert b"<html" in body.lower() or b"<!doctype html" in body.lower()


def test_the_page_answers_only_its_files_and_only_to_get(base):
    assert request(base, "/../pyproject.toml")[0] == 404
    assert request(base, "/nothing-here")[0] == 404
    assert request(base, "/", method="POST", data=b"x")[0] == 405
    status, headers, body = request(base, "/", method="HEAD")
    assert (status, body) == (200, b"")


def test_workers_need_a_fixed_http_port():
    ended = serve_refused(
        "--workers", "2", "--coordination", "redis://127.0.0.1:1/0", "--http-port", "0"
    )
    assert ended.returncode == 2
    assert "give a port number" in ended.stderr
