"""`serve` flags: ``--graphs`` takes several specs after one flag or the flag
repeated (none: the demo graphs); negative limits are refused; ``--loop auto``
picks uvloop when it is there."""

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


def test_loop_auto_is_the_default_and_falls_back_to_asyncio_without_uvloop(monkeypatch):
    import sys

    from hypergraph_grpc.serve import _loop_factory

    assert parse().loop == "auto"
    assert _loop_factory("auto") is not None  # uvloop is installed here (make installs it)
    assert _loop_factory("asyncio") is None
    monkeypatch.setitem(sys.modules, "uvloop", None)  # as on a machine without it
    assert _loop_factory("auto") is None
    try:
        _loop_factory("uvloop")
    except ImportError as exc:
        assert "pip install uvloop" in str(exc) and "--loop asyncio" in str(exc)
    else:
        raise AssertionError("--loop uvloop started without uvloop")
