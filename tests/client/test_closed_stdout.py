"""A closed stdout ends a client program quietly and stops its run.

When the reader of stdout goes away (`... | head -c 200`), the next write raises
BrokenPipeError. The `hypergraph-grpc run` command then ends quietly with 141
(128 + SIGPIPE, as a Unix tool killed by SIGPIPE); the README's Python example
ends quietly with 1, as the Python docs advise. In both, leaving the stream
cancels the call and the server stops the run.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from hg_client_support import ROOT, SLOW_ARGS, cli_argv, new_id

from hypergraph_grpc.client import Client
from tests.support.server_process import ServerProcess, wait_until_free

README_EXAMPLE = re.compile(r"From Python.*?```python\n(.*?)```", re.S)


def pipe_into_head(argv: list[str], size: int) -> tuple[bytes, bytes, int]:
    """Run `argv | head -c size`: what head showed, argv's stderr and exit code."""
    writer = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    head = subprocess.Popen(["head", "-c", str(size)], stdin=writer.stdout, stdout=subprocess.PIPE)
    writer.stdout.close()  # only `head` reads the pipe now: its exit closes it
    try:
        shown, _ = head.communicate(timeout=60)
        _, err = writer.communicate(timeout=60)
    finally:
        for proc in (writer, head):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return shown, err, writer.returncode


def test_cli_run_ends_quietly_with_141_and_stops_the_run(target):
    workflow_id = new_id("pipe")
    argv = cli_argv("run", "tokens", *SLOW_ARGS, "--workflow-id", workflow_id, target=target)
    shown, err, code = pipe_into_head(argv, 200)
    assert len(shown) == 200 and shown.startswith(b"s0 s1 ")
    assert code == 141, err
    assert b"Traceback" not in err and b"BrokenPipeError" not in err, err
    with Client(target) as client:  # the run streamed for minutes; the id is free again
        assert wait_until_free(client, workflow_id).completed


@pytest.fixture(scope="module")
def slow_demo_server() -> Iterator[ServerProcess]:
    """The demo graphs with the offline model at 5 tokens/s: a chat answer lasts ~12 s."""
    env = {"HYPERGRAPH_PROVIDER": "offline", "HYPERGRAPH_OFFLINE_TOKENS_PER_SECOND": "5"}
    with ServerProcess(env=env) as server:
        yield server


def test_readme_example_ends_quietly_and_stops_the_run(slow_demo_server, tmp_path):
    code = README_EXAMPLE.search((ROOT / "README.md").read_text()).group(1)
    assert '"127.0.0.1:50051"' in code
    program = tmp_path / "chat.py"
    program.write_text(code.replace('"127.0.0.1:50051"', repr(slow_demo_server.target)))
    shown, err, exit_code = pipe_into_head([sys.executable, str(program)], 20)
    assert len(shown) == 20
    assert exit_code == 1, err
    assert b"Traceback" not in err and b"BrokenPipeError" not in err, err
    give_up = time.monotonic() + 30
    while not re.search(r"run ended .*graph=chat .*status=STOPPED", slow_demo_server.log()):
        assert "status=COMPLETED" not in slow_demo_server.log(), "the run was not stopped"
        assert time.monotonic() < give_up, slow_demo_server.log()
        time.sleep(0.05)
