"""Cycles one after another and gates in front of a cycle (C13, C21, C23)."""

import pytest

from hypergraph import (
    END,
    AsyncRunner,
    Graph,
    NodeStartEvent,
    node,
    route,
)

from .helpers import Recorder
from .test_events import check_run_events


@node(output_name="a_n")
def a_step(a_n: int) -> int:
    return a_n + 1


@route(targets=["b_step", END])
def b_gate(b_n: int):
    return "b_step" if b_n < 10 else END


@node(output_name="b_n")
def b_step(b_n: int, a_n: int) -> int:
    return b_n + a_n


@route(targets=["a_step", END])
def a_gate(a_n: int):
    return "a_step" if a_n < 3 else END


@pytest.mark.asyncio
async def test_c21_c23_second_cycle_starts_after_the_first_finished():
    """C21/C23: a cycle reading another cycle's output starts after it, with its final value."""
    g = Graph([b_step, b_gate, a_step, a_gate])
    assert g.entrypoints == ("b_step", "a_step")
    assert set(g.inputs.required) == {"a_n", "b_n"}
    rec = Recorder()
    result = await AsyncRunner().run(g, a_n=0, b_n=0, event_processors=[rec])
    starts = [e.node_name for e in rec.of(NodeStartEvent)]
    assert starts.index("b_step") > max(i for i, n in enumerate(starts) if n == "a_step")
    assert result.values == {"b_n": 12, "a_n": 3}
    check_run_events(rec.events)
    g2 = Graph([b_step, b_gate, a_step, a_gate], entrypoint=("a_step", "b_step"))
    assert g2.entrypoints == ("b_step", "a_step")


@pytest.mark.asyncio
@pytest.mark.parametrize("choice,loops", [("spin", 3), ("skip", 0), (END, 0)])
async def test_c13_gate_outside_a_cycle_decides_whether_it_starts(choice, loops):
    """C13: a cycle's entrypoint targeted by an outside gate waits for that gate's decision."""
    spins = []

    @route(targets=["spin", "skip", END])
    def choose(q):
        return choice

    @node(output_name="n")
    def spin(n):
        spins.append(n)
        return n + 1

    @route(targets=["spin", END])
    def more(n):
        return "spin" if n < 3 else END

    @node(output_name="skipped")
    def skip(q):
        return True

    rec = Recorder()
    g = Graph([choose, spin, more, skip])
    assert g.entrypoints == ("spin",)
    result = await AsyncRunner().run(g, q=1, n=0, event_processors=[rec])
    assert len(spins) == loops and result.completed
    starts = [e.node_name for e in rec.of(NodeStartEvent)]
    assert starts[0] == "choose"
