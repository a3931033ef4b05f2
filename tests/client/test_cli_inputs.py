"""How the CLI turns `-i KEY=VALUE` into an input value.

VALUE is JSON when it parses (42, true, [1, 2], "quoted"), else the text itself.
For an input the graph declares `str`, the CLI keeps the text as typed (it reads
the input types with ListGraphs), so `-i prompt=42` sends "42", not the number
42 that a `str` input refuses. Inputs of other types still parse as JSON.
"""

from __future__ import annotations

import pytest
from hg_client_support import cli

from hypergraph_grpc.cli import parse_assignments


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("n=42", {"n": 42}),
        ("x=1.5", {"x": 1.5}),
        ("b=true", {"b": True}),
        ("l=[1, 2]", {"l": [1, 2]}),
        ("s=hello world", {"s": "hello world"}),
        ("s=007", {"s": "007"}),
        ('q="42"', {"q": "42"}),
        ("e=", {"e": ""}),
        ("k=a=b", {"k": "a=b"}),
    ],
)
def test_cli_input_values_parse_as_json_else_string(item, expected):
    assert parse_assignments([item]) == expected


def test_cli_input_without_equals_is_refused():
    with pytest.raises(ValueError, match="key=value"):
        parse_assignments(["prompt"])


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
