"""The one place where exceptions become gRPC statuses.

Every non-OK answer carries ``google.rpc.Status`` details (read them with
grpcio-status ``rpc_status.from_call``): an ``ErrorInfo`` with domain
``hypergraph.dev`` and a ``reason`` from the table below, plus a ``BadRequest``
with one field violation per bad field for INVALID_ARGUMENT, and a ``RetryInfo``
(how long to wait before retrying) on the refusals marked "retry" below. The
table is the contract (docs/protocol.md, "Errors"):

======================  ===================  ==============================
situation               code                 reason
======================  ===================  ==============================
unknown graph           NOT_FOUND            GRAPH_NOT_FOUND
bad input/select/id     INVALID_ARGUMENT     INVALID_INPUT
workflow id is live     ALREADY_EXISTS       WORKFLOW_ALREADY_RUNNING
Watch of unknown id     NOT_FOUND            WORKFLOW_NOT_FOUND
server draining         UNAVAILABLE          SERVER_DRAINING
too many runs           RESOURCE_EXHAUSTED   TOO_MANY_RUNS (retry)
too many streams        RESOURCE_EXHAUSTED   TOO_MANY_STREAMS (retry)
event loop overloaded   RESOURCE_EXHAUSTED   SERVER_OVERLOADED (retry)
Redis/owner unreachable UNAVAILABLE          COORDINATION_UNAVAILABLE (retry)
request too large       RESOURCE_EXHAUSTED   REQUEST_TOO_LARGE
slow consumer           RESOURCE_EXHAUSTED   SLOW_CONSUMER
no/bad bearer token     UNAUTHENTICATED      MISSING_/INVALID_CREDENTIALS
graph not in allowlist  PERMISSION_DENIED    GRAPH_NOT_ALLOWED
scope not granted       PERMISSION_DENIED    SCOPE_MISSING
tenant over its quota   RESOURCE_EXHAUSTED   TENANT_QUOTA_EXCEEDED
capability misused      PERMISSION_DENIED    CAPABILITY_MISMATCH
no capability signing   FAILED_PRECONDITION  CAPABILITY_UNAVAILABLE
request does not parse  INVALID_ARGUMENT     MALFORMED_REQUEST
bug in the server       INTERNAL             INTERNAL_ERROR
======================  ===================  ==============================

Every status is bounded whatever the request held, so it always fits gRPC's
default 8 KiB metadata limit: at most :data:`MAX_VIOLATIONS` field violations
(then one saying how many more there were, when known), and every message,
field, description and metadata value clipped to a few hundred bytes.

A node that raises is not here: the RPC is OK and the RunResult is FAILED.
COORDINATION_UNAVAILABLE also carries a ``RetryInfo`` (how long to wait before
retrying).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Sequence

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

import hypergraph
from hypergraph_grpc import coordination

__all__ = [
    "DOMAIN",
    "ServiceError",
    "abort",
    "already_running",
    "coordination_unavailable",
    "capability_mismatch",
    "capability_unavailable",
    "draining",
    "graph_not_found",
    "internal",
    "MAX_VIOLATIONS",
    "first_violations",
    "invalid_input",
    "malformed_request",
    "overloaded",
    "permission_denied",
    "resource_exhausted",
    "scope_missing",
    "tenant_quota",
    "to_status",
    "unauthenticated",
    "workflow_not_found",
]

DOMAIN = "hypergraph.dev"
log = logging.getLogger("hypergraph_grpc.errors")

# Bounds on what one status carries (bytes of UTF-8). The message travels twice
# (grpc-message, percent-encoded: up to 3x; and inside the base64 details: 4/3x),
# so the worst case of all of them together stays under 8 KiB.
MAX_VIOLATIONS = 8
_MESSAGE_BYTES = 512
_FIELD_BYTES = 96
_TEXT_BYTES = 192


class ServiceError(Exception):
    """A request the service refuses: a code, a reason, a message and details."""

    def __init__(
        self,
        code: grpc.StatusCode,
        reason: str,
        message: str,
        *,
        violations: Iterable[tuple[str, str]] = (),
        metadata: dict[str, str] | None = None,
        retry_after_s: float | None = None,
        quota: tuple[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.violations = first_violations(violations)
        self.metadata = dict(metadata or {})
        # Seconds a client should wait before retrying (sent as google.rpc.RetryInfo).
        self.retry_after_s = retry_after_s
        # (subject, description) of a google.rpc.QuotaFailure violation.
        self.quota = quota


def first_violations(violations: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The first :data:`MAX_VIOLATIONS` of ``violations``, then one entry saying more were
    left out. Reads no further than that, so a lazy iterable's rest is never computed."""
    items = iter(violations)
    kept = list(itertools.islice(items, MAX_VIOLATIONS))
    if next(items, None) is not None:
        kept.append(("", f"more violations not listed (only the first {MAX_VIOLATIONS} are)"))
    return kept


