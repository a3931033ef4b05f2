"""`hypergraph-grpc run ... | head`: when stdout's reader goes away, the command ends
quietly with 141 (128 + SIGPIPE, as a Unix tool killed by SIGPIPE) and the run stops."""

from __future__ import annotations

import subprocess
import sys

from hg_client_support import ROOT, SLOW, new_id

from hypergraph_grpc.client import Client
from tests.support.server_process import wait_until_free


def test_a_closed_stdout_ends_run_quietly_and_stops_the_run(target):
    workflow_id = new_id("pipe")
    inputs = [arg for key, value in SLOW.items() for arg in ("-i", f"{key}={value}")]
    argv = [sys.executable, "-m", "hypergraph_grpc.cli", "run", "tokens", *inputs]
    cli = subprocess.Popen(
        [*argv, "--workflow-id", workflow_id, "--target", target],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    head = subprocess.Popen(["head", "-c", "200"], stdin=cli.stdout, stdout=subprocess.PIPE)
    cli.stdout.close()  # only `head` reads the pipe now: its exit closes it
    try:
        shown, _ = head.communicate(timeout=60)
        _, err = cli.communicate(timeout=60)
    finally:
        for proc in (cli, head):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert len(shown) == 200 and shown.startswith(b"s0 s1 ")
    assert cli.returncode == 141, err
    assert b"Traceback" not in err and b"BrokenPipeError" not in err, err
    with Client(target) as client:  # the run streamed for minutes; the id is free again
        assert wait_until_free(client, workflow_id).completed
