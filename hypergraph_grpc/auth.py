"""Bearer-token authentication and per-token graph allowlists.

:class:`AuthTokens` is what ``--auth-token`` / ``HYPERGRAPH_AUTH_TOKENS`` say
(:meth:`AuthTokens.parse`); :class:`AuthInterceptor` enforces it on every
RunnerService call, before the service sees the call (health and reflection
stay open, for load balancers and tools). Per call it reads the
``authorization`` header once and then decides (docs/protocol.md, "Errors"):

- no header: UNAUTHENTICATED / MISSING_CREDENTIALS; a header that is not
  ``Bearer <known token>``: UNAUTHENTICATED / INVALID_CREDENTIALS;
- a token with an allowlist: ``Run``/``Iter`` of another graph (also an unknown
  name, so a restricted token learns no names) and ``Stop``/``Watch`` of a live
  workflow of another graph answer PERMISSION_DENIED / GRAPH_NOT_ALLOWED before
  anything else; ``ListGraphs`` lists only the allowed graphs.
"""

from __future__ import annotations

import dataclasses
import hmac
from collections.abc import Iterable, Mapping, Sequence

import grpc

from hypergraph_grpc import convert, errors
from hypergraph_grpc.coordination import Coordination, CoordinationUnavailable
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb
from hypergraph_grpc.interceptors import (
    Behavior,
    RunnerServiceInterceptor,
    UndecodableRequest,
    before_call,
)
from hypergraph_grpc.service import SERVICE_NAME, echo_metadata

__all__ = ["AuthInterceptor", "AuthTokenError", "AuthTokens"]

_SYNTAX = (
    "use TOKEN (may run every graph) or TOKEN:graph1,graph2 (may run only those graphs); "
    "in HYPERGRAPH_AUTH_TOKENS separate tokens with ';' (e.g. 'tok1;tok2:chat,rag')"
)


class AuthTokenError(ValueError):
    """A malformed --auth-token / HYPERGRAPH_AUTH_TOKENS entry (the message says how to fix)."""


@dataclasses.dataclass(frozen=True)
class AuthTokens:
    """The accepted bearer tokens, each with the graphs it may run (None: every graph)."""

    allowlists: Mapping[str, frozenset[str] | None]

    @classmethod
    def parse(
        cls, flags: Sequence[str] | None, env: str = "", graphs: Iterable[str] | None = None
    ) -> AuthTokens:
        """Tokens and allowlists from ``--auth-token`` flags and the env var's value.

        The env var separates entries with ';'. A value with no ':' (no allowlist
        anywhere) may also separate tokens with ',' (``tok1,tok2``). ``graphs``, when
        given, are the served names: an allowlist naming any other graph is refused
        (a typo would otherwise lock a token out silently).
        """
        entries = [(f"--auth-token {flag!r}", flag) for flag in flags or ()]
        if env.strip():
            separator = ";" if (";" in env or ":" in env) else ","
            entries += [
                (f"HYPERGRAPH_AUTH_TOKENS entry {item.strip()!r}", item)
                for item in env.split(separator)
                if item.strip()
            ]
        served = None if graphs is None else sorted(graphs)
        allowlists: dict[str, frozenset[str] | None] = {}
        for where, entry in entries:
            token, allowed = _parse_entry(where, entry.strip(), served)
            if token in allowlists and allowlists[token] != allowed:
                raise AuthTokenError(
                    f"{where}: token given twice with different graph lists. How to fix: give "
                    "each token once, with every graph it may run"
                )
            allowlists[token] = allowed
        return cls(allowlists)

    def __bool__(self) -> bool:
        return bool(self.allowlists)

    def known(self, presented: str) -> str | None:
        """The accepted token equal to ``presented`` (compared in constant time), or None."""
        found = None
        for token in self.allowlists:
            if hmac.compare_digest(presented.encode(), token.encode()):
                found = token
        return found

    def graphs_for(self, token: str) -> frozenset[str] | None:
        """The graphs an accepted ``token`` may run, or None for every graph."""
        return self.allowlists[token]


