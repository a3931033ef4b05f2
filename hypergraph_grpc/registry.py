"""The graphs a server serves: loaded from ``module:attr`` specs, described once.

A spec's attribute is a ``Graph`` (registered under ``graph.name``) or a dict
name -> Graph. Descriptions (inputs with defaults, types and docs, outputs with
their producing node) are computed at load time, so ListGraphs costs nothing,
and input checks (:func:`check_value`) use the same types.
"""

from __future__ import annotations

import collections.abc as _abc
import dataclasses
import importlib
import inspect
import re
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

from hypergraph import Graph

__all__ = [
    "GraphDescription",
    "GraphRegistry",
    "InputDescription",
    "OutputDescription",
    "RegistryError",
    "check_value",
    "describe",
    "load_spec",
    "load_specs",
]


class RegistryError(ValueError):
    """A --graphs spec that cannot be loaded (names the spec and how to fix it)."""


@dataclasses.dataclass(frozen=True, slots=True)
class InputDescription:
    name: str
    required: bool
    default: Any = None
    type: str = ""
    description: str = ""
    annotation: Any = None


@dataclasses.dataclass(frozen=True, slots=True)
class OutputDescription:
    name: str
    node: str
    description: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class GraphDescription:
    name: str
    description: str
    inputs: tuple[InputDescription, ...]
    outputs: tuple[OutputDescription, ...]
    nodes: tuple[str, ...]

    @property
    def output_names(self) -> frozenset[str]:
        return frozenset(item.name for item in self.outputs)


# --- loading -------------------------------------------------------------------


