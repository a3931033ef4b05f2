"""The `hypergraph-grpc` CLI in subprocesses against a real server: graphs, run, stop, Ctrl-C."""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess

import pytest
from hg_client_support import ROOT, SLOW_ARGS, cli, cli_argv, new_id


def start_cli(*args: str, target: str) -> subprocess.Popen:
    return subprocess.Popen(
        cli_argv(*args, target=target),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def read_until(stream, needle: bytes) -> bytes:
    """Read a live pipe until `needle` appears (raises at EOF)."""
    seen = b""
    while needle not in seen:
        byte = stream.read(1)
        if not byte:
            raise AssertionError(f"EOF before {needle!r}; got {seen!r}")
        seen += byte
    return seen


def live_run(target: str, act) -> tuple[subprocess.Popen, bytes, str]:
    """`run tokens` slowly under a fresh id; once tokens flow, `act(run, workflow_id)`.

    Then waits for the CLI to end; returns it (ended), its stderr and the workflow id.
    """
    workflow_id = new_id("cli")
    run = start_cli("run", "tokens", *SLOW_ARGS, "--workflow-id", workflow_id, target=target)
    try:
        read_until(run.stdout, b"s1 ")  # tokens arrive while the run is live
        act(run, workflow_id)
        _, err = run.communicate(timeout=30)
    finally:
        run.kill()
    return run, err, workflow_id


def test_graphs_table(target):
    done = cli("graphs", target=target)
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    assert header.split()[:3] == ["GRAPH", "INPUTS", "OUTPUTS"]
    tokens = next(row for row in rows if row.startswith("tokens "))
    assert "count" in tokens and "prefix" in tokens and "text" in tokens


def test_graphs_json(target):
    done = cli("graphs", "--json", target=target)
    graphs = {g["name"]: g for g in json.loads(done.stdout)}
    assert graphs["add"]["outputs"][0]["name"] == "sum"


def test_run_prints_tokens_and_summary(target):
    done = cli("run", "tokens", "-i", "count=5", "-i", "prefix=t", target=target)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "t0 t1 t2 t3 t4 \n"
    assert "COMPLETED" in done.stderr and "workflow wf-" in done.stderr


def test_run_without_tokens_prints_values_with_ints(target):
    done = cli("run", "add", "-i", "a=2", "--json-values", '{"b": 40}', target=target)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"sum": 42} and '"sum": 42' in done.stdout


def test_run_json_prints_the_result(target):
    workflow_id = new_id("cli")
    done = cli(
        "run", "tokens", "-i", "count=2", "--workflow-id", workflow_id, "--json", target=target
    )
    result = json.loads(done.stdout)
    assert result["status"] == "COMPLETED" and result["workflow_id"] == workflow_id
    assert result["values"] == {"text": "tok0 tok1 "}


def test_run_events_json_lines(target):
    done = cli("run", "tokens", "-i", "count=3", "--events", "--json", target=target)
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert events[0]["type"] == "RunStarted" and events[-1]["type"] == "RunEnded"
    # seq advances by the calls a chunk holds (text queued during a write leaves joined)
    steps = [e.get("merged", 1) if e["type"] == "StreamingChunk" else 1 for e in events]
    assert [e["seq"] for e in events] == list(itertools.accumulate(steps))
    assert events[-1]["result"]["status"] == "COMPLETED"


def test_run_events_human_lines(target):
    done = cli("run", "tokens", "-i", "count=2", "--events", target=target)
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert lines[0].startswith("#1 RunStarted") and "RunEnded" in lines[-1]


def test_failed_run_exits_1_with_the_error(target):
    done = cli("run", "fail", "-i", "message=boom", target=target)
    assert done.returncode == 1
    assert "FAILED" in done.stderr and "ValueError: boom" in done.stderr


def test_bad_input_exits_2_with_field_violation(target):
    done = cli("run", "add", "-i", "a=1", target=target)
    assert done.returncode == 2
    assert "INVALID_ARGUMENT" in done.stderr and "values.b" in done.stderr