def graph_not_found(name: str, known: Iterable[str]) -> ServiceError:
    names = sorted(known)
    return ServiceError(
        grpc.StatusCode.NOT_FOUND,
        "GRAPH_NOT_FOUND",
        f"no graph named {name!r} is registered on this server. "
        f"Known graphs: {', '.join(names) or '(none)'}. "
        "How to fix: pass one of these names (ListGraphs lists them), or start the server "
        "with --graphs module:attr serving that graph.",
        violations=[("graph", f"unknown graph {name!r}; known: {', '.join(names)}")],
        metadata={"graph": name, "known_graphs": ",".join(names)},
    )


def invalid_input(graph: str, violations: Iterable[tuple[str, str]]) -> ServiceError:
    """INVALID_ARGUMENT; ``violations`` are (field, description) pairs (the first few count)."""
    violations = first_violations(violations)
    described = "; ".join(f"{field}: {text}" for field, text in violations)
    return ServiceError(
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_INPUT",
        f"invalid request{f' for graph {graph!r}' if graph else ''}: {described}. "
        "How to fix: correct the fields "
        "named above (ListGraphs describes each graph's inputs, their types and outputs).",
        violations=violations,
        metadata={"graph": graph},
    )


def malformed_request(method: str, problem: str) -> ServiceError:
    """INVALID_ARGUMENT: the request body is not a valid ``method`` request message."""
    return ServiceError(
        grpc.StatusCode.INVALID_ARGUMENT,
        "MALFORMED_REQUEST",
        f"the {method} request body does not parse as its protobuf message: {problem}. "
        "How to fix: send a message built with the hypergraph.v1 protos; strings must be "
        "valid UTF-8 and values nested at most as deep as docs/protocol.md allows.",
        violations=[("", problem)],
        metadata={"method": method},
    )


def already_running(workflow_id: str, owner: str = "") -> ServiceError:
    """ALREADY_EXISTS; ``owner`` (the replica running it) goes into the metadata."""
    where = f" on replica {owner!r:.140}" if owner else ""
    metadata = {"workflow_id": workflow_id}
    if owner:
        metadata["owner"] = owner[:256]
    return ServiceError(
        grpc.StatusCode.ALREADY_EXISTS,
        "WORKFLOW_ALREADY_RUNNING",
        f"workflow {workflow_id!r} already has a live run{where}. How to fix: wait for it to "
        "end (its RunEnded event, or Watch it), stop it with Stop, or use another workflow_id.",
        metadata=metadata,
    )


def workflow_not_found(workflow_id: str) -> ServiceError:
    return ServiceError(
        grpc.StatusCode.NOT_FOUND,
        "WORKFLOW_NOT_FOUND",
        f"workflow {workflow_id!r} has no live run and no kept events. How to fix: check the "
        "id (ListRuns lists live runs); a finished run can be watched only until the server's "
        "--event-log-ttl has passed.",
        metadata={"workflow_id": workflow_id},
    )


def coordination_unavailable(what: str, retry_after_s: float) -> ServiceError:
    """UNAVAILABLE with a RetryInfo: the shared store or a run's owner did not answer."""
    return ServiceError(
        grpc.StatusCode.UNAVAILABLE,
        "COORDINATION_UNAVAILABLE",
        f"{what}. How to fix: retry after {retry_after_s:g}s; if it persists, check that the "
        "coordination store (--coordination) is reachable from every replica.",
        metadata={"retry_after_ms": str(round(retry_after_s * 1000))},
        retry_after_s=retry_after_s,
    )


def unauthenticated(reason: str, what: str) -> ServiceError:
    return ServiceError(
        grpc.StatusCode.UNAUTHENTICATED,
        reason,
        f"{what}. How to fix: send the metadata 'authorization: Bearer <token>' with a token "
        "the server accepts (--auth-token or --auth-file).",
    )


