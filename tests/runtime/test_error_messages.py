"""Error messages and names (C42, C56): every refusal says how to fix it, and error types are named as users import them."""

from __future__ import annotations

import pytest

from hypergraph import (
    END,
    AsyncRunner,
    Graph,
    NodeErrorEvent,
    NodeOutputError,
    node,
    route,
)

from .helpers import Recorder, quick


@pytest.mark.asyncio
async def test_c56_messages_outside_the_error_table_also_say_how_to_fix():
    """Section 12 (house rule): RunResult lookups, a reused iter() context, a handle used
    after its block, and a gate returning the string 'END' all say how to fix."""
    runner = AsyncRunner()
    result = await runner.run(Graph([quick]), x=1)
    with pytest.raises(KeyError) as info:
        result["nope"]
    assert "'nope'" in str(info.value) and "How to fix" in str(info.value)

    ctx = runner.iter(Graph([quick]), x=1)
    async with ctx as handle:
        pass
    with pytest.raises(RuntimeError, match="(?s)already entered.*How to fix"):
        async with ctx:
            pass
    with pytest.raises(RuntimeError, match="(?s)outside.*How to fix"):
        await handle.__anext__()

    @route(targets=["quick", END])
    def says_end(x):
        return "END"

    failed = await runner.run(Graph([says_end, quick]), x=1, error_handling="continue")
    msg = str(failed.error)
    assert "'says_end'" in msg and "'END'" in msg and "How to fix" in msg and "END object" in msg


@pytest.mark.asyncio
async def test_c42_error_type_names_as_users_import_them():
    @node(output_name=("a", "b"))
    def bad(x):
        return x

    rec = Recorder()
    res = await AsyncRunner().run(
        Graph([bad]), x=1, event_processors=[rec], error_handling="continue"
    )
    assert isinstance(res.error, NodeOutputError)
    assert rec.of(NodeErrorEvent)[0].error_type == "hypergraph.NodeOutputError"
