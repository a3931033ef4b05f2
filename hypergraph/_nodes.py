"""Nodes: ``@node`` / ``FunctionNode``, gates: ``@route`` / ``RouteNode``, and ``END``.

Decorating analyses the function's signature once: its graph inputs (parameter
names after ``rename_inputs``, minus the context parameter), defaults and input
annotations. Calling a node object calls the plain function, unchanged.
"""

from __future__ import annotations

import ast
import inspect
import keyword
import types
import typing
from collections.abc import Callable
from typing import Any

from ._context import NodeContext

__all__ = ["END", "FunctionNode", "RouteNode", "node", "route", "check_name"]


class _EndType:
    """The ``END`` sentinel: a gate returns it to end the path it controls."""

    __slots__ = ()
    _instance: _EndType | None = None

    def __new__(cls) -> _EndType:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "END"

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError(
            "END is a marker, not a function.\nHow to fix: return END itself from the "
            "gate (`return END`), without calling it."
        )

    def __reduce__(self) -> str:
        return "END"

    def __copy__(self) -> _EndType:
        return self

    def __deepcopy__(self, memo: dict) -> _EndType:
        return self


END = _EndType()


def check_name(kind: str, value: Any, owner: str, fix: str, exc: type = ValueError) -> None:
    """Reject names that cannot be graph names: non-identifiers, keywords, ``_x``, ``END``."""
    problem = None
    if not isinstance(value, str):
        problem = f"{kind} {value!r} of {owner} is not a string"
    elif not value.isidentifier():
        problem = f"{kind} {value!r} of {owner} is not a Python identifier"
    elif keyword.iskeyword(value):
        problem = f"{kind} {value!r} of {owner} is a Python keyword"
    elif value.startswith("_"):
        problem = f"{kind} {value!r} of {owner} starts with '_' (reserved for the runtime)"
    elif value == "END":
        problem = f"{kind} 'END' of {owner} is reserved for the END marker"
    if problem:
        raise exc(f"{problem}.\nHow to fix: {fix}")


# --- context parameter detection ------------------------------------------------


def _ast_is_ctx(expr: ast.expr) -> bool:
    if isinstance(expr, ast.Name):
        return expr.id == "NodeContext"
    if isinstance(expr, ast.Attribute):
        return expr.attr == "NodeContext"
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return _string_is_ctx(expr.value)
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.BitOr):
        return _only_ctx_and_none(_flatten_or(expr))
    if isinstance(expr, ast.Subscript):
        head = expr.value
        head_name = head.id if isinstance(head, ast.Name) else getattr(head, "attr", None)
        inner = expr.slice
        if head_name == "Optional":
            return _ast_is_ctx(inner)
        if head_name == "Union":
            parts = list(inner.elts) if isinstance(inner, ast.Tuple) else [inner]
            return _only_ctx_and_none(parts)
    return False


def _flatten_or(expr: ast.expr) -> list[ast.expr]:
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.BitOr):
        return _flatten_or(expr.left) + _flatten_or(expr.right)
    return [expr]


def _is_none_ast(expr: ast.expr) -> bool:
    return (isinstance(expr, ast.Constant) and expr.value is None) or (
        isinstance(expr, ast.Name) and expr.id == "None"
    )


def _only_ctx_and_none(parts: list[ast.expr]) -> bool:
    rest = [p for p in parts if not _is_none_ast(p)]
    return len(rest) == 1 and _ast_is_ctx(rest[0])


def _string_is_ctx(text: str) -> bool:
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        return False
    return _ast_is_ctx(tree.body)


def _is_ctx_annotation(ann: Any) -> bool:
    """True for ``NodeContext``, its string forms and its optional forms."""
    if ann is inspect.Parameter.empty:
        return False
    if isinstance(ann, str):
        return _string_is_ctx(ann)
    if isinstance(ann, typing.ForwardRef):  # Optional["NodeContext"] holds one
        return _string_is_ctx(ann.__forward_arg__)
    if isinstance(ann, type):
        return issubclass(ann, NodeContext)
    origin = typing.get_origin(ann)
    if origin is typing.Union or origin is types.UnionType:
        rest = [a for a in typing.get_args(ann) if a is not type(None)]
        return len(rest) == 1 and _is_ctx_annotation(rest[0])
    return False


def _is_ctx_alias(ann: Any, func: Callable) -> bool:
    """A string annotation naming NodeContext under another name (``import ... as Ctx``)."""
    if not isinstance(ann, str) or not ann.strip().isidentifier():
        return False
    value = getattr(func, "__globals__", {}).get(ann.strip())
    return isinstance(value, type) and issubclass(value, NodeContext)