def permission_denied(graph: str, allowed: Iterable[str]) -> ServiceError:
    """PERMISSION_DENIED: a valid token whose allowlist (--auth-token TOKEN:g1,g2) lacks ``graph``."""
    names = sorted(allowed)
    return ServiceError(
        grpc.StatusCode.PERMISSION_DENIED,
        "GRAPH_NOT_ALLOWED",
        f"this bearer token may not run graph {graph!r}; it may run only: "
        f"{', '.join(names) or '(none)'}. How to fix: use one of those graphs, send a token "
        f"allowed to run {graph!r}, or restart the server with {graph!r} in this token's "
        "allowlist (--auth-token TOKEN:graph1,graph2; a token without ':' may run every graph).",
        metadata={"graph": graph, "allowed_graphs": ",".join(names)},
    )


def scope_missing(method: str, scope: str, scopes: Iterable[str]) -> ServiceError:
    """PERMISSION_DENIED: a known caller whose scopes (--auth-file) do not cover ``method``."""
    held = sorted(scopes)
    return ServiceError(
        grpc.StatusCode.PERMISSION_DENIED,
        "SCOPE_MISSING",
        f"{method} needs the {scope!r} scope; this caller has {', '.join(held) or '(none)'}. "
        f"How to fix: call with a token (or client certificate) whose --auth-file entry lists "
        f"{scope!r} (or 'admin') in its scopes.",
        metadata={"method": method, "scope": scope, "scopes": ",".join(held)},
    )


def tenant_quota(
    tenant: str, what: str, used: int, limit: int, where: str = "on this server"
) -> ServiceError:
    """RESOURCE_EXHAUSTED with a QuotaFailure: ``tenant`` already has ``used`` ``what``
    (live runs, open streams) ``where`` (on this server, in the cluster), its
    --auth-file limit."""
    return ServiceError(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "TENANT_QUOTA_EXCEEDED",
        f"tenant {tenant!r} already has {used} {what} {where} (its limit is {limit}). "
        f"How to fix: wait for some to end, or raise the tenant's limit in the auth file.",
        metadata={"tenant": tenant, "limit": str(limit)},
        quota=(f"tenant:{tenant}", f"at most {limit} {what}"),
    )


def capability_mismatch(method: str, workflow_id: str) -> ServiceError:
    """PERMISSION_DENIED: a capability token used beyond the one run and scopes it names."""
    return ServiceError(
        grpc.StatusCode.PERMISSION_DENIED,
        "CAPABILITY_MISMATCH",
        f"this capability token does not allow {method} of workflow {workflow_id!r}: it allows "
        "only the scopes it was signed with, on the one run it names. How to fix: use the "
        "token on its own run, or call with your own credentials.",
        metadata={"method": method, "workflow_id": workflow_id},
    )


def capability_unavailable(why: str) -> ServiceError:
    """FAILED_PRECONDITION: a capability token was asked for and this server cannot sign one."""
    return ServiceError(
        grpc.StatusCode.FAILED_PRECONDITION,
        "CAPABILITY_UNAVAILABLE",
        f"no capability token can be signed: {why}. How to fix: start the server with "
        "--capability-key-file (docs/security.md), or leave IterRequest.capability empty.",
    )


def draining() -> ServiceError:
    return ServiceError(
        grpc.StatusCode.UNAVAILABLE,
        "SERVER_DRAINING",
        "this server is shutting down and accepts no new runs. How to fix: retry on another "
        "replica (or after the server restarts).",
    )


def resource_exhausted(
    reason: str, message: str, *, retry_after_s: float | None = None, **metadata: str
) -> ServiceError:
    return ServiceError(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        reason,
        message,
        metadata=metadata,
        retry_after_s=retry_after_s,
    )


def overloaded(lag_s: float, limit_s: float, retry_after_s: float) -> ServiceError:
    """RESOURCE_EXHAUSTED: the event loop runs ``lag_s`` behind, over ``--max-loop-lag-ms``."""
    return resource_exhausted(
        "SERVER_OVERLOADED",
        f"this server is overloaded: its event loop runs {lag_s * 1000:.0f} ms behind (limit "
        f"--max-loop-lag-ms {limit_s * 1000:.0f}), so the run was not started. How to fix: "
        f"retry after {retry_after_s:g} s (the RetryInfo delay), preferably on another replica; "
        "add replicas if this persists.",
        retry_after_s=retry_after_s,
        loop_lag_ms=f"{lag_s * 1000:.0f}",
        limit_ms=f"{limit_s * 1000:.0f}",
    )


