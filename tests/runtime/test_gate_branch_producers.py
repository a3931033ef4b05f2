"""Two producers of one output (C18, C13): accepted only in different branches of one gate, also inside a loop, where each decision runs one of them."""

from __future__ import annotations

import pytest

from hypergraph import (
    END,
    AsyncRunner,
    Graph,
    GraphConfigError,
    RunStatus,
    node,
    route,
)

from .helpers import Recorder, branch_loop
from .test_events import check_run_events


def test_c18_producers_in_branches_of_a_loop_gate_are_accepted():
    """C18: a loop body that closes back into both branches through data edges
    (commit -> n -> up, down) is accepted: a gated node runs only on a decision, so up
    and down stay in different branches of `pick`."""
    graph, _ = branch_loop([])
    assert graph.entrypoints == ("up",) and graph.inputs.required == ("n",)


@pytest.mark.asyncio
async def test_c18_c13_loop_branch_producers_run_one_per_decision():
    graph, ran = branch_loop(["up", "down", "up", END])
    rec = Recorder()
    result = await AsyncRunner().run(graph, n=0, event_processors=[rec])
    assert result.status is RunStatus.COMPLETED
    assert ran == ["up", "up", "down", "up"]  # the entrypoint's first run needs no decision
    assert result.values == {"value": -7, "n": -7}
    check_run_events(rec.events)


def test_c18_producers_still_rejected_when_one_is_not_behind_the_gate():
    @node(output_name="text")
    def draft(topic):
        return topic

    @node(output_name="text")
    def revise(text, feedback):
        return text + "+"

    @node(output_name="feedback")
    def critic(text):
        return "ok"

    @route(targets=["revise", END])
    def good(feedback):
        return END

    with pytest.raises(GraphConfigError) as info:
        Graph([draft, revise, critic, good])
    msg = str(info.value)
    assert "'draft'" in msg and "'revise'" in msg and "'text'" in msg and "How to fix" in msg

    # two branches that both lead (ungated) into the same producer are not exclusive
    @route(targets=["a", "b"])
    def split(q):
        return "a"

    @node(output_name="x")
    def a(q):
        return 1

    @node(output_name="y")
    def b(q):
        return 2

    @node(output_name="z")
    def join(x=0, y=0):
        return x + y

    @node(output_name="z")
    def also(x):
        return x

    with pytest.raises(GraphConfigError, match="'z'"):
        Graph([split, a, b, join, also])
