"""Provider failures as one exception type whose message says what to do.

The SDKs raise many classes (``anthropic.RateLimitError``,
``openai.APIConnectionError``, the HTTP library's ``RemoteProtocolError`` on a
cut mid-stream, ...). A node turns each into a :class:`ProviderError` naming
the provider, the HTTP status (when there is one), what happened and how to fix
it, so a FAILED run's error reads well in any client.
"""

from __future__ import annotations

__all__ = ["ProviderError", "StreamErrorEvent", "to_provider_error", "missing_key_error"]

_RETRYABLE = {408, 409, 429, 500, 502, 503, 504, 529}

# status -> (what happened, how to fix); {key} is the API key variable
_ADVICE = {
    400: ("rejected the request as invalid", "check the model name, max_tokens and the messages"),
    401: (
        "refused the API key",
        "set a valid {key} in the server's environment (or run with provider=offline)",
    ),
    403: ("denied permission for this key", "check that the key may use this model ({key})"),
    404: ("did not find the model or endpoint", "check the model name and the base URL ({url})"),
    408: ("timed out the request", "wait and retry"),
    413: ("found the request too large", "shorten the prompt or the conversation history"),
    429: ("rate-limited the request", "wait and retry, or lower the number of concurrent runs"),
    500: ("had an internal error", "wait and retry"),
    502: ("had a gateway error", "wait and retry"),
    503: ("is unavailable", "wait and retry"),
    504: ("timed out at its gateway", "wait and retry"),
    529: ("is overloaded", "wait and retry later"),
}
_KEY_VARS = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY"}
_URL_VARS = {"anthropic": "ANTHROPIC_BASE_URL", "openai": "OPENAI_BASE_URL"}


class ProviderError(RuntimeError):
    """A model provider failed; `status` is the HTTP status when there was one."""

    def __init__(
        self,
        provider: str,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ):
        super().__init__(message)
        self.provider = provider
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after


class StreamErrorEvent(Exception):
    """An SSE `error` event inside a 200 stream (e.g. Anthropic's overloaded_error)."""

    def __init__(self, body: dict) -> None:
        super().__init__(str(body))
        self.body = body


def missing_key_error(provider: str) -> ProviderError:
    key = _KEY_VARS[provider]
    return ProviderError(
        provider,
        f"{provider}: no API key ({key} is not set). How to fix: set {key} in the server's "
        f"environment, or choose another provider (provider=offline runs without a key).",
    )


def to_provider_error(
    provider: str, exc: BaseException, *, model: str, attempts: int, streamed: int
) -> ProviderError:
    """Describe `exc` (from the SDK or the HTTP layer) for a user."""
    if isinstance(exc, ProviderError):
        return exc
    status = getattr(exc, "status_code", None)
    tries = f"{attempts} attempt" + ("s" if attempts > 1 else "")
    when = (
        f"after {streamed} streamed chunk(s)" if streamed else f"before the first token ({tries})"
    )
    hints = {
        "key": _KEY_VARS.get(provider, "the API key"),
        "url": _URL_VARS.get(provider, "base URL"),
    }
    if isinstance(status, int) and status >= 400:
        what, fix = _ADVICE.get(
            status, ("returned an error", "check the request; retry if it persists")
        )
        message = f"{provider}: HTTP {status}: the API {what} {when} (model {model}): {_detail(exc)}. How to fix: {fix.format(**hints)}."
        return ProviderError(
            provider,
            message,
            status=status,
            retryable=status in _RETRYABLE,
            retry_after=_retry_after(exc),
        )
    if _is_stream_error_event(exc):
        message = f"{provider}: the API sent an error event {when} (model {model}): {_detail(exc)}. How to fix: wait and retry."
        return ProviderError(provider, message, retryable=True)
    if _is_connection_error(exc):
        message = (
            f"{provider}: connection failed {when} (model {model}): {type(exc).__name__}: {str(exc).rstrip('. ')}. "
            f"How to fix: check the network and {hints['url']}; wait and retry."
        )
        return ProviderError(provider, message, retryable=True)
    message = f"{provider}: unexpected {type(exc).__name__} {when} (model {model}): {exc}. How to fix: check the request and the SDK version."
    return ProviderError(provider, message)


def _detail(exc: BaseException) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            kind = inner.get("type") or inner.get("code")
            text = f"{kind}: {inner['message']}" if kind else str(inner["message"])
            return text.rstrip(". ")
    return str(getattr(exc, "message", None) or exc).rstrip(". ")


def _retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    value = getattr(response, "headers", {}).get("retry-after") if response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _is_connection_error(exc: BaseException) -> bool:
    # The SDKs' APIConnectionError, or the HTTP library's own errors (httpx /
    # httpx2 / httpcore: e.g. RemoteProtocolError when a stream is cut).
    names = {cls.__name__ for cls in type(exc).__mro__}
    module = type(exc).__module__.split(".")[0]
    return (
        "APIConnectionError" in names
        or module.startswith(("httpx", "httpcore"))
        or isinstance(exc, ConnectionError | TimeoutError)
    )


def _is_stream_error_event(exc: BaseException) -> bool:
    # An SSE `error` event inside a 200 stream: an APIError carrying no error status
    # (Anthropic's SDK gives it the stream's status 200, OpenAI's none), or our own
    # StreamErrorEvent when we decode the events ourselves.
    if isinstance(exc, StreamErrorEvent):
        return True
    return any(
        cls.__name__ == "APIError" for cls in type(exc).__mro__
    ) and not _is_connection_error(exc)
