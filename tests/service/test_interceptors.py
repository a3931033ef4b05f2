"""The interceptors' handler wrapping: built once per method when the wrapper does not
read the call, so a call allocates nothing for it; per call otherwise."""

from __future__ import annotations

import grpc
import pytest

from hypergraph_grpc.interceptors import DecodeInterceptor, InternalErrorInterceptor
from hypergraph_grpc.server import SERVICE_NAME


class _Details:
    def __init__(self, method: str) -> None:
        self.method = f"/{SERVICE_NAME}/{method}"
        self.invocation_metadata = ()


async def _handler_of(interceptor, handler, method: str = "Run"):
    async def continuation(details):
        return handler

    return await interceptor.intercept_service(continuation, _Details(method))


def _unary_handler():
    async def behavior(request, context):
        return request

    return grpc.unary_unary_rpc_method_handler(behavior)


@pytest.mark.asyncio
@pytest.mark.parametrize("make", [InternalErrorInterceptor, DecodeInterceptor])
async def test_a_call_independent_interceptor_wraps_each_method_once(make):
    interceptor = make(SERVICE_NAME)
    inner = _unary_handler()
    first = await _handler_of(interceptor, inner)
    assert first is not inner
    assert await _handler_of(interceptor, inner) is first
    assert await _handler_of(interceptor, inner, "Stop") is not first


@pytest.mark.asyncio
async def test_a_rebuilt_inner_handler_is_wrapped_again():
    interceptor = InternalErrorInterceptor(SERVICE_NAME)
    first = await _handler_of(interceptor, _unary_handler())
    assert await _handler_of(interceptor, _unary_handler()) is not first


@pytest.mark.asyncio
async def test_calls_outside_the_service_pass_untouched():
    interceptor = InternalErrorInterceptor(SERVICE_NAME)
    inner = _unary_handler()

    async def continuation(details):
        return inner

    details = _Details("Run")
    details.method = "/grpc.health.v1.Health/Check"
    assert await interceptor.intercept_service(continuation, details) is inner
