"""pytest fixtures for the fake providers (load with ``pytest_plugins``).

``fake_anthropic`` / ``fake_openai`` start a fresh fake per test and point the
real SDKs at it through the environment (base URL and a fake API key), so a
module-level ``Anthropic()`` created inside the test talks to the fake.
"""

from __future__ import annotations

import pytest

from .provider import FakeProvider

__all__ = ["fake_anthropic", "fake_openai"]


def _serve(kind: str, monkeypatch: pytest.MonkeyPatch):
    fake = FakeProvider(kind).start()
    for name, value in fake.env().items():
        monkeypatch.setenv(name, value)
    return fake


@pytest.fixture
def fake_anthropic(monkeypatch: pytest.MonkeyPatch):
    """A fake Anthropic Messages endpoint; ANTHROPIC_BASE_URL/API_KEY point at it."""
    fake = _serve("anthropic", monkeypatch)
    yield fake
    fake.stop()


@pytest.fixture
def fake_openai(monkeypatch: pytest.MonkeyPatch):
    """A fake OpenAI Responses endpoint; OPENAI_BASE_URL/API_KEY point at it."""
    fake = _serve("openai", monkeypatch)
    yield fake
    fake.stop()
