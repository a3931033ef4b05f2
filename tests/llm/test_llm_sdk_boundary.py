"""The project uses the provider SDKs only through their public, documented surface.

SDK exception constructors change between releases (a new required argument breaks
every hand-built instance), and private attributes change without notice. So the
service never builds an SDK's exception and never reads or writes an SDK object's
private attributes: provider failures it detects itself are its own types
(``StreamErrorEvent``, ``ProviderError``). This test reads the source so that a new
violation fails before an upstream release exposes it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "hypergraph_grpc"
SDKS = ("anthropic", "openai", "httpx")


def _sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "gen" not in p.relative_to(PACKAGE).parts)


def _sdk_names(tree: ast.AST) -> dict[str, str]:
    """Local name -> 'sdk.attr' for every name imported from an SDK."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in SDKS:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in SDKS:
                    names[(alias.asname or alias.name).split(".")[0]] = alias.name
    return names


def _called_name(call: ast.Call) -> str:
    parts = []
    func = call.func
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        parts.append(func.id)
    return ".".join(reversed(parts))


def _built_exceptions(source: str) -> list[str]:
    tree = ast.parse(source)
    sdk = _sdk_names(tree)
    built = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _called_name(node)
            root = name.split(".")[0]
            if root in sdk and (name.endswith(("Error", "Exception")) or "Error" in sdk[root]):
                built.append(f"line {node.lineno}: {name}(...)")
    return built


def _private_attributes(source: str) -> list[str]:
    tree = ast.parse(source)
    sdk = _sdk_names(tree)
    private = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            if node.attr.startswith("__"):
                continue
            base = node.value
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name) and base.id in sdk:
                private.append(f"line {node.lineno}: .{node.attr}")
    return private


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_sdk_exception_is_constructed(path: Path) -> None:
    assert not _built_exceptions(path.read_text()), path.name


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_private_sdk_attribute_is_used(path: Path) -> None:
    assert not _private_attributes(path.read_text()), path.name


def test_the_scan_flags_what_it_forbids() -> None:
    """The scan is not vacuous: both patterns it exists to forbid are reported."""
    built = "from openai import APIError\nraise APIError(message='x', request=None, body=None)\n"
    assert _built_exceptions(built) == ["line 2: APIError(...)"]
    assert _built_exceptions("import anthropic\nraise anthropic.RateLimitError('x')\n")
    assert _private_attributes("import openai\nopenai._base_client.x = 1\n")
