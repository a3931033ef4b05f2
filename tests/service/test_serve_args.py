"""`serve` flags: ``--graphs`` takes several specs after one flag or the flag
repeated (none: the demo graphs); negative limits are refused."""

from __future__ import annotations

from hypergraph_grpc.cli import build_parser


def parse(*argv: str):
    return build_parser(["serve", *argv]).parse_args(["serve", *argv])


def test_several_specs_after_one_flag():
    args = parse("--graphs", "a.b:C", "d.e:F", "--port", "0")
    assert args.graphs == ["a.b:C", "d.e:F"] and args.port == 0


def test_repeated_flag_still_works():
    args = parse("--graphs", "a.b:C", "--graphs", "d.e:F")
    assert args.graphs == ["a.b:C", "d.e:F"]


def test_no_graphs_means_the_demo_graphs():
    assert parse().graphs is None


def test_negative_limits_are_refused(capsys):
    import pytest

    for flag in ("--max-runs", "--max-streams", "--max-request-bytes", "--drain-seconds"):
        with pytest.raises(SystemExit):
            parse(flag, "-1")
        assert "is negative" in capsys.readouterr().err, flag
    assert parse("--max-runs", "0", "--drain-seconds", "0.5").drain_seconds == 0.5
