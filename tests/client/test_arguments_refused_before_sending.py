"""Arguments the server would refuse are refused by the client, before anything is sent.

A count (max_iterations, max_queued_events, max_chunk_bytes, after_seq) outside
its unsigned range raises ValueError naming the argument and the fix, not
protobuf's bare "Value out of range"; a value the codec cannot encode raises
EncodeError, a TypeError naming where the value is.
"""

from __future__ import annotations

import pytest

from hypergraph_grpc.client import AsyncClient, Client
from hypergraph_grpc.values import EncodeError


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("keyword", "value"),
    [("max_iterations", -1), ("max_queued_events", -5), ("max_chunk_bytes", 1 << 40)],
)
async def test_out_of_range_counts_name_the_argument(target, keyword, value):
    async with AsyncClient(target) as client:
        with pytest.raises(ValueError, match=f"{keyword}={value}.*How to fix"):
            client.iter("tokens", {"count": 1}, **{keyword: value})
    with Client(target) as client, pytest.raises(ValueError, match=f"{keyword}={value}"):
        client.iter("tokens", {"count": 1}, **{keyword: value})


def test_watch_after_seq_is_checked(target):
    with Client(target) as client, pytest.raises(ValueError, match="after_seq=-1"):
        client.watch("w", after_seq=-1)


@pytest.mark.asyncio
async def test_values_the_wire_cannot_hold_are_refused_before_sending(target):
    async with AsyncClient(target) as client:
        with pytest.raises(EncodeError, match="values.value"):
            await client.run("echo", {"value": object()})
    assert issubclass(EncodeError, TypeError)
