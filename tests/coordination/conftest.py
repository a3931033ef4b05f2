"""The coordination implementations the contract suite runs against.

``make_coordination(stop_receiver, limits, replica_id)`` builds one; every test
of test_contract.py runs once per implementation.
"""

from __future__ import annotations

import pytest

from hypergraph_grpc.coordination.memory import InMemoryCoordination


@pytest.fixture(params=["memory"])
def make_coordination(request):
    built = []

    def make(stop_receiver, limits=None, replica_id=""):
        coordination = InMemoryCoordination(stop_receiver, limits, replica_id)
        built.append(coordination)
        return coordination

    yield make
