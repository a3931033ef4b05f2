"""Entrypoint inference for cycles (C16) when the cycle's gates send back to more than one member."""

from __future__ import annotations

from hypergraph import (
    Graph,
)

from .helpers import branch_loop


def test_c16_two_back_targets_infer_first_non_gate_member_in_list_order():
    """C16 [ours]: when the cycle's gates send back to more than one member, the
    entrypoint is the first non-gate member in list order."""
    graph, _ = branch_loop([])
    nodes = graph.nodes
    reordered = Graph([nodes["pick"], nodes["down"], nodes["commit"], nodes["up"]])
    assert reordered.entrypoints == ("down",)
    assert Graph(list(nodes.values()), entrypoint="commit").entrypoints == ("commit",)