def load_spec(spec: str) -> dict[str, Graph]:
    """Import ``pkg.module:attr`` and return its graphs by name."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise RegistryError(
            f"--graphs {spec!r} is not of the form 'pkg.module:attr'. "
            "How to fix: name a module and an attribute holding a Graph or a dict of Graphs, "
            "e.g. --graphs hypergraph_grpc.demo.testing:GRAPHS."
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise RegistryError(
            f"--graphs {spec!r}: cannot import module {module_name!r} ({exc}). "
            "How to fix: check the module path and that it is importable (installed or on PYTHONPATH)."
        ) from exc
    try:
        target = getattr(module, attr)
    except AttributeError as exc:
        raise RegistryError(
            f"--graphs {spec!r}: module {module_name!r} has no attribute {attr!r}. "
            "How to fix: name the variable that holds the Graph or dict of Graphs."
        ) from exc
    if isinstance(target, Graph):
        return {target.name: target}
    if isinstance(target, Mapping):
        graphs = {}
        for name, graph in target.items():
            if not isinstance(graph, Graph):
                raise RegistryError(
                    f"--graphs {spec!r}: entry {name!r} is a {type(graph).__name__}, not a Graph. "
                    "How to fix: the dict must map names to hypergraph.Graph objects."
                )
            graphs[str(name)] = graph
        return graphs
    raise RegistryError(
        f"--graphs {spec!r} is a {type(target).__name__}, not a Graph or a dict of Graphs. "
        "How to fix: point at a hypergraph.Graph or a dict name -> Graph."
    )


def load_specs(specs: Iterable[str]) -> dict[str, Graph]:
    """Load several specs; a name served twice is an error naming both specs."""
    graphs: dict[str, Graph] = {}
    origin: dict[str, str] = {}
    for spec in specs:
        for name, graph in load_spec(spec).items():
            if name in graphs and graphs[name] is not graph:
                raise RegistryError(
                    f"graph name {name!r} comes from both {origin[name]!r} and {spec!r}. "
                    "How to fix: serve each name once (rename one graph or drop one spec)."
                )
            graphs[name] = graph
            origin[name] = spec
    return graphs


class GraphRegistry:
    """Registered graphs by name, with their descriptions."""

    def __init__(self, graphs: Mapping[str, Graph]) -> None:
        self._graphs = dict(sorted(graphs.items()))
        self._descriptions = {name: describe(name, g) for name, g in self._graphs.items()}

    def get(self, name: str) -> Graph | None:
        return self._graphs.get(name)

    def description(self, name: str) -> GraphDescription:
        return self._descriptions[name]

    def names(self) -> list[str]:
        return list(self._graphs)

    def descriptions(self) -> list[GraphDescription]:
        return list(self._descriptions.values())

    def __len__(self) -> int:
        return len(self._graphs)


# --- describing ------------------------------------------------------------------


def describe(name: str, graph: Graph) -> GraphDescription:
    nodes = list(graph.nodes.values())
    defaults = _graph_defaults(graph, nodes)
    annotations = _graph_input_types(graph, nodes)
    docs = _input_docs(nodes)
    required = list(graph.inputs.required)
    optional = list(graph.inputs.optional)
    inputs = [
        InputDescription(
            name=n,
            required=n in required,
            default=defaults.get(n),
            type=_type_text(annotations.get(n)),
            description=docs.get(n, ""),
            annotation=annotations.get(n),
        )
        for n in required + optional
    ]
    outputs = []
    for node in nodes:
        for output in getattr(node, "outputs", ()) or ():
            outputs.append(OutputDescription(output, node.name, _first_line(_doc(node))))
    return GraphDescription(
        name=name,
        description=_graph_doc(graph, nodes),
        inputs=tuple(inputs),
        outputs=tuple(outputs),
        nodes=tuple(node.name for node in nodes),
    )


def _doc(node: Any) -> str:
    func = getattr(node, "func", None)
    return inspect.getdoc(func) or "" if func is not None else ""


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0].strip() if text.strip() else ""


def _graph_doc(graph: Graph, nodes: list[Any]) -> str:
    own = getattr(graph, "description", None) or getattr(graph, "doc", None)
    if isinstance(own, str) and own:
        return own
    lines = [(node.name, _first_line(_doc(node))) for node in nodes]
    if len(lines) == 1:
        return lines[0][1]
    return "; ".join(f"{n}: {line}" if line else n for n, line in lines)


def _graph_defaults(graph: Graph, nodes: list[Any]) -> dict[str, Any]:
    defaults = getattr(graph, "defaults", None)
    if isinstance(defaults, Mapping):
        return dict(defaults)
    merged: dict[str, Any] = {}
    for node in nodes:
        merged.update(getattr(node, "defaults", None) or {})
    return merged


def _graph_input_types(graph: Graph, nodes: list[Any]) -> dict[str, Any]:
    known = getattr(graph, "input_types", None)
    if isinstance(known, Mapping):
        return dict(known)
    found: dict[str, Any] = {}
    for node in nodes:
        func = getattr(node, "func", None)
        if func is None:
            continue
        try:
            hints = typing.get_type_hints(func)
        except Exception:  # unresolvable forward refs: fall back to raw annotations
            hints = dict(getattr(func, "__annotations__", {}) or {})
        for name in getattr(node, "inputs", ()) or ():
            if name in hints and name not in found:
                found[name] = hints[name]
    return found


_PARAM_SPHINX = re.compile(r"^\s*:param\s+(?:[\w\[\], .|]+\s+)?(\w+)\s*:\s*(.+)$")
_PARAM_GOOGLE = re.compile(r"^\s{2,}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.+)$")


def _input_docs(nodes: list[Any]) -> dict[str, str]:
    """Parameter docs from node docstrings (Google ``Args:`` or Sphinx ``:param x:``)."""
    docs: dict[str, str] = {}
    for node in nodes:
        func = getattr(node, "func", None)
        raw = getattr(func, "__doc__", None) or ""
        in_args = False
        for line in raw.expandtabs().splitlines():
            stripped = line.strip()
            match = _PARAM_SPHINX.match(line)
            if match:
                docs.setdefault(match[1], match[2].strip())
                continue
            if stripped in ("Args:", "Arguments:", "Parameters:"):
                in_args = True
                continue
            if in_args:
                match = _PARAM_GOOGLE.match(line)
                if match:
                    docs.setdefault(match[1], match[2].strip())
                elif stripped.endswith(":") and " " not in stripped:
                    in_args = False  # next section (Returns:, Raises:)
    return docs


def _type_text(annotation: Any) -> str:
    if annotation is None or annotation is inspect.Parameter.empty:
        return ""
    if isinstance(annotation, str):
        return annotation
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return (
            annotation.__qualname__
            if annotation.__module__ == "builtins"
            else (f"{annotation.__module__}.{annotation.__qualname__}")
        )
    return str(annotation).replace("typing.", "")


# --- checking ------------------------------------------------------------------------

_SIMPLE_NAMES = {
    "str": str,
    "int": int,
    "float": float,
    "bool": bool,
    "list": list,
    "dict": dict,
    "tuple": tuple,
    "set": set,
}


def check_value(value: Any, annotation: Any) -> bool:
    """False only when ``value`` (as decoded from a Struct) surely cannot fit ``annotation``.

    Unknown or rich annotations (classes, protocols, TypeVars) accept anything: the
    node sees the plain value and decides.
    """
    if annotation is None or annotation is inspect.Parameter.empty or annotation is Any:
        return True
    if isinstance(annotation, str):
        simple = _SIMPLE_NAMES.get(annotation.strip())
        return True if simple is None else check_value(value, simple)
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        return any(check_value(value, arg) for arg in typing.get_args(annotation))
    if origin is typing.Literal:
        return value in typing.get_args(annotation)
    if origin is typing.Annotated:
        return check_value(value, typing.get_args(annotation)[0])
    if origin is not None:
        annotation = origin
    if annotation is type(None):
        return value is None
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    if annotation in (list, tuple, set, frozenset) or annotation in _ABC_SEQUENCES:
        return isinstance(value, list)
    if annotation is dict or annotation in _ABC_MAPPINGS:
        return isinstance(value, dict)
    return True


_ABC_SEQUENCES = (_abc.Sequence, _abc.MutableSequence, _abc.Iterable, _abc.Collection, _abc.Set)
_ABC_MAPPINGS = (_abc.Mapping, _abc.MutableMapping)
