"""The OpenAI Responses API on the wire: SSE events, errors, full responses.

Shapes follow https://platform.openai.com/docs/api-reference/responses-streaming:
response.created, response.in_progress, response.output_item.added,
response.content_part.added, response.output_text.delta (``delta``),
response.output_text.done, response.content_part.done,
response.output_item.done, response.completed (``response.usage``). Every
event carries a ``sequence_number``.
"""

from __future__ import annotations

import time

__all__ = ["ERROR_CODES", "error_body", "Sequencer", "response_object"]

ERROR_CODES = {
    400: ("invalid_request_error", None, "Invalid value for 'input'."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided: sk-fake."),
    403: (
        "invalid_request_error",
        "unsupported_country_region_territory",
        "Country not supported.",
    ),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests."),
    500: ("server_error", None, "The server had an error while processing your request."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}


def error_body(status: int) -> dict:
    kind, code, message = ERROR_CODES.get(status, ("server_error", None, f"error {status}"))
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _message_item(item_id: str, text: str, status: str) -> dict:
    content = [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]
    return {
        "id": item_id,
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": content if text or status == "completed" else [],
    }


def response_object(
    resp_id: str, model: str, status: str, text: str | None, usage: dict | None, item_id: str
) -> dict:
    """A Response object (also the non-streaming reply)."""
    output = [] if text is None else [_message_item(item_id, text, "completed")]
    return {
        "id": resp_id,
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
        "instructions": None,
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": usage,
    }


class Sequencer:
    """Builds one stream's events with increasing ``sequence_number``."""

    def __init__(self, resp_id: str, model: str, item_id: str) -> None:
        self.resp_id, self.model, self.item_id = resp_id, model, item_id
        self.seq = 0

    def _event(self, kind: str, **fields) -> tuple[str, dict]:
        event = {"type": kind, "sequence_number": self.seq, **fields}
        self.seq += 1
        return kind, event

    def head(self) -> list[tuple[str, dict]]:
        pending = response_object(self.resp_id, self.model, "in_progress", None, None, self.item_id)
        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        where = {"item_id": self.item_id, "output_index": 0, "content_index": 0}
        return [
            self._event("response.created", response=pending),
            self._event("response.in_progress", response=pending),
            self._event(
                "response.output_item.added",
                output_index=0,
                item=_message_item(self.item_id, "", "in_progress"),
            ),
            self._event("response.content_part.added", part=part, **where),
        ]

    def delta(self, text: str) -> tuple[str, dict]:
        return self._event(
            "response.output_text.delta",
            item_id=self.item_id,
            output_index=0,
            content_index=0,
            delta=text,
            logprobs=[],
        )

    def tail(
        self, text: str, input_tokens: int, output_tokens: int, status: str
    ) -> list[tuple[str, dict]]:
        where = {"item_id": self.item_id, "output_index": 0, "content_index": 0}
        part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
        usage = {
            "input_tokens": input_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": input_tokens + output_tokens,
        }
        final = response_object(self.resp_id, self.model, status, text, usage, self.item_id)
        done = "response.completed" if status == "completed" else "response.incomplete"
        return [
            self._event("response.output_text.done", text=text, logprobs=[], **where),
            self._event("response.content_part.done", part=part, **where),
            self._event(
                "response.output_item.done",
                output_index=0,
                item=_message_item(self.item_id, text, "completed"),
            ),
            self._event(done, response=final),
        ]

    def midstream_error(self, status: int) -> tuple[str, dict]:
        body = error_body(status)["error"]
        return self._event("error", code=body["code"], message=body["message"], param=None)
