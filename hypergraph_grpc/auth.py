"""Who may call: bearer tokens and mTLS client certificates, their scopes and graph allowlists.

:class:`AuthTokens` is what ``--auth-token`` / ``HYPERGRAPH_AUTH_TOKENS`` say
(:meth:`AuthTokens.parse`: every scope) or what an ``--auth-file`` says
(:class:`AuthFile`, re-read on SIGHUP: tokens and certificate subjects, each
with scopes and an optional allowlist). :class:`AuthInterceptor` enforces it on
every RunnerService call, before the service sees the call (health and
reflection stay open, for load balancers and tools). Per call it reads the
``authorization`` header once and then decides (docs/protocol.md, "Errors";
docs/security.md):

- no header (and no client certificate subject listed in the auth file):
  UNAUTHENTICATED / MISSING_CREDENTIALS; a header that is not
  ``Bearer <known token>``, or more than one: UNAUTHENTICATED / INVALID_CREDENTIALS;
- a caller without the method's scope (``run``: ListGraphs, Run, Iter;
  ``watch``: Watch, ListRuns; ``stop``: Stop; ``admin``: all of them):
  PERMISSION_DENIED / SCOPE_MISSING;
- a per-run capability token (:mod:`hypergraph_grpc.capabilities`) acts only
  through Watch/Stop of its own run (else PERMISSION_DENIED / CAPABILITY_MISMATCH),
  and a caller can ask for one only with scopes it holds itself;
- a caller with a tenant works in its own namespace of workflow ids: its ids are
  prefixed ``<tenant>:`` (unless they already are) before the service sees them,
  so another tenant's run answers exactly like an unknown id, and ListRuns shows
  only its own runs;
- a token with an allowlist: ``Run``/``Iter`` of another graph (also an unknown
  name, so a restricted token learns no names) and ``Stop``/``Watch`` of a live
  workflow of another graph answer PERMISSION_DENIED / GRAPH_NOT_ALLOWED before
  anything else; ``ListGraphs`` lists only the allowed graphs.
"""

from __future__ import annotations

import collections
import dataclasses
import hmac
import inspect
import logging
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence

import grpc

from hypergraph_grpc import convert, errors
from hypergraph_grpc.capabilities import CapabilityKeys, is_capability
from hypergraph_grpc.coordination import Coordination, CoordinationUnavailable, RunLimit
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb
from hypergraph_grpc.interceptors import (
    Behavior,
    RunnerServiceInterceptor,
    UndecodableRequest,
    before_call,
)
from hypergraph_grpc.service import SERVICE_NAME, echo_metadata, new_workflow_id
from hypergraph_grpc.tls import peer_identity

__all__ = [
    "SCOPES",
    "AuthFile",
    "AuthInterceptor",
    "AuthTokenError",
    "AuthTokens",
    "Grant",
    "TenantLimits",
    "tenant_run_limit",
]

log = logging.getLogger("hypergraph_grpc.auth")

# The scope each RunnerService method needs; ``admin`` holds every scope.
SCOPES = ("run", "watch", "stop", "admin")
_TENANT = re.compile(r"[A-Za-z0-9._-]{1,32}")
_METHOD_SCOPE = {
    "ListGraphs": "run",
    "Run": "run",
    "Iter": "run",
    "Watch": "watch",
    "ListRuns": "watch",
    "Stop": "stop",
}

_SYNTAX = (
    "use TOKEN (may run every graph) or TOKEN:graph1,graph2 (may run only those graphs); "
    "in HYPERGRAPH_AUTH_TOKENS separate tokens with ';' (e.g. 'tok1;tok2:chat,rag')"
)


class AuthTokenError(ValueError):
    """A malformed --auth-token / HYPERGRAPH_AUTH_TOKENS entry (the message says how to fix)."""


