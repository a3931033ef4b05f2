"""Cross-origin access to the HTTP port: which web origins may call RunnerService.

A page served by the HTTP port itself (``/``) is same-origin and needs nothing.
A page elsewhere (``https://app.example.com``) may call the service only when
its origin is on the allow-list (``serve --cors-origin``): its preflight is
answered with the methods and headers a Connect or gRPC-Web client sends, and
its responses let the browser read the status headers. A preflight from any
other origin is refused (403) and its responses carry no CORS headers, so the
browser keeps them from the page.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["ANY_ORIGIN", "CorsPolicy"]

ANY_ORIGIN = "*"

# What Connect, gRPC-Web and gRPC clients send, plus the service's own headers.
_ALLOWED_HEADERS = frozenset(
    {
        "authorization",
        "content-type",
        "connect-protocol-version",
        "connect-timeout-ms",
        "connect-content-encoding",
        "connect-accept-encoding",
        "grpc-timeout",
        "grpc-accept-encoding",
        "x-grpc-web",
        "x-user-agent",
        "x-hypergraph-echo",
    }
)
# Response headers a cross-origin page may read (status and the echo, gRPC-Web's in headers).
_EXPOSED_HEADERS = b"grpc-status, grpc-message, grpc-status-details-bin, x-hypergraph-echo"
_MAX_AGE = b"7200"


_Header = tuple[bytes, bytes]


class CorsPolicy:
    """The origins allowed to call the service from a browser (``*``: any origin).

    It decides; :mod:`http_server` writes the answers."""

    def __init__(self, origins: Iterable[str] = ()) -> None:
        self.origins = frozenset(origin.rstrip("/") for origin in origins)

    def allows(self, origin: str) -> bool:
        return ANY_ORIGIN in self.origins or origin in self.origins

    def preflight(self, scope) -> tuple[int, list[_Header], bytes] | None:
        """The answer (status, headers, body) to a cross-origin preflight; None for any
        other request."""
        headers = dict(scope.get("headers") or ())
        origin = _cross_origin(scope, headers)
        if not origin or scope["method"] != "OPTIONS":
            return None
        if b"access-control-request-method" not in headers:
            return None
        requested = [
            name.strip().lower()
            for name in headers.get(b"access-control-request-headers", b"")
            .decode("latin-1")
            .split(",")
            if name.strip()
        ]
        refused = [name for name in requested if name not in _ALLOWED_HEADERS]
        if not self.allows(origin) or refused:
            why = (
                f"origin {origin[:200]!r} is not allowed (serve --cors-origin)"
                if not self.allows(origin)
                else f"request headers not allowed: {', '.join(refused)[:200]}"
            )
            return 403, [(b"content-type", b"text/plain; charset=utf-8")], why.encode()
        allow = [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-allow-methods", b"POST, GET"),
            (b"access-control-allow-headers", ", ".join(requested).encode("latin-1")),
            (b"access-control-max-age", _MAX_AGE),
            (b"vary", b"Origin, Access-Control-Request-Headers"),
        ]
        return 204, allow, b""

    def response_headers(self, scope) -> list[_Header]:
        """The CORS headers of the response to a request (none for the port's own page,
        a request without an Origin, or an origin not allowed)."""
        origin = _cross_origin(scope, dict(scope.get("headers") or ()))
        if not origin or not self.allows(origin):
            return []
        return [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-expose-headers", _EXPOSED_HEADERS),
            (b"vary", b"Origin"),
        ]


def _cross_origin(scope, headers: dict[bytes, bytes]) -> str:
    """The request's Origin when it is another origin than the port's own, else ""."""
    origin = headers.get(b"origin", b"").decode("latin-1")
    host = headers.get(b"host", b"").decode("latin-1")
    if host and origin == f"{scope.get('scheme', 'http')}://{host}":
        return ""
    return origin