def internal(workflow_id: str, exc: BaseException) -> ServiceError:
    return ServiceError(
        grpc.StatusCode.INTERNAL,
        "INTERNAL_ERROR",
        f"internal server error in workflow {workflow_id or '(none)'!r}: "
        f"{type(exc).__name__}: {exc}. This is a bug in the server; its log has the traceback "
        "(search for the workflow id).",
        metadata={"workflow_id": workflow_id},
    )


def _from_runtime(exc: BaseException, graph: str, workflow_id: str) -> ServiceError | None:
    """Runtime validation and coordination errors as service errors."""
    if isinstance(exc, hypergraph.WorkflowAlreadyRunningError):
        return already_running(workflow_id)
    if isinstance(exc, coordination.WorkflowBusy):
        return already_running(exc.workflow_id, exc.owner)
    if isinstance(exc, coordination.UnknownWorkflow):
        return workflow_not_found(exc.workflow_id)
    if isinstance(exc, coordination.CoordinationUnavailable):
        return coordination_unavailable(str(exc), exc.retry_after_s)
    if isinstance(exc, hypergraph.MissingInputError):
        names = getattr(exc, "missing", None) or getattr(exc, "names", None) or ()
        fields = [(f"values.{n}", "required input is missing") for n in names]
        return invalid_input(graph, fields or [("values", str(exc))])
    if isinstance(exc, hypergraph.UnknownInputError):
        names = getattr(exc, "unknown", None) or getattr(exc, "names", None) or ()
        fields = [(f"values.{n}", "not an input of this graph") for n in names]
        return invalid_input(graph, fields or [("values", str(exc))])
    return None


def to_status(
    exc: BaseException,
    *,
    graph: str = "",
    workflow_id: str = "",
    extra_metadata: Sequence[tuple[str, str]] = (),
) -> grpc.Status:
    """Any exception as a ``grpc.Status`` with rich details; unknown ones are INTERNAL."""
    error = exc if isinstance(exc, ServiceError) else _from_runtime(exc, graph, workflow_id)
    if error is None:
        log.error(
            "internal error", exc_info=exc, extra={"workflow_id": workflow_id, "graph": graph}
        )
        error = internal(workflow_id, exc)
    details = [
        _pack(
            error_details_pb2.ErrorInfo(
                reason=error.reason,
                domain=DOMAIN,
                metadata={key: _clip(value, _TEXT_BYTES) for key, value in error.metadata.items()},
            )
        )
    ]
    if error.violations:
        request = error_details_pb2.BadRequest()
        for field, text in error.violations:
            request.field_violations.add(
                field=_clip(field, _FIELD_BYTES), description=_clip(text, _TEXT_BYTES)
            )
        details.append(_pack(request))
    if error.quota is not None:
        subject, description = error.quota
        failure = error_details_pb2.QuotaFailure()
        failure.violations.add(subject=subject, description=_clip(description, _TEXT_BYTES))
        details.append(_pack(failure))
    if error.retry_after_s is not None:
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(round(error.retry_after_s * 1e9))
        details.append(_pack(error_details_pb2.RetryInfo(retry_delay=delay)))
    status = status_pb2.Status(
        code=_CODES[error.code], message=_clip(error.message, _MESSAGE_BYTES), details=details
    )
    converted = rpc_status.to_status(status)
    if extra_metadata:
        converted = _Status(
            converted.code,
            converted.details,
            tuple(converted.trailing_metadata) + tuple(extra_metadata),
        )
    return converted


async def abort(context: grpc.aio.ServicerContext, exc: BaseException, **kw) -> None:
    """End the RPC with the status for ``exc`` (always raises)."""
    await context.abort_with_status(to_status(exc, **kw))


def _clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes (then an ellipsis), on a character boundary."""
    encoded = text.encode("utf-8", "replace")
    if len(encoded) <= limit:
        return text
    return encoded[: limit - 3].decode("utf-8", "ignore") + "\u2026"


def _pack(message) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


class _Status(grpc.Status):
    def __init__(self, code, details, trailing_metadata):
        self.code = code
        self.details = details
        self.trailing_metadata = trailing_metadata


_CODES = {code: getattr(code_pb2, code.name) for code in grpc.StatusCode if code.name != "OK"}
_CODES[grpc.StatusCode.OK] = code_pb2.OK
