"""What the client raises: one base, `HypergraphClientError`, for every error it makes.

A failed call becomes the subclass of its gRPC status code in one place,
`error_from_rpc`, with the google.rpc details the server attached. A run that
ended FAILED is `RunFailedError`: the call itself succeeded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

if TYPE_CHECKING:
    from hypergraph_grpc.client._models import RunResult


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One google.rpc.BadRequest field violation, e.g. field "values.b"."""

    field: str
    description: str


class HypergraphClientError(Exception):
    """The base of every error the client raises; subclasses exist per status code.

    `code` (grpc.StatusCode), `message` (the status message), `reason`/`domain`/
    `metadata` (the google.rpc.ErrorInfo, domain "hypergraph.dev"),
    `field_violations` (google.rpc.BadRequest), `details` (every unpacked detail).
    """

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        *,
        reason: str = "",
        domain: str = "",
        metadata: Mapping[str, str] | None = None,
        field_violations: Sequence[FieldViolation] = (),
        details: Sequence[Any] = (),
    ) -> None:
        self.code = code
        self.message = message
        self.reason = reason
        self.domain = domain
        self.metadata = dict(metadata or {})
        self.field_violations = list(field_violations)
        self.details = list(details)
        super().__init__(str(self))

    def __str__(self) -> str:
        lines = [f"{self.code.name}: {self.message}"]
        lines += [f"  {v.field}: {v.description}" for v in self.field_violations]
        return "\n".join(lines)


class CallCancelledError(HypergraphClientError):
    """CANCELLED (named so it is not confused with asyncio.CancelledError)."""


class InvalidArgumentError(HypergraphClientError):
    """INVALID_ARGUMENT: a missing or ill-typed input, a bad select or id."""


class DeadlineExceededError(HypergraphClientError):
    """DEADLINE_EXCEEDED: the call's deadline passed (the server stops the run)."""


class NotFoundError(HypergraphClientError):
    """NOT_FOUND: unknown graph (the message lists the known names)."""


class AlreadyExistsError(HypergraphClientError):
    """ALREADY_EXISTS: a run with that workflow_id is live."""


class PermissionDeniedError(HypergraphClientError):
    """PERMISSION_DENIED."""


class ResourceExhaustedError(HypergraphClientError):
    """RESOURCE_EXHAUSTED: too many runs or streams, or an oversized request."""


class FailedPreconditionError(HypergraphClientError):
    """FAILED_PRECONDITION."""


class UnimplementedError(HypergraphClientError):
    """UNIMPLEMENTED: an RPC the server does not offer (an older server)."""


class InternalError(HypergraphClientError):
    """INTERNAL: a bug in the server (logged there with the workflow id)."""


class UnavailableError(HypergraphClientError):
    """UNAVAILABLE: the server is unreachable or draining; retry elsewhere."""


class UnauthenticatedError(HypergraphClientError):
    """UNAUTHENTICATED."""


class RunFailedError(HypergraphClientError):
    """A run ended FAILED (a node raised); `.result` has the details.

    The call succeeded, so no status came back: `code` is ABORTED (as the Rust
    client's `Error::RunFailed`), and `str()` says which workflow failed and why.
    """

    def __init__(self, result: RunResult) -> None:
        self.result = result
        super().__init__(
            grpc.StatusCode.ABORTED, f"workflow {result.workflow_id} failed: {result.error}"
        )

    def __str__(self) -> str:
        return self.message


_ERROR_BY_CODE: dict[grpc.StatusCode, type[HypergraphClientError]] = {
    grpc.StatusCode.CANCELLED: CallCancelledError,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.UNIMPLEMENTED: UnimplementedError,
    grpc.StatusCode.INTERNAL: InternalError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
}

# The google.rpc detail types a server may attach, unpacked by name.
_DETAIL_TYPES = [
    error_details_pb2.ErrorInfo,
    error_details_pb2.BadRequest,
    error_details_pb2.RetryInfo,
    error_details_pb2.ResourceInfo,
    error_details_pb2.QuotaFailure,
    error_details_pb2.PreconditionFailure,
    error_details_pb2.DebugInfo,
    error_details_pb2.Help,
    error_details_pb2.LocalizedMessage,
]


def error_from_rpc(err: grpc.RpcError) -> HypergraphClientError:
    """The one place a failed call (sync grpc.RpcError or grpc.aio.AioRpcError) becomes ours."""
    code = err.code() if callable(getattr(err, "code", None)) else grpc.StatusCode.UNKNOWN
    message = (err.details() if callable(getattr(err, "details", None)) else None) or ""
    try:
        status = rpc_status.from_call(err)
    except (ValueError, TypeError):  # inconsistent or missing status details
        status = None
    fields: dict[str, Any] = {"details": [], "field_violations": []}
    for packed in status.details if status is not None else ():
        detail = _unpack(packed)
        fields["details"].append(detail)
        if isinstance(detail, error_details_pb2.ErrorInfo):
            fields.update(
                reason=detail.reason, domain=detail.domain, metadata=dict(detail.metadata)
            )
        elif isinstance(detail, error_details_pb2.BadRequest):
            fields["field_violations"] += [
                FieldViolation(v.field, v.description) for v in detail.field_violations
            ]
    cls = _ERROR_BY_CODE.get(code, HypergraphClientError)
    return cls(code, message, **fields)


def _unpack(packed: Any) -> Any:
    for detail_type in _DETAIL_TYPES:
        if packed.Is(detail_type.DESCRIPTOR):
            detail = detail_type()
            packed.Unpack(detail)
            return detail
    return packed  # an unknown detail stays a google.protobuf.Any
