"""Run inputs and select (C27, C28, C31): keyword names that clash with the runner's own go in values, a missing seed explains itself, select trims values without pruning execution."""

from __future__ import annotations

import pytest

from hypergraph import (
    END,
    AsyncRunner,
    Graph,
    MissingInputError,
    node,
    route,
)


@pytest.mark.asyncio
async def test_c31_select_limits_values_but_does_not_prune_execution():
    ran = []

    @node(output_name="a")
    def first(x):
        ran.append("first")
        return x + 1

    @node(output_name="b")
    def second(a):
        ran.append("second")
        return a + 1

    @node(output_name="c")
    async def third(b):
        ran.append("third")
        return b + 1

    runner = AsyncRunner()
    result = await runner.run(Graph([first, second, third]), x=0, select=["a"])
    assert result.values == {"a": 1} and ran == ["first", "second", "third"]
    assert (await runner.run(Graph([first, second, third]), x=0, select="c")).values == {"c": 3}
    with pytest.raises(ValueError) as info:
        await runner.run(Graph([first, second, third]), x=0, select=["a", "x"])
    msg = str(info.value)
    assert "'x'" in msg and "['a', 'b', 'c']" in msg and "How to fix" in msg


@pytest.mark.asyncio
async def test_c27_inputs_named_like_runner_keywords_go_in_values():
    """Section 6: keyword inputs cannot use the runner's own keyword names; in
    ``values`` they are ordinary inputs."""

    @node(output_name="out")
    def uses(select, workflow_id, max_iterations):
        return (select, workflow_id, max_iterations)

    values = {"select": "s", "workflow_id": "w", "max_iterations": 3}
    result = await AsyncRunner().run(Graph([uses]), values, workflow_id="real-id")
    assert result["out"] == ("s", "w", 3) and result.workflow_id == "real-id"


@pytest.mark.asyncio
async def test_c28_missing_seed_explains_why_it_is_required_despite_a_default():
    """C28/C56: a seed (produced inside a cycle, read by its entrypoint) is required even
    when the entrypoint gives it a default; the message says so, naming the producer and
    the entrypoint, and how to fix it."""

    @node(output_name="draft")
    def write(topic, feedback=""):
        return topic + feedback

    @node(output_name="feedback")
    def critique(draft):
        return "+"

    @route(targets=["write", END])
    def enough(feedback, draft):
        return END if len(draft) > 3 else "write"

    graph = Graph([write, critique, enough])
    assert graph.inputs.required == ("topic", "feedback")
    with pytest.raises(MissingInputError) as info:
        await AsyncRunner().run(graph, topic="a")
    msg = str(info.value)
    assert "['feedback']" in msg and "seed" in msg and "'critique'" in msg and "'write'" in msg
    assert "How to fix" in msg and "first pass" in msg
