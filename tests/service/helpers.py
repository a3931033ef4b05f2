"""Helpers of the service tests: a failed call's google.rpc details, retrying a Run."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

DETAILS_KEY = "grpc-status-details-bin"


class Details:
    """The ErrorInfo, BadRequest and RetryInfo packed in a failed call's status."""

    def __init__(self, error: grpc.aio.AioRpcError) -> None:
        self.code = error.code()
        self.message = error.details()
        self.status = None
        self.info = None
        self.bad_request = None
        self.retry_info = None
        for key, value in error.trailing_metadata() or ():
            if key == DETAILS_KEY:
                self.status = status_pb2.Status.FromString(value)
        if self.status is None:
            return
        assert self.status.code == self.code.value[0]
        assert self.status.message == self.message
        for packed in self.status.details:
            if packed.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                self.info = error_details_pb2.ErrorInfo()
                packed.Unpack(self.info)
            elif packed.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                self.bad_request = error_details_pb2.BadRequest()
                packed.Unpack(self.bad_request)
            elif packed.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                self.retry_info = error_details_pb2.RetryInfo()
                packed.Unpack(self.retry_info)

    @property
    def retry_after(self) -> float | None:
        """RetryInfo.retry_delay in seconds; None without a RetryInfo."""
        if self.retry_info is None:
            return None
        return self.retry_info.retry_delay.ToNanoseconds() / 1e9

    @property
    def reason(self) -> str:
        return self.info.reason if self.info else ""

    @property
    def domain(self) -> str:
        return self.info.domain if self.info else ""

    @property
    def fields(self) -> list[str]:
        if self.bad_request is None:
            return []
        return [v.field for v in self.bad_request.field_violations]


async def rejected(call) -> Details:
    """The details of a call that must fail (unary, or a stream read to its end)."""
    from tests.service.conftest import collect

    with pytest.raises(grpc.aio.AioRpcError) as info:
        if hasattr(call, "read"):
            await collect(call)
        else:
            await call
    return Details(info.value)


async def retry_run(stub, request, within: float = 5.0):
    """Run, retrying while the workflow id is still live (ALREADY_EXISTS)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + within
    while True:
        try:
            return await stub.Run(request)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.ALREADY_EXISTS or loop.time() > end:
                raise
            await asyncio.sleep(0.02)
