"""A program that only calls a server, as a backend with the base dependencies would.

``python caller_program.py HOST:PORT`` uses every call of both clients and the
CLI's client commands (graphs, runs, run, stop) against a server with the test
graphs, then prints, as its last line, a JSON object: ``loaded``, the modules it
imported that a caller of the service must not need (the runtime, the server
side of hypergraph_grpc, the LLM SDKs, grpc's health and reflection services),
and ``installed``, which of those third-party packages the interpreter could
import at all. test_client_dependencies.py runs it with the interpreter under test.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys

import grpc  # noqa: F401  (when installed, grpc itself imports grpc_health and grpc_reflection)

LOADED_BY_GRPC = set(sys.modules)

from hypergraph_grpc import cli  # noqa: E402
from hypergraph_grpc.client import (  # noqa: E402
    AsyncClient,
    Client,
    RunFailedError,
    StreamingChunk,
)

THIRD_PARTY = ("anthropic", "openai", "grpc_health", "grpc_reflection")
# hypergraph_grpc itself and these parts of it (with their submodules) are the client's.
NEEDED_OWN = (
    "hypergraph_grpc.client",
    "hypergraph_grpc.gen",
    "hypergraph_grpc.values",
    "hypergraph_grpc.cli",
)
SLOW = {"count": 100_000, "delay_ms": 5}


def not_needed(module: str) -> bool:
    top = module.partition(".")[0]
    if top == "hypergraph_grpc":
        own = module == top or any(module == o or module.startswith(f"{o}.") for o in NEEDED_OWN)
        return not own
    return top == "hypergraph" or top in THIRD_PARTY


def use_sync_client(target: str) -> None:
    with Client(target) as client:
        assert {"tokens", "add", "fail"} <= {g.name for g in client.list_graphs()}
        assert client.run("add", {"a": 2, "b": 40})["sum"] == 42
        with client.iter("tokens", {"count": 3}) as events:
            text = "".join(e.chunk for e in events if isinstance(e, StreamingChunk))
        assert text == "tok0 tok1 tok2 ", text
        events = client.iter("tokens", SLOW, workflow_id="caller-sync")
        next(events)
        assert "caller-sync" in {r.workflow_id for r in client.list_runs()}
        assert client.stop("caller-sync", {"kind": "user_stop"}).found
        for _ in events:
            pass
        assert events.result.stopped, events.result


async def use_async_client(target: str) -> None:
    async with AsyncClient(target) as client:
        assert (await client.run("add", {"a": 1, "b": 2}))["sum"] == 3
        tokens = [t async for t in client.stream_text("tokens", {"count": 2})]
        assert "".join(tokens) == "tok0 tok1 ", tokens
        try:
            async for _ in client.stream_text("fail", {"message": "boom"}):
                pass
            raise AssertionError("a FAILED run ended its text stream quietly")
        except RunFailedError as err:
            assert err.result.failed
        async with client.iter("tokens", SLOW, workflow_id="caller-async") as events:
            await events.__anext__()
            assert await client.stop("caller-async", grace=1)
            async for _ in events:
                pass
        assert events.result.stopped, events.result


def use_cli(target: str) -> None:
    assert cli.main(["graphs", "--target", target]) == cli.EXIT_OK
    assert cli.main(["runs", "--target", target]) == cli.EXIT_OK
    assert cli.main(["run", "add", "-i", "a=1", "-i", "b=2", "--target", target]) == cli.EXIT_OK
    assert cli.main(["stop", "caller-none", "--target", target]) == cli.EXIT_FAILED


def main(target: str) -> None:
    use_sync_client(target)
    asyncio.run(use_async_client(target))
    use_cli(target)
    loaded = sorted(m for m in sys.modules if not_needed(m) and m not in LOADED_BY_GRPC)
    installed = [name for name in THIRD_PARTY if importlib.util.find_spec(name) is not None]
    print(json.dumps({"loaded": loaded, "installed": installed}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
