"""Section 1: public names and imports."""

import subprocess
import sys

import hypergraph

EXPECTED = [
    "node", "route", "END", "Graph", "InputSpec", "FunctionNode", "RouteNode",
    "AsyncRunner", "RunResult", "RunStatus", "RunHandle", "NodeContext",
    "BaseEvent", "Event", "RunStartEvent", "SuperstepStartEvent", "NodeStartEvent",
    "StreamingChunkEvent", "NodeEndEvent", "NodeErrorEvent", "RouteDecisionEvent",
    "StopRequestedEvent", "RunEndEvent",
    "EventProcessor", "AsyncEventProcessor", "TypedEventProcessor", "error_type_name",
    "HypergraphError", "GraphConfigError", "MissingInputError", "UnknownInputError",
    "NodeOutputError", "InvalidRouteError", "InfiniteLoopError", "WorkflowAlreadyRunningError",
]  # fmt: skip


def test_c1_all_is_exactly_the_public_list_and_every_name_imports():
    assert sorted(hypergraph.__all__) == sorted(EXPECTED)
    assert len(hypergraph.__all__) == len(set(hypergraph.__all__))
    for name in EXPECTED:
        assert getattr(hypergraph, name) is not None
    namespace: dict = {}
    exec("from hypergraph import *", namespace)
    assert set(EXPECTED) <= set(namespace)


CHECK_IMPORTS = r"""
import sys
before = set(sys.modules)
import hypergraph
new = set(sys.modules) - before
outside = sorted(
    m for m in new
    if m.split(".")[0] not in sys.stdlib_module_names and m.split(".")[0] != "hypergraph"
)
print(",".join(outside))
"""


def test_c2_import_loads_only_stdlib_and_the_package():
    out = subprocess.run(
        [sys.executable, "-c", CHECK_IMPORTS], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "", f"non-stdlib modules imported: {out.stdout}"


def test_c2_package_source_never_imports_grpc_or_llm_sdks():
    from pathlib import Path

    pkg = Path(hypergraph.__file__).parent
    for path in pkg.glob("*.py"):
        text = path.read_text()
        for banned in (
            "import grpc",
            "import anthropic",
            "import openai",
            "from grpc",
            "from anthropic",
            "from openai",
        ):
            assert banned not in text, f"{path.name} contains {banned!r}"
