"""Fixtures for the guide examples: fake endpoints and a fresh-import loader.

The guide's examples create their SDK client at import time, so each test
imports them afresh after the fake endpoint's URL and a fake API key are in
the environment.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
for path in (HERE, HERE.parent):  # guide_examples and fakes
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from fakes.fixtures import fake_anthropic, fake_openai  # noqa: E402,F401


@pytest.fixture
def load_example(fake_anthropic, fake_openai):  # noqa: F811
    """load_example("basic") imports guide_examples.basic afresh (after the fakes are up)."""

    def load(name: str):
        for module in [m for m in sys.modules if m.startswith("guide_examples.")]:
            del sys.modules[module]
        return importlib.import_module(f"guide_examples.{name}")

    return load


def pytest_collection_modifyitems(config, items):
    # The guide's examples use claude-sonnet-4-5-20250929, which this anthropic SDK
    # flags as deprecated; the examples are tested as written, so the warning is expected.
    here = str(HERE)
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(
                pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning")
            )