def _resolve_annotation(ann: Any, func: Callable) -> Any:
    """The annotation as an object when a string one can be evaluated, else as given."""
    if ann is inspect.Parameter.empty:
        return None
    if isinstance(ann, str):
        try:
            return eval(ann, getattr(func, "__globals__", {}))  # noqa: S307 - as typing.get_type_hints does
        except Exception:
            return ann
    return ann


# --- signature analysis ---------------------------------------------------------


def _check_function(func: Any, decorator: str) -> None:
    what = getattr(func, "__name__", None) or repr(func)
    if isinstance(func, (FunctionNode, RouteNode)):
        raise TypeError(
            f"{what!r} is already a node.\nHow to fix: decorate the plain function only once."
        )
    if not (inspect.isfunction(func) or inspect.ismethod(func)):
        raise TypeError(
            f"@{decorator} needs a function, got {type(func).__name__} {what!r}.\n"
            f"How to fix: apply @{decorator} to a `def` or `async def` function."
        )
    if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
        raise TypeError(
            f"{what!r} is a generator function; generator nodes are not supported.\n"
            "How to fix: take `ctx: NodeContext`, emit each piece with ctx.stream(piece), "
            "and return the final value."
        )


class _Signature:
    """A function's graph inputs, call mapping, defaults, annotations and context parameter."""

    def __init__(self, func: Callable, owner: str, rename_inputs: dict | None) -> None:
        sig = inspect.signature(func)
        rename = dict(rename_inputs or {})
        unknown = [p for p in rename if p not in sig.parameters]
        if unknown:
            raise ValueError(
                f"rename_inputs of {owner} names {unknown}, which are not parameters of the "
                f"function (it has {list(sig.parameters)}).\nHow to fix: use the function's "
                "own parameter names as the keys."
            )
        self.ctx_param: str | None = None
        params: list[tuple[str, str]] = []
        defaults: dict[str, Any] = {}
        annotations: dict[str, Any] = {}
        for p in sig.parameters.values():
            if _is_ctx_annotation(p.annotation) or _is_ctx_alias(p.annotation, func):
                if self.ctx_param is not None:
                    raise TypeError(
                        f"{owner} has two NodeContext parameters ({self.ctx_param!r} and "
                        f"{p.name!r}).\nHow to fix: keep one `ctx: NodeContext` parameter."
                    )
                if p.name in rename:
                    raise ValueError(
                        f"rename_inputs of {owner} renames its NodeContext parameter "
                        f"{p.name!r}.\nHow to fix: only rename graph inputs."
                    )
                self.ctx_param = p.name
                continue
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY):
                raise TypeError(
                    f"{owner} has parameter {p.name!r} of kind {p.kind.description}; node "
                    "inputs are matched by name.\nHow to fix: use ordinary named parameters."
                )
            name = rename.get(p.name, p.name)
            check_name("input", name, owner, "rename the parameter or use rename_inputs=")
            if name in annotations:
                raise ValueError(
                    f"{owner} has two parameters named {name!r} after rename_inputs.\n"
                    "How to fix: give each parameter its own input name."
                )
            params.append((p.name, name))
            annotations[name] = _resolve_annotation(p.annotation, func)
            if p.default is not inspect.Parameter.empty:
                defaults[name] = p.default
        self.params = tuple(params)
        self.inputs = tuple(name for _, name in params)
        self.defaults = defaults
        self.annotations = annotations


def _normalise_outputs(output_name: Any, owner: str) -> tuple[str, ...]:
    if output_name is None:
        return ()
    if isinstance(output_name, str):
        names: tuple = (output_name,)
    elif isinstance(output_name, (tuple, list)):
        names = tuple(output_name)
    else:
        raise TypeError(
            f"output_name of {owner} must be a string, a tuple of strings or None, "
            f"got {output_name!r}.\nHow to fix: e.g. @node(output_name='answer')."
        )
    for name in names:
        check_name("output name", name, owner, "choose another output_name")
    if len(set(names)) != len(names):
        raise ValueError(
            f"output_name of {owner} repeats a name: {names}.\nHow to fix: use distinct names."
        )
    return names


