"""The CLI and the server's start line, as a user meets them: real `hypergraph-grpc serve`
and `hypergraph-grpc run chat` subprocesses, fake provider endpoints on loopback."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from fakes import FakeProvider, Script

from tests.support.server_process import ROOT, ServerProcess

TOKENS = [f"t{i} " for i in range(12)]


def _start_line(server: ServerProcess) -> str:
    """The server's `model: ...` log line (bounded wait for the stderr reader thread)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for line in list(server.stderr):
            if "model: " in line:
                return line
        time.sleep(0.02)
    raise AssertionError(f"no 'model:' line in the server log:\n{server.log()}")


def _cli_run(target: str, *args: str) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "hypergraph_grpc.cli", "run", "chat", "--target", target, *args]
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=60)


@pytest.fixture
def fakes():
    anthropic, openai = FakeProvider("anthropic").start(), FakeProvider("openai").start()
    for fake in (anthropic, openai):
        fake.script = Script(tokens=list(TOKENS))
    yield anthropic, openai
    anthropic.stop()
    openai.stop()


def test_without_a_key_the_server_announces_the_offline_model_and_run_chat_uses_it():
    """No API key anywhere: the start line says the offline stand-in answers and why; `run chat`
    prints its deterministic answer."""
    server = ServerProcess(env={"HYPERGRAPH_OFFLINE_TOKENS_PER_SECOND": "0"})
    try:
        assert "offline stand-in (no API key set" in _start_line(server)
        done = _cli_run(server.target, "-i", "prompt=hello there")
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith('[offline stand-in] You asked: "hello there"'), done.stdout


def test_run_chat_provider_flag_picks_the_model(fakes):
    """Keys and base URLs in the server's environment: the start line names the default provider
    and its base URL; `--provider anthropic|openai|offline` each answer the same `run chat`."""
    anthropic, openai = fakes
    env = {**anthropic.env(), **openai.env(), "HYPERGRAPH_OFFLINE_TOKENS_PER_SECOND": "0"}
    server = ServerProcess(env=env)
    try:
        line = _start_line(server)
        assert "model: anthropic" in line and anthropic.base_url in line, line
        outputs = {
            provider: _cli_run(server.target, "-i", "prompt=count", "--provider", provider)
            for provider in ("anthropic", "openai", "offline")
        }
    finally:
        server.stop()
    for provider, done in outputs.items():
        assert done.returncode == 0, f"{provider}: {done.stderr}"
    assert outputs["anthropic"].stdout.startswith("".join(TOKENS))
    assert outputs["openai"].stdout.startswith("".join(TOKENS))
    assert outputs["offline"].stdout.startswith('[offline stand-in] You asked: "count"')
    assert len(anthropic.requests) == 1 and len(openai.requests) == 1
