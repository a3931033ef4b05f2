"""Section 3: gates, route and END (C9-C14)."""

import copy
import pickle

import pytest

from hypergraph import (
    END,
    AsyncRunner,
    Graph,
    GraphConfigError,
    InvalidRouteError,
    NodeEndEvent,
    NodeStartEvent,
    RouteDecisionEvent,
    RunStatus,
    SuperstepStartEvent,
    node,
    route,
)

from .helpers import Recorder


def make_branch_graph(choice, fallback=None):
    @node(output_name="x")
    def src(q):
        return q

    @route(targets=["a", "b", END], fallback=fallback)
    def pick(x):
        return choice

    @node(output_name="ra")
    def a(x):
        return "A"

    @node(output_name="rb")
    async def b(x):
        return "B"

    return Graph([src, pick, a, b])


def test_end_is_a_unique_sentinel():
    assert repr(END) == "END"
    assert END != "END"
    with pytest.raises(TypeError, match="return END"):
        END()
    assert copy.deepcopy(END) is END
    assert pickle.loads(pickle.dumps(END)) is END


def test_c9_route_accepts_names_and_end_and_rejects_unknown_targets():
    @route(targets=["a", END])
    def gate(x):
        return "a"

    assert gate.targets == ("a", END)

    @node(output_name="y")
    def b(x):
        return x

    with pytest.raises(GraphConfigError) as info:
        Graph([gate, b])
    msg = str(info.value)
    assert "'gate'" in msg and "'a'" in msg and "['gate', 'b']" in msg and "How to fix" in msg


def test_c9_gate_targeting_itself_is_rejected():
    @route(targets=["selfish", END])
    def selfish(x):
        return END

    with pytest.raises(GraphConfigError, match="'selfish' targets itself"):
        Graph([selfish])


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "choice,fallback,ran,decision",
    [
        ("a", None, {"a"}, "a"),
        ("b", None, {"b"}, "b"),
        (END, None, set(), END),
        (None, None, set(), None),
        (None, "b", {"b"}, "b"),
        (None, END, set(), END),
    ],
)
async def test_c10_target_runs_end_runs_none_none_takes_fallback(choice, fallback, ran, decision):
    rec = Recorder()
    result = await AsyncRunner().run(
        make_branch_graph(choice, fallback), q=1, event_processors=[rec]
    )
    assert result.status is RunStatus.COMPLETED
    started = {e.node_name for e in rec.of(NodeStartEvent)} - {"src", "pick"}
    assert started == ran
    decisions = rec.of(RouteDecisionEvent)
    assert (
        len(decisions) == 1
        and decisions[0].decision is decision
        or decisions[0].decision == decision
    )


@pytest.mark.asyncio
async def test_c10_target_runs_again_with_unchanged_inputs():
    """C10: a gate can send a node round again even though its inputs did not change."""
    count = {"n": 0}

    @node(output_name="tick")
    def work(seed):
        count["n"] += 1
        return count["n"]

    @route(targets=["work", END])
    def again(tick):
        return "work" if tick < 3 else END

    result = await AsyncRunner().run(Graph([work, again]), seed=0)
    assert count["n"] == 3 and result["tick"] == 3


@pytest.mark.asyncio
async def test_c11_invalid_route_fails_run_with_message():
    rec = Recorder()
    result = await AsyncRunner().run(
        make_branch_graph("nowhere"), q=1, event_processors=[rec], error_handling="continue"
    )
    assert result.status is RunStatus.FAILED
    assert isinstance(result.error, InvalidRouteError)
    msg = str(result.error)
    assert "'pick'" in msg and "'nowhere'" in msg and "'a'" in msg and "END" in msg
    assert "How to fix" in msg
    with pytest.raises(InvalidRouteError):
        await AsyncRunner().run(make_branch_graph(42), q=1)


@pytest.mark.asyncio
async def test_c12_one_route_decision_event_per_decision_not_in_values():
    rec = Recorder()
    result = await AsyncRunner().run(make_branch_graph("a"), q=1, event_processors=[rec])
    events = rec.of(RouteDecisionEvent)
    assert [(e.node_name, e.decision) for e in events] == [("pick", "a")]
    assert set(result.values) == {"x", "ra"}
    assert all(not k.startswith("_") for k in result.values)
    assert END not in result.values.values()


def _two_gate_graph():
    """src -> g1(x); mid(x) -> y -> g2(y); both gates target t (which reads x)."""
    runs = []

    @node(output_name="x")
    def src(q):
        return q

    @node(output_name="y")
    def mid(x):
        return x

    @route(targets=["t", END])
    def g1(x):
        return "t"

    @route(targets=["t", END])
    def g2(y):
        return "t"

    @node(output_name="out")
    def t(x):
        runs.append(x)
        return x

    return Graph([src, mid, g1, g2, t]), runs


@pytest.mark.asyncio
async def test_c13_target_waits_while_its_gate_is_ready_and_runs_once():
    graph, runs = _two_gate_graph()
    rec = Recorder()
    await AsyncRunner().run(graph, q=5, event_processors=[rec])
    assert runs == [5]  # once, although two decisions selected it
    step = None
    where = {}
    for e in rec.events:
        if isinstance(e, SuperstepStartEvent):
            step = e.superstep
        elif isinstance(e, NodeStartEvent):
            where[e.node_name] = step
    # g1 decides in superstep 1; t would be ready in 2 but g2 runs there, so t waits.
    assert where == {"src": 0, "mid": 1, "g1": 1, "g2": 2, "t": 3}


def _side_gate_loop(side_choices):
    """A loop driven by `loop_gate`; `side` decides for `t` (outside the loop) each pass."""
    runs = []
    choices = iter(side_choices)

    @node(output_name="n")
    def step(n):
        return n + 1

    @route(targets=["step", END])
    def loop_gate(n):
        return "step" if n < len(side_choices) else END

    @route(targets=["step", "t", END])
    def side(n):
        return next(choices)

    @node(output_name="out")
    def t(n):
        runs.append(n)
        return n

    return Graph([step, loop_gate, side, t]), runs


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "choices,expected",
    [(["t", END], []), ([END, "t"], [2]), (["t", "t"], [2]), ([None, None], [])],
)
async def test_c13_new_decision_replaces_pending_one(choices, expected):
    graph, runs = _side_gate_loop(choices)
    assert graph.entrypoints == ("step",)
    result = await AsyncRunner().run(graph, n=0)
    assert result.status is RunStatus.COMPLETED
    assert runs == expected


@pytest.mark.asyncio
async def test_c13_gated_node_never_runs_without_decision():
    @node(output_name="x")
    def src(q):
        return q

    @route(targets=["never", END])
    def g(x):
        return END

    @node(output_name="y")
    def never(q):  # its input is a graph input: it is ready at once, but gated
        raise AssertionError("ran without a decision")

    rec = Recorder()
    result = await AsyncRunner().run(Graph([src, g, never]), q=1, event_processors=[rec])
    assert result.status is RunStatus.COMPLETED
    assert "never" not in {e.node_name for e in rec.of(NodeEndEvent)}


def test_c14_async_gate_and_string_end_rejected_at_decoration():
    with pytest.raises(TypeError) as info:

        @route(targets=["a", END])
        async def g(x):
            return "a"

    assert "async" in str(info.value) and "How to fix" in str(info.value)
    with pytest.raises(ValueError) as info2:

        @route(targets=["a", "END"])
        def g2(x):
            return "a"

    assert "END object" in str(info2.value) and "How to fix" in str(info2.value)
    with pytest.raises(ValueError, match="END object"):
        route(targets=["a"], fallback="END")(lambda x: x)