def _parse_entry(
    where: str, entry: str, served: list[str] | None
) -> tuple[str, frozenset[str] | None]:
    token, colon, listed = entry.partition(":")
    token = token.strip()
    if not token or any(c in token for c in ",; \t"):
        raise AuthTokenError(
            f"{where}: {token!r} is not a valid token (empty, or has ',', ';' or spaces). "
            f"How to fix: {_SYNTAX}"
        )
    if not colon:
        return token, None
    names = [name.strip() for name in listed.split(",")]
    if not listed.strip() or not all(names):
        raise AuthTokenError(
            f"{where}: the graph list after ':' has an empty name. How to fix: {_SYNTAX} "
            "(drop the ':' to let the token run every graph)"
        )
    unknown = [n for n in names if served is not None and n not in served]
    if unknown:
        raise AuthTokenError(
            f"{where}: graph(s) {', '.join(map(repr, unknown))} are not served; served graphs: "
            f"{', '.join(served or []) or '(none)'}. How to fix: list only served graphs"
        )
    return token, frozenset(names)


class AuthInterceptor(RunnerServiceInterceptor):
    """Enforces :class:`AuthTokens` on RunnerService calls (see the module doc).

    ``coordination`` tells which graph a live workflow runs, for Stop and Watch.
    """

    def __init__(self, tokens: AuthTokens, coordination: Coordination) -> None:
        super().__init__(SERVICE_NAME)
        self._tokens = tokens
        self._coord = coordination

    def wrap(self, method: str, behavior: Behavior, call: grpc.HandlerCallDetails) -> Behavior:
        refusal, allowed = self._authenticate(call.invocation_metadata or ())

        async def check(request, context) -> None:
            failure = refusal or _not_allowed(allowed, await self._graph_of(method, request))
            if failure is not None:
                await errors.abort(context, failure, extra_metadata=await echo_metadata(context))

        checked = before_call(behavior, check)
        if allowed is None or method not in ("ListGraphs", "ListRuns"):
            return checked

        async def list_allowed(request, context):
            listing = await checked(request, context)
            return convert.graph_list(g for g in listing.graphs if g.name in allowed)

        if method == "ListGraphs":
            return list_allowed
        return _filtered_runs(checked, allowed)

    def _authenticate(self, metadata) -> tuple[errors.ServiceError | None, frozenset[str] | None]:
        """(refusal or None, the graphs the caller may run or None for every graph)."""
        presented = [value for key, value in metadata if key == "authorization"]
        if not presented:
            return errors.unauthenticated(
                "MISSING_CREDENTIALS",
                "this server requires an 'authorization: Bearer <token>' header",
            ), None
        if len(presented) > 1:
            # Proxies and libraries disagree on which of several headers counts.
            return errors.unauthenticated(
                "INVALID_CREDENTIALS",
                f"the call carries {len(presented)} 'authorization' headers; send exactly one",
            ), None
        scheme, _, credential = presented[0].partition(" ")
        token = self._tokens.known(credential) if scheme.lower() == "bearer" else None
        if token is None:
            return errors.unauthenticated(
                "INVALID_CREDENTIALS", "the bearer token is not valid"
            ), None
        return None, self._tokens.graphs_for(token)

    async def _graph_of(self, method: str, request) -> str | None:
        """The graph a call acts on: the request's for Run/Iter; for Stop/Watch the
        graph of the workflow's live run on any replica, or of its kept events (None
        when there is neither: Stop answers found=false, Watch NOT_FOUND). None for a
        request that did not parse (it answers MALFORMED_REQUEST next)."""
        if isinstance(request, UndecodableRequest):
            return None
        if method in ("Run", "Iter"):
            return request.graph
        if method in ("Stop", "Watch"):
            try:
                return await self._coord.graph_of(request.workflow_id)
            except CoordinationUnavailable:
                return None  # the call itself then answers UNAVAILABLE
        return None


def _filtered_runs(checked: Behavior, allowed: frozenset[str]) -> Behavior:
    """ListRuns for a restricted token: only runs of graphs it may run. A page keeps its
    next_page_token, so a page may hold fewer runs than page_size."""

    async def runs(request, context):
        if request.graph and request.graph not in allowed:
            return pb.ListRunsResponse()  # a graph it may not use: nothing to see
        page = await checked(request, context)
        kept = [run for run in page.runs if run.graph in allowed]
        return pb.ListRunsResponse(runs=kept, next_page_token=page.next_page_token)

    return runs


def _not_allowed(allowed: frozenset[str] | None, graph: str | None) -> errors.ServiceError | None:
    if allowed is None or graph is None or graph in allowed:
        return None
    return errors.permission_denied(graph, allowed)