@dataclasses.dataclass(frozen=True)
class Grant:
    """What one token or client certificate may do: its scopes, and the graphs it may
    run (None: every graph)."""

    scopes: frozenset[str] = frozenset(SCOPES)
    graphs: frozenset[str] | None = None
    # The caller's namespace of workflow ids (None: the shared one, which holds every run).
    tenant: str | None = None
    # A capability token's one run: only Watch/Stop of this id (None: any run).
    workflow_id: str | None = None

    def allows(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes

    def namespaced(self, workflow_id: str) -> str:
        """``workflow_id`` in this caller's namespace (an empty id stays empty)."""
        prefix = f"{self.tenant}:"
        if self.tenant is None or not workflow_id or workflow_id.startswith(prefix):
            return workflow_id
        return prefix + workflow_id

    def owns(self, workflow_id: str) -> bool:
        return self.tenant is None or workflow_id.startswith(f"{self.tenant}:")


@dataclasses.dataclass(frozen=True)
class TenantLimits:
    """What one tenant may hold at once on a server (0: no limit)."""

    max_runs: int = 0
    max_streams: int = 0


@dataclasses.dataclass(frozen=True)
class AuthTokens:
    """The accepted bearer tokens and client certificate subjects, each with its Grant."""

    grants: Mapping[str, Grant]
    subjects: Mapping[str, Grant] = dataclasses.field(default_factory=dict)
    limits: Mapping[str, TenantLimits] = dataclasses.field(default_factory=dict)

    @classmethod
    def parse(
        cls, flags: Sequence[str] | None, env: str = "", graphs: Iterable[str] | None = None
    ) -> AuthTokens:
        """Tokens and allowlists from ``--auth-token`` flags and the env var's value
        (every scope: the quick-start form; an --auth-file narrows scopes).

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
        return cls({token: Grant(graphs=allowed) for token, allowed in allowlists.items()})

    def __bool__(self) -> bool:
        return bool(self.grants or self.subjects)

    def current(self) -> AuthTokens:
        """These tokens (an :class:`AuthFile` answers with its latest read)."""
        return self

    @property
    def allowlists(self) -> dict[str, frozenset[str] | None]:
        return {token: grant.graphs for token, grant in self.grants.items()}

    def known(self, presented: str) -> str | None:
        """The accepted token equal to ``presented`` (compared in constant time, against
        every token, so the time taken says nothing about which one matched), or None."""
        found = None
        for token in self.grants:
            if hmac.compare_digest(presented.encode(), token.encode()):
                found = token
        return found

    def graphs_for(self, token: str) -> frozenset[str] | None:
        """The graphs an accepted ``token`` may run, or None for every graph."""
        return self.grants[token].graphs


class AuthFile:
    """``--auth-file``: a TOML file of tokens and client certificate subjects
    (docs/security.md)::

        [[token]]
        token = "a long random secret"
        scopes = ["run", "watch"]       # of run, watch, stop, admin
        graphs = ["chat"]               # optional: the graphs it may run
        tenant = "acme"                 # optional: its own namespace of workflow ids

        [[tenant]]
        name = "acme"
        max_runs = 10                   # live runs at once on this server (0: no limit)
        max_streams = 20                # open Iter/Watch streams at once

        [[client]]
        subject = "CN=billing,O=Example"  # a client certificate's subject (mTLS)
        scopes = ["run", "stop"]

    Read when built (errors raise :class:`AuthTokenError`); :meth:`reload` reads it
    again (SIGHUP) and keeps the current tokens when the new file is not valid.
    """

    def __init__(self, path: str, graphs: Iterable[str] | None = None) -> None:
        self.path = path
        self._graphs = None if graphs is None else sorted(graphs)
        self._tokens = _load_file(path, self._graphs)

    def current(self) -> AuthTokens:
        return self._tokens

    def reload(self) -> bool:
        try:
            self._tokens = _load_file(self.path, self._graphs)
        except AuthTokenError as exc:
            log.error(
                "auth file reload failed, keeping the current tokens", extra={"error": str(exc)}
            )
            return False
        log.info(
            "auth file reloaded",
            extra={"tokens": len(self._tokens.grants), "subjects": len(self._tokens.subjects)},
        )
        return True


def _load_file(path: str, served: list[str] | None) -> AuthTokens:
    try:
        with open(path, "rb") as file:
            document = tomllib.load(file)
    except OSError as exc:
        raise AuthTokenError(
            f"cannot read --auth-file {path!r}: {exc.strerror}. How to fix: give a readable file"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise AuthTokenError(
            f"--auth-file {path!r} is not valid TOML: {exc}. How to fix: see docs/security.md"
        ) from None
    unknown = sorted(set(document) - {"token", "client", "tenant"})
    if unknown:
        raise AuthTokenError(
            f"--auth-file {path!r}: unknown table(s) {', '.join(unknown)}. How to fix: use "
            "[[token]], [[client]] and [[tenant]] entries only (docs/security.md)"
        )
    grants = _entries(path, document.get("token", []), "token", served)
    subjects = _entries(path, document.get("client", []), "subject", served)
    limits = _tenant_limits(path, document.get("tenant", []))
    if not grants and not subjects:
        raise AuthTokenError(
            f"--auth-file {path!r} has no [[token]] or [[client]] entry, so nobody could call. "
            "How to fix: add at least one entry"
        )
    return AuthTokens(grants, subjects, limits)


def _tenant_limits(path: str, entries: object) -> dict[str, TenantLimits]:
    if not isinstance(entries, list):
        raise AuthTokenError(f"--auth-file {path!r}: use [[tenant]] (an array of tables)")
    limits: dict[str, TenantLimits] = {}
    for number, entry in enumerate(entries, 1):
        where = f"--auth-file {path!r}, [[tenant]] number {number}"
        extra = sorted(set(entry) - {"name", "max_runs", "max_streams"})
        if extra:
            raise AuthTokenError(
                f"{where}: unknown key(s) {', '.join(extra)}. How to fix: use only name, "
                "max_runs and max_streams"
            )
        name = entry.get("name")
        if not isinstance(name, str) or not _TENANT.fullmatch(name) or name in limits:
            raise AuthTokenError(f"{where}: name must be a tenant name, listed once")
        counts = {key: entry.get(key, 0) for key in ("max_runs", "max_streams")}
        if not all(type(value) is int and value >= 0 for value in counts.values()):
            raise AuthTokenError(f"{where}: max_runs and max_streams must be counts >= 0")
        limits[name] = TenantLimits(**counts)
    return limits


def _entries(path: str, entries: object, key: str, served: list[str] | None) -> dict[str, Grant]:
    table = "token" if key == "token" else "client"
    if not isinstance(entries, list):
        raise AuthTokenError(f"--auth-file {path!r}: use [[{table}]] (an array of tables)")
    found: dict[str, Grant] = {}
    for number, entry in enumerate(entries, 1):
        where = f"--auth-file {path!r}, [[{table}]] number {number}"
        extra = sorted(set(entry) - {key, "scopes", "graphs", "tenant"})
        if extra:
            raise AuthTokenError(
                f"{where}: unknown key(s) {', '.join(extra)}. How to fix: use only {key}, "
                "scopes, graphs and tenant"
            )
        tenant = entry.get("tenant")
        if tenant is not None and not (isinstance(tenant, str) and _TENANT.fullmatch(tenant)):
            raise AuthTokenError(
                f"{where}: tenant {tenant!r} is not valid. How to fix: use 1-32 characters of "
                "[A-Za-z0-9._-] (it prefixes the tenant's workflow ids as 'tenant:')"
            )
        name = entry.get(key)
        if not isinstance(name, str) or not name.strip() or (key == "token" and " " in name):
            raise AuthTokenError(f"{where}: {key} must be a non-empty string without spaces")
        if name in found:
            raise AuthTokenError(f"{where}: this {key} is listed twice. How to fix: list it once")
        scopes = entry.get("scopes")
        if not isinstance(scopes, list) or not scopes or not set(scopes) <= set(SCOPES):
            raise AuthTokenError(
                f"{where}: scopes must be a non-empty list of {', '.join(SCOPES)}, got {scopes!r}"
            )
        graphs = entry.get("graphs")
        if graphs is not None:
            if not isinstance(graphs, list) or not all(isinstance(g, str) and g for g in graphs):
                raise AuthTokenError(f"{where}: graphs must be a list of graph names")
            missing = [g for g in graphs if served is not None and g not in served]
            if missing:
                raise AuthTokenError(
                    f"{where}: graph(s) {', '.join(map(repr, missing))} are not served; served "
                    f"graphs: {', '.join(served or [])}. How to fix: list only served graphs"
                )
        found[name] = Grant(
            frozenset(scopes), None if graphs is None else frozenset(graphs), tenant
        )
    return found


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


def tenant_run_limit(tokens: AuthTokens | AuthFile) -> RunLimit:
    """For cluster coordination: a workflow id's tenant (its ``tenant:`` prefix, as
    :class:`Grant` puts it there) and that tenant's ``max_runs``, from the latest read
    of the auth file; None for an id of no tenant with a run limit."""

    def limit(workflow_id: str) -> tuple[str, int] | None:
        tenant, colon, _ = workflow_id.partition(":")
        limits = tokens.current().limits.get(tenant) if colon else None
        if limits is None or not limits.max_runs:
            return None
        return tenant, limits.max_runs

    return limit


class AuthInterceptor(RunnerServiceInterceptor):
    """Enforces :class:`AuthTokens` (or an :class:`AuthFile`'s latest read) on
    RunnerService calls (see the module doc).

    ``coordination`` tells which graph a live workflow runs, for Stop and Watch.
    """

    def __init__(
        self,
        tokens: AuthTokens | AuthFile,
        coordination: Coordination,
        capabilities: CapabilityKeys | None = None,
    ) -> None:
        super().__init__(SERVICE_NAME)
        self._tokens = tokens
        self._coord = coordination
        # Verifies per-run capability tokens (None: they are not accepted).
        self._capabilities = capabilities
        # Per tenant on this server: ids of runs being started, open streams.
        self._starting: dict[str, set[str]] = collections.defaultdict(set)
        self._streams: collections.Counter[str] = collections.Counter()

    def wrap(self, method: str, behavior: Behavior, call: grpc.HandlerCallDetails) -> Behavior:
        metadata = call.invocation_metadata or ()
        granted: list[Grant] = []  # set by check, read by the listing filters below
        releases: list[Callable[[], None]] = []  # what the call holds of its tenant's quota

        async def check(request, context) -> None:
            grant, failure = self._authenticate(metadata, context)
            if grant is not None:
                _into_namespace(grant, method, request)
                failure = (
                    _outside_capability(grant, method, request)
                    or _scope_missing(grant, method)
                    or _delegation_missing(grant, method, request)
                    or _not_allowed(grant.graphs, await self._graph_of(method, request))
                    or self._hold_quota(grant, method, request, releases)
                )
            if failure is not None:
                await errors.abort(context, failure, extra_metadata=await echo_metadata(context))
            granted.append(grant)

        checked = _released_after(before_call(behavior, check), releases)
        if method == "ListGraphs":

            async def list_allowed(request, context):
                listing = await checked(request, context)
                allowed = granted[0].graphs
                if allowed is None:
                    return listing
                return convert.graph_list(g for g in listing.graphs if g.name in allowed)

            return list_allowed
        if method == "ListRuns":
            return _filtered_runs(checked, granted)
        return checked

    def _hold_quota(
        self, grant: Grant, method: str, request, releases: list[Callable[[], None]]
    ) -> errors.ServiceError | None:
        """Refuse a call over its tenant's limits, or count it until it ends (``releases``)."""
        limits = self._tokens.current().limits.get(grant.tenant) if grant.tenant else None
        if limits is None or isinstance(request, UndecodableRequest):
            return None
        tenant = grant.tenant
        if method in ("Iter", "Watch") and limits.max_streams:
            if self._streams[tenant] >= limits.max_streams:
                return errors.tenant_quota(
                    tenant, "open streams", self._streams[tenant], limits.max_streams
                )
        if method in ("Run", "Iter") and limits.max_runs:
            # Runs already live plus runs being started by calls not yet claimed: a burst
            # of simultaneous calls cannot slip past the count.
            starting = self._starting[tenant]
            live = {
                run.workflow_id for run in self._coord.live_runs() if grant.owns(run.workflow_id)
            }
            used = len(live | starting)
            if used >= limits.max_runs:
                return errors.tenant_quota(tenant, "live runs", used, limits.max_runs)
            starting.add(request.workflow_id)
            releases.append(lambda: starting.discard(request.workflow_id))
        if method in ("Iter", "Watch") and limits.max_streams:
            self._streams[tenant] += 1
            releases.append(lambda: self._streams.subtract([tenant]))
        return None

    def _authenticate(self, metadata, context) -> tuple[Grant | None, errors.ServiceError | None]:
        """(the caller's grant, None) or (None, why it is refused)."""
        tokens = self._tokens.current()
        presented = [value for key, value in metadata if key == "authorization"]
        if len(presented) > 1:
            # Proxies and libraries disagree on which of several headers counts.
            return None, errors.unauthenticated(
                "INVALID_CREDENTIALS",
                f"the call carries {len(presented)} 'authorization' headers; send exactly one",
            )
        if presented:
            scheme, _, credential = presented[0].partition(" ")
            if self._capabilities is not None and is_capability(credential):
                capability = self._capabilities.verify(credential)
                if capability is None:
                    return None, errors.unauthenticated(
                        "INVALID_CREDENTIALS",
                        "the capability token is not valid (altered, signed with an unknown "
                        "or expired key, or expired itself)",
                    )
                return Grant(capability.scopes, workflow_id=capability.workflow_id), None
            token = tokens.known(credential) if scheme.lower() == "bearer" else None
            if token is None:
                return None, errors.unauthenticated(
                    "INVALID_CREDENTIALS", "the bearer token is not valid"
                )
            return tokens.grants[token], None
        subject = peer_identity(context) if tokens.subjects else None
        if subject is not None and subject in tokens.subjects:
            return tokens.subjects[subject], None
        what = "this server requires an 'authorization: Bearer <token>' header"
        if subject is not None:
            what += f" (the client certificate {subject!r:.200} is not listed in its auth file)"
        return None, errors.unauthenticated("MISSING_CREDENTIALS", what)

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


def _released_after(behavior: Behavior, releases: list[Callable[[], None]]) -> Behavior:
    """``behavior``, then every release its check registered, however the call ends."""
    if inspect.isasyncgenfunction(behavior):

        async def released_stream(request, context):
            try:
                async for message in behavior(request, context):
                    yield message
            finally:
                for release in releases:
                    release()

        return released_stream

    async def released(request, context):
        try:
            return await behavior(request, context)
        finally:
            for release in releases:
                release()

    return released


def _filtered_runs(checked: Behavior, granted: list[Grant]) -> Behavior:
    """ListRuns for a restricted caller: only its tenant's runs of graphs it may run. A
    page keeps its next_page_token, so a page may hold fewer runs than page_size."""

    async def runs(request, context):
        page = await checked(request, context)
        grant = granted[0]
        allowed = grant.graphs
        if allowed is None and grant.tenant is None:
            return page
        if allowed is not None and request.graph and request.graph not in allowed:
            return pb.ListRunsResponse()  # a graph it may not use: nothing to see
        kept = [
            run
            for run in page.runs
            if (allowed is None or run.graph in allowed) and grant.owns(run.workflow_id)
        ]
        return pb.ListRunsResponse(runs=kept, next_page_token=page.next_page_token)

    return runs


def _into_namespace(grant: Grant, method: str, request) -> None:
    """A tenant's Run/Iter/Stop/Watch acts on its own ids (a new run's generated id too)."""
    if grant.tenant is None or isinstance(request, UndecodableRequest):
        return
    if method in ("Run", "Iter"):
        request.workflow_id = grant.namespaced(request.workflow_id or new_workflow_id())
    elif method in ("Stop", "Watch"):
        request.workflow_id = grant.namespaced(request.workflow_id)


def _outside_capability(grant: Grant, method: str, request) -> errors.ServiceError | None:
    """A capability token acts only on its own run, and only through Watch and Stop."""
    if grant.workflow_id is None:
        return None
    asked = getattr(request, "workflow_id", "")
    if method in ("Watch", "Stop") and asked == grant.workflow_id:
        return None
    return errors.capability_mismatch(method, asked)


def _delegation_missing(grant: Grant, method: str, request) -> errors.ServiceError | None:
    """A caller can hand out (as a capability token) only scopes it holds itself."""
    if method != "Iter" or isinstance(request, UndecodableRequest):
        return None
    for scope in request.capability.scopes:
        if scope in SCOPES and not grant.allows(scope):
            return errors.scope_missing("Iter capability", scope, grant.scopes)
    return None


def _scope_missing(grant: Grant, method: str) -> errors.ServiceError | None:
    scope = _METHOD_SCOPE.get(method)
    if scope is None or grant.allows(scope):
        return None
    return errors.scope_missing(method, scope, grant.scopes)


def _not_allowed(allowed: frozenset[str] | None, graph: str | None) -> errors.ServiceError | None:
    if allowed is None or graph is None or graph in allowed:
        return None
    return errors.permission_denied(graph, allowed)
