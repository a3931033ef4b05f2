"""Entrypoint inference for cycles (C16) when the cycle's gates send back to more than one member."""

from __future__ import annotations

from hypergraph import (
    END,
    Graph,
    node,
    route,
)


def _branch_loop(script):
    decisions = iter(script)
    ran = []

    @node(output_name="value")
    def up(n):
        ran.append("up")
        return n + 1

    @node(output_name="value")
    def down(n):
        ran.append("down")
        return n - 10

    @node(output_name="n")
    def commit(value):
        return value

    @route(targets=["up", "down", END])
    def pick(n):
        return next(decisions)

    return Graph([up, down, commit, pick]), ran


def test_c16_two_back_targets_infer_first_non_gate_member_in_list_order():
    """C16 [ours]: when the cycle's gates send back to more than one member, the
    entrypoint is the first non-gate member in list order."""
    graph, _ = _branch_loop([])
    nodes = graph.nodes
    reordered = Graph([nodes["pick"], nodes["down"], nodes["commit"], nodes["up"]])
    assert reordered.entrypoints == ("down",)
    assert Graph(list(nodes.values()), entrypoint="commit").entrypoints == ("commit",)
