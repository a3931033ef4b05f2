"""Connect protocol calls over plain HTTP/1.1 (urllib), made the way curl makes them.

A unary call is a POST of the JSON request to ``/hypergraph.v1.RunnerService/METHOD``
with ``content-type: application/json``; a failed call answers an HTTP error status
with ``{"code", "message", "details"}``. A streamed call posts one envelope
(``application/connect+json``) and reads envelopes back: a flags byte, a 4-byte
big-endian length, the JSON; the last one has flag 0x02 and holds the end of the
stream (an ``error`` or nothing).
"""

from __future__ import annotations

import base64
import contextlib
import json
import struct
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from google.rpc import error_details_pb2

SERVICE = "/hypergraph.v1.RunnerService/"
END_STREAM = 0x02


@dataclass
class Reply:
    """An HTTP answer: status, headers (lower-case names) and the JSON body."""

    status: int
    headers: dict[str, str]
    body: Any

    @property
    def code(self) -> str:
        return self.body.get("code", "") if self.status != 200 else ""

    @property
    def error_info(self) -> error_details_pb2.ErrorInfo | None:
        return detail(self.body, error_details_pb2.ErrorInfo)

    @property
    def bad_request(self) -> error_details_pb2.BadRequest | None:
        return detail(self.body, error_details_pb2.BadRequest)


def detail(error: dict, kind):
    """The ``kind`` message among a Connect error's details (base64 protobuf), or None."""
    for item in error.get("details", ()):
        if item["type"] == kind.DESCRIPTOR.full_name:
            return kind.FromString(base64.b64decode(item["value"] + "=="))
    return None


def call_json(
    base: str, method: str, body: Any, headers: dict[str, str] | None = None, timeout: float = 30
) -> Reply:
    """A unary call with a JSON body (``body`` may also be raw bytes)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(
        base + SERVICE + method,
        data=data,
        headers={"content-type": "application/json", **(headers or {})},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Reply(response.status, _headers(response), json.loads(response.read()))
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            parsed = json.loads(raw) if raw else {}
        except ValueError:
            parsed = {"raw": raw.decode(errors="replace")}
        return Reply(error.code, _headers(error), parsed)


def request(
    base: str,
    path: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    data: bytes | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """Any HTTP request: (status, headers, body)."""
    req = urllib.request.Request(base + path, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, _headers(response), response.read()
    except urllib.error.HTTPError as error:
        return error.code, _headers(error), error.read()


def envelope(message: Any) -> bytes:
    data = json.dumps(message).encode()
    return struct.pack(">BI", 0, len(data)) + data


@dataclass
class Envelope:
    flags: int
    message: dict = field(default_factory=dict)

    @property
    def end(self) -> bool:
        return bool(self.flags & END_STREAM)


@contextlib.contextmanager
def stream_json(
    base: str, method: str, body: Any, headers: dict[str, str] | None = None, timeout: float = 30
) -> Iterator[Iterator[Envelope]]:
    """A server-streaming call: yields an iterator of the envelopes as they arrive."""
    req = urllib.request.Request(
        base + SERVICE + method,
        data=envelope(body),
        headers={"content-type": "application/connect+json", **(headers or {})},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=timeout) as response:
        assert response.status == 200, response.status
        assert response.headers["content-type"] == "application/connect+json"
        yield _envelopes(response)


def _envelopes(response) -> Iterator[Envelope]:
    while True:
        head = response.read(5)
        if not head:
            return
        flags, length = struct.unpack(">BI", head)
        yield Envelope(flags, json.loads(response.read(length)))


def events_until_end(envelopes: Iterator[Envelope]) -> tuple[list[dict], dict]:
    """Every event message, then the end-of-stream message."""
    events = []
    for item in envelopes:
        if item.end:
            return events, item.message
        events.append(item.message)
    raise AssertionError("the stream ended without its end-of-stream envelope")


def kind(event: dict) -> str:
    """Which of Event's ``kind`` fields a JSON event holds (runStarted, streamingChunk...)."""
    for name in (
        "runStarted",
        "superstepStarted",
        "nodeStarted",
        "streamingChunk",
        "nodeEnded",
        "nodeFailed",
        "routeDecision",
        "stopRequested",
        "runEnded",
    ):
        if name in event:
            return name
    return ""


def _headers(response) -> dict[str, str]:
    return {key.lower(): value for key, value in response.headers.items()}