def test_unknown_graph_exits_2_listing_graphs(target):
    done = cli("run", "no_such_graph", target=target)
    assert done.returncode == 2
    assert "NOT_FOUND" in done.stderr and "tokens" in done.stderr


def test_malformed_input_exits_2(target):
    done = cli("run", "add", "-i", "a", target=target)
    assert done.returncode == 2 and "key=value" in done.stderr


def test_unreachable_server_exits_2_with_hint():
    done = cli("graphs", "--timeout", "5", target="127.0.0.1:1")
    assert done.returncode == 2
    assert "UNAVAILABLE" in done.stderr and "hypergraph-grpc serve" in done.stderr


def test_stop_from_another_process(target):
    def stop_it(run, workflow_id):
        assert run.poll() is None
        stop = cli("stop", workflow_id, "--info", "kind=test", "--grace", "5", target=target)
        assert stop.returncode == 0, stop.stderr
        assert workflow_id in stop.stdout

    run, err, _ = live_run(target, stop_it)
    assert run.returncode == 3
    assert b"STOPPED" in err and b'"kind": "test"' in err


def test_runs_lists_a_live_run_as_a_table_and_as_json(target):
    def list_it(run, workflow_id):
        table = cli("runs", "--graph", "tokens", target=target)
        assert table.returncode == 0, table.stderr
        header, *rows = table.stdout.splitlines()
        assert header.split()[:3] == ["WORKFLOW", "GRAPH", "STATE"]
        assert any(row.split()[:3] == [workflow_id, "tokens", "RUNNING"] for row in rows)
        lines = cli("runs", "--json", target=target).stdout.splitlines()
        listed = {json.loads(line)["workflow_id"]: json.loads(line) for line in lines}
        assert listed[workflow_id]["graph"] == "tokens" and listed[workflow_id]["run_id"]
        stop = cli("stop", workflow_id, "--grace", "5", target=target)
        assert stop.returncode == 0, stop.stderr

    run, _, _ = live_run(target, list_it)
    assert run.returncode == 3


def test_stop_unknown_workflow_exits_1(target):
    done = cli("stop", "no-such-workflow", target=target)
    assert done.returncode == 1 and "no live run" in done.stderr


@pytest.mark.skipif(os.name != "posix", reason="SIGINT delivery")
def test_ctrl_c_stops_the_run(target):
    run, err, workflow_id = live_run(target, lambda run, _: run.send_signal(signal.SIGINT))
    assert run.returncode == 130, err
    assert b"STOPPED" in err and b"user_stop" in err
    assert workflow_id.encode() in err


def test_select_and_provider_shorthand(target):
    done = cli("run", "tokens", "-i", "count=1", "--select", "text", "--json", target=target)
    assert json.loads(done.stdout)["values"] == {"text": "tok0 "}
    # --provider is `-i provider=P`: the add graph has no such input, so the server says so
    done = cli("run", "add", "-i", "a=1", "-i", "b=2", "--provider", "offline", target=target)
    assert done.returncode == 2 and "values.provider" in done.stderr


@pytest.mark.skipif(os.name != "posix", reason="SIGINT delivery")
def test_second_ctrl_c_abandons_at_once(target):
    def interrupt_twice(run, _):
        run.send_signal(signal.SIGINT)
        run.send_signal(signal.SIGINT)

    run, err, _ = live_run(target, interrupt_twice)
    # Either the stop's STOPPED result or the abandoned stream: both are a user stop.
    assert run.returncode == 130, err
    assert b"STOPPED" in err or b"ABANDONED" in err


def test_ctrl_c_while_a_call_waits_exits_130_without_a_traceback():
    """`graphs` against a peer that accepts TCP but never speaks HTTP/2: the call
    waits; Ctrl-C then ends the command quietly with 130."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        target = f"127.0.0.1:{silent.getsockname()[1]}"
        proc = subprocess.Popen(
            cli_argv("graphs", target=target),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            silent.settimeout(30)
            peer, _ = silent.accept()  # the CLI is now inside its ListGraphs call
            with peer:
                proc.send_signal(signal.SIGINT)
                _, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 130, err
    assert b"Traceback" not in err and b"interrupted" in err
