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
