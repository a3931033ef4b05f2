"""Fixtures for the LLM node tests: fake endpoints, a clean provider environment."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent.parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))  # for `fakes`

from fakes.fixtures import fake_anthropic, fake_openai  # noqa: E402,F401

_ENV = (
    "HYPERGRAPH_PROVIDER",
    "HYPERGRAPH_MAX_TOKENS",
    "HYPERGRAPH_OFFLINE_TOKENS_PER_SECOND",
    "HYPERGRAPH_LLM_RETRIES",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_MODEL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_MODEL",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch):
    """No provider settings leak in from the machine (fakes set their own after this)."""
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(params=["anthropic", "openai"])
def provider_fake(request):
    """(provider name, its fake endpoint), for tests that hold for both providers."""
    name = request.param
    return name, request.getfixturevalue(f"fake_{name}")
