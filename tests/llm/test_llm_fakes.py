"""The fake provider endpoints themselves: wire format, errors, records (raw HTTP, no SDK)."""

from __future__ import annotations

import http.client
import json

import pytest
from fakes import FakeProvider, Script


def _post(fake: FakeProvider, path: str, body: dict, key: str = "k") -> tuple[int, dict, str]:
    conn = http.client.HTTPConnection(fake.host, fake.port, timeout=10)
    conn.request(
        "POST", path, json.dumps(body), {"content-type": "application/json", "x-api-key": key}
    )
    response = conn.getresponse()
    data = response.read().decode()
    conn.close()
    return response.status, dict(response.getheaders()), data


def _events(text: str) -> list[tuple[str, dict]]:
    out = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((lines["event"], json.loads(lines["data"])))
    return out


@pytest.fixture
def fake():
    with FakeProvider("anthropic", Script(tokens=["a", "b"], input_tokens=3)) as f:
        yield f


def test_anthropic_sse_sequence(fake):
    """message_start (input tokens) ... deltas ... message_delta (stop reason, output tokens), message_stop."""
    status, headers, body = _post(
        fake, "/v1/messages", {"model": "m", "stream": True, "messages": []}
    )
    assert status == 200 and headers["content-type"] == "text/event-stream"
    events = _events(body)
    assert [name for name, _ in events] == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert events[0][1]["message"]["usage"]["input_tokens"] == 3
    assert [e["delta"]["text"] for n, e in events if n == "content_block_delta"] == ["a", "b"]
    assert (
        events[6][1]["delta"]["stop_reason"] == "end_turn"
        and events[6][1]["usage"]["output_tokens"] == 2
    )
    assert fake.wait_disconnect().completed and fake.requests[0].body["model"] == "m"


def test_openai_sse_sequence(fake):
    """response.created ... response.output_text.delta (delta) ... response.completed (usage)."""
    status, _, body = _post(fake, "/v1/responses", {"model": "m", "stream": True, "input": "hi"})
    events = _events(body)
    names = [name for name, _ in events]
    assert names[0] == "response.created" and names[-1] == "response.completed"
    assert [e["delta"] for n, e in events if n == "response.output_text.delta"] == ["a", "b"]
    assert [e["sequence_number"] for _, e in events] == list(range(len(events)))
    usage = events[-1][1]["response"]["usage"]
    assert usage["input_tokens"] == 3 and usage["output_tokens"] == 2


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (401, "authentication_error"),
        (429, "rate_limit_error"),
        (529, "overloaded_error"),
        (400, "invalid_request_error"),
    ],
)
def test_error_status_before_first_token(fake, status, kind):
    fake.script = Script(errors=[status], retry_after="1")
    code, headers, body = _post(fake, "/v1/messages", {"model": "m", "stream": True})
    assert (
        code == status
        and json.loads(body)["error"]["type"] == kind
        and headers["retry-after"] == "1"
    )
    assert (
        _post(fake, "/v1/messages", {"model": "m", "stream": True})[0] == 200
    )  # `errors` are used once each


def test_missing_key_is_401(fake):
    assert _post(fake, "/v1/messages", {"model": "m"}, key="")[0] == 401


def test_non_streaming_message(fake):
    status, _, body = _post(fake, "/v1/messages", {"model": "m", "messages": []})
    assert status == 200 and json.loads(body)["content"] == [{"type": "text", "text": "ab"}]


def test_cut_mid_stream_is_recorded(fake):
    fake.script = Script(tokens=["a", "b", "c"], cut_after=1)
    with pytest.raises(http.client.IncompleteRead):
        _post(fake, "/v1/messages", {"model": "m", "stream": True})
    record = fake.wait_disconnect()
    assert record.cut and record.tokens_sent == 1 and not record.client_disconnected
