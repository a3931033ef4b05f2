"""CLI audit: `-i KEY=VALUE` for an input declared `str` keeps the text as typed.

`-i prompt=42` used to send the JSON number 42, which the server (rightly) refuses
for a `str` input; the CLI now reads the graph's input types (ListGraphs) and
keeps the raw text for `str` inputs. Other inputs still parse as JSON.
"""

from __future__ import annotations

import subprocess
import sys

from hg_client_support import ROOT


def cli(*args: str, target: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hypergraph_grpc.cli", *args, "--target", target],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_str_input_keeps_numeric_looking_text(target):
    done = cli("run", "tokens", "-i", "count=3", "-i", "prefix=7", target=target)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["70", "71", "72"]


def test_str_input_keeps_json_looking_text(target):
    done = cli("run", "tokens", "-i", "count=1", "-i", "prefix=[x]", target=target)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[x]0"]
    done = cli("run", "tokens", "-i", "count=1", "-i", "prefix=true", target=target)
    assert done.stdout.split() == ["true0"]


def test_non_str_inputs_still_parse_as_json(target):
    done = cli("run", "add", "-i", "a=2", "-i", "b=40", target=target)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == '{"sum": 42}'
    refused = cli("run", "add", "-i", "a=2", "-i", "b=x", target=target)
    assert refused.returncode == 2 and "values.b" in refused.stderr


def test_ctrl_c_while_a_call_waits_exits_130_without_a_traceback():
    """`graphs` against a peer that accepts TCP but never speaks HTTP/2: the call
    waits; Ctrl-C then ends the command quietly with 130."""
    import signal
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        target = f"127.0.0.1:{silent.getsockname()[1]}"
        proc = subprocess.Popen(
            [sys.executable, "-m", "hypergraph_grpc.cli", "graphs", "--target", target],
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