class _NodeBase:
    """What every node shares: name, function, inputs, defaults, annotations."""

    func: Callable
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    defaults: dict
    is_async: bool

    def _setup(self, func: Callable, name: str | None, rename_inputs: dict | None) -> None:
        self.func = func
        self.name = func.__name__ if name is None else name
        owner = f"node {self.name!r}"
        check_name("node name", self.name, f"function {func.__qualname__!r}", "pass name='...'")
        sig = _Signature(func, owner, rename_inputs)
        self.inputs = sig.inputs
        self.defaults = sig.defaults
        self.input_annotations = sig.annotations
        self.ctx_param = sig.ctx_param
        self._params = sig.params
        self.__doc__ = func.__doc__
        self.__wrapped__ = func

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the plain function: no injection, no validation, no events."""
        return self.func(*args, **kwargs)


class FunctionNode(_NodeBase):
    """A function wired into graphs by the names of its parameters and outputs."""

    def __init__(
        self,
        func: Callable,
        output_name: str | tuple[str, ...] | None = None,
        *,
        name: str | None = None,
        rename_inputs: dict[str, str] | None = None,
    ) -> None:
        _check_function(func, "node")
        self._setup(func, name, rename_inputs)
        self.output_name = output_name
        self.outputs = _normalise_outputs(output_name, f"node {self.name!r}")
        # A single string output stores the return value as is; a tuple unpacks.
        self.unpack = isinstance(output_name, (tuple, list))
        self.is_async = inspect.iscoroutinefunction(func)

    def __repr__(self) -> str:
        kind = "async " if self.is_async else ""
        return f"<{kind}FunctionNode {self.name}({', '.join(self.inputs)}) -> {self.outputs}>"


def node(
    output_name: Any = None,
    *,
    name: str | None = None,
    rename_inputs: dict[str, str] | None = None,
) -> Any:
    """Turn a function into a ``FunctionNode``; works bare (``@node``) or called."""
    if callable(output_name) and not isinstance(output_name, (str, tuple, list)):
        return FunctionNode(output_name, None, name=name, rename_inputs=rename_inputs)

    def decorate(func: Callable) -> FunctionNode:
        return FunctionNode(func, output_name, name=name, rename_inputs=rename_inputs)

    return decorate


def _normalise_targets(targets: Any, fallback: Any, owner: str) -> tuple[tuple, Any]:
    if isinstance(targets, (str, _EndType)) or not hasattr(targets, "__iter__"):
        raise TypeError(
            f"targets of {owner} must be a list of node names and/or END, got {targets!r}.\n"
            "How to fix: e.g. @route(targets=['retry', END])."
        )
    items = list(targets)
    if fallback is not None:
        items.append(fallback)
    out: list = []
    for t in items:
        if t == "END" and isinstance(t, str):
            raise ValueError(
                f"{owner} lists the string 'END' as a target.\nHow to fix: use the END "
                "object: `from hypergraph import END` and targets=[..., END]."
            )
        if t is not END and not isinstance(t, str):
            raise TypeError(
                f"{owner} has target {t!r}, which is neither a node name nor END.\n"
                "How to fix: list node names (strings) and/or END."
            )
        if t not in out:
            out.append(t)
    if not out:
        raise ValueError(
            f"{owner} has no targets.\nHow to fix: list the node names it may choose, and END."
        )
    return tuple(out), fallback


class RouteNode(_NodeBase):
    """A gate: a sync function returning one of its target names, ``END`` or ``None``."""

    def __init__(
        self,
        func: Callable,
        targets: Any,
        *,
        fallback: Any = None,
        name: str | None = None,
    ) -> None:
        _check_function(func, "route")
        owner = f"gate {getattr(func, '__name__', func)!r}"
        if inspect.iscoroutinefunction(func):
            raise TypeError(
                f"{owner} is an async function; gates run inline on the event loop.\n"
                "How to fix: make the gate a plain `def` that only decides; do the I/O "
                "in a node before it and pass the result as an input."
            )
        label = f"gate {name or getattr(func, '__name__', func)!r}"
        self.targets, self.fallback = _normalise_targets(targets, fallback, label)
        self._setup(func, name, None)
        self.outputs = ()
        self.output_name = None
        self.unpack = False
        self.is_async = False

    def __repr__(self) -> str:
        return f"<RouteNode {self.name}({', '.join(self.inputs)}) -> {list(self.targets)}>"


def route(
    targets: Any = None,
    *,
    fallback: Any = None,
    name: str | None = None,
) -> Callable[[Callable], RouteNode]:
    """Turn a sync function into a ``RouteNode`` gate choosing among ``targets``."""
    if inspect.isfunction(targets):
        raise TypeError(
            "@route needs its targets: @route(targets=['node_a', END]).\n"
            "How to fix: list the node names the gate may return, and END."
        )
    if targets is None:
        raise TypeError("route() missing targets.\nHow to fix: @route(targets=['node_a', END]).")

    def decorate(func: Callable) -> RouteNode:
        return RouteNode(func, targets, fallback=fallback, name=name)

    return decorate
