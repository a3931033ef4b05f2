"""The value codec: Python values <-> ``google.protobuf.Struct``/``Value``, for both ends.

The service encodes outputs, chunks and usage with it and decodes inputs; the
Python client encodes inputs and decodes answers with the same rules, without
importing the service or the runtime. Values cross the wire as Struct/Value,
whose numbers are doubles. The codec (documented in docs/protocol.md, "Value codec"):

- inbound, an integral number within +/-2**53 becomes an ``int`` (recursively);
- outbound, JSON-like values pass as they are; dataclasses become dicts,
  pydantic models ``model_dump(mode="json")``, enums their ``value``,
  datetime/date/time ISO-8601 strings, bytes standard base64 strings (RFC 4648,
  padded, as in the proto3 JSON mapping), tuples/sets/frozensets lists, UUID,
  Decimal and paths strings, ints beyond +/-2**53 decimal strings (a double
  would round them), non-string dict keys ``str(key)`` for int/float/bool keys;
- anything else raises :class:`EncodeError` naming the value's place and type:
  nothing is silently dropped.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import decimal
import enum
import pathlib
import uuid
from collections.abc import Mapping
from typing import Any

from google.protobuf import struct_pb2

__all__ = [
    "MAX_SAFE_INT",
    "MAX_VALUE_DEPTH",
    "EncodeError",
    "nesting_depth",
    "struct_to_dict",
    "to_plain",
    "to_struct",
    "to_value",
    "type_name",
    "value_to_python",
]

MAX_SAFE_INT = 2**53
# The most objects/arrays one input value may nest. protobuf parsers stop at 100
# message levels (an object costs 3: Value, Struct, map entry); a value this deep
# still parses when it comes back inside Event > RunEnded > RunResult.
MAX_VALUE_DEPTH = 30


class EncodeError(TypeError):
    """A value the codec cannot put on the wire (names where it is and its type)."""

    def __init__(self, path: str, value: object, problem: str | None = None) -> None:
        self.path = path
        self.type_name = type_name(type(value))
        problem = problem or f"is a {self.type_name}, which cannot be encoded as JSON"
        super().__init__(
            f"{path} {problem}. "
            "How to fix: use JSON-like values (str, int, float, bool, None, list, dict with "
            "distinct string keys), a dataclass, a pydantic model, an enum, a datetime or bytes "
            "(see docs/protocol.md, 'Value codec')."
        )


# --- inbound -----------------------------------------------------------------


def struct_to_dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    """A Struct as a plain dict; integral numbers within 2**53 become ints."""
    return {key: value_to_python(value) for key, value in struct.fields.items()}


def value_to_python(value: struct_pb2.Value) -> Any:
    """One Value as a plain Python value (ints restored, recursively)."""
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return value.string_value
    if kind == "number_value":
        number = value.number_value
        if number.is_integer() and -MAX_SAFE_INT <= number <= MAX_SAFE_INT:
            return int(number)
        return number
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        return struct_to_dict(value.struct_value)
    if kind == "list_value":
        return [value_to_python(item) for item in value.list_value.values]
    return None  # null_value, or unset


# --- outbound ------------------------------------------------------------------


def nesting_depth(value: Any) -> int:
    """How many dicts/lists ``value`` nests (a scalar: 0, ``{"a": [1]}``: 2); level by
    level, so no recursion whatever the depth."""
    depth = 0
    level = [value]
    while True:
        containers = [item for item in level if isinstance(item, (dict, list))]
        if not containers:
            return depth
        depth += 1
        level = [
            item
            for container in containers
            for item in (container.values() if isinstance(container, dict) else container)
        ]


def to_plain(obj: Any, path: str = "value") -> Any:
    """``obj`` as JSON-like Python (dict/list/str/number/bool/None) per the codec."""
    kind = type(obj)
    if kind is str or kind is float or kind is bool or obj is None:
        return obj
    if kind is int:
        return obj if -MAX_SAFE_INT <= obj <= MAX_SAFE_INT else str(obj)
    if kind is dict:
        plain = {_key(k, path): to_plain(v, f"{path}.{k}") for k, v in obj.items()}
        if len(plain) != len(obj):
            _raise_key_collision(obj, path)
        return plain
    if kind is list or kind is tuple:
        return [to_plain(item, f"{path}[{i}]") for i, item in enumerate(obj)]
    return _to_plain_slow(obj, path)


def _to_plain_slow(obj: Any, path: str) -> Any:
    # Order matters: enums and bools are ints, pydantic models may be dataclass-like.
    if isinstance(obj, enum.Enum):
        return to_plain(obj.value, path)
    if isinstance(obj, bool):
        return bool(obj)
    if isinstance(obj, int):
        return to_plain(int(obj), path)
    if isinstance(obj, float):
        return float(obj)
    if isinstance(obj, str):
        return str(obj)
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(obj)).decode("ascii")
    if isinstance(obj, (datetime.datetime, datetime.date, datetime.time)):
        return obj.isoformat()
    if isinstance(obj, (uuid.UUID, decimal.Decimal, pathlib.PurePath)):
        return str(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
        return to_plain(fields, path)
    dump = getattr(obj, "model_dump", None)
    if callable(dump) and not isinstance(obj, type):
        return to_plain(dump(mode="json"), path)
    if isinstance(obj, Mapping):
        return to_plain(dict(obj.items()), path)
    if isinstance(obj, (list, tuple)):
        return to_plain(list(obj), path)
    if isinstance(obj, (set, frozenset)):
        items = list(obj)
        try:
            items.sort()
        except TypeError:
            pass  # mixed types: keep iteration order
        return to_plain(items, path)
    raise EncodeError(path, obj)


def _key(key: Any, path: str) -> str:
    if type(key) is str:
        return key
    if isinstance(key, enum.Enum):
        return _key(key.value, path)
    if isinstance(key, (str, int, float, bool)):
        return str(key)
    raise EncodeError(f"{path} key {key!r}", key)


def _raise_key_collision(obj: dict, path: str) -> None:
    """Two keys that become the same string would overwrite each other: refuse, never drop."""
    seen: dict[str, Any] = {}
    for key in obj:
        text = _key(key, path)
        if text in seen:
            raise EncodeError(
                path,
                obj,
                f"has keys {seen[text]!r} and {key!r}, which both become the JSON key {text!r}",
            )
        seen[text] = key


def to_struct(mapping: Mapping[str, Any] | None, path: str = "values") -> struct_pb2.Struct:
    """A mapping as a Struct, through :func:`to_plain` (raises EncodeError)."""
    struct = struct_pb2.Struct()
    if mapping:
        struct.update(to_plain(dict(mapping), path))
    return struct


def _fill_value(target: struct_pb2.Value, plain: Any) -> None:
    if plain is None:
        target.null_value = struct_pb2.NULL_VALUE
    elif plain is True or plain is False:
        target.bool_value = plain
    elif isinstance(plain, str):
        target.string_value = plain
    elif isinstance(plain, (int, float)):
        target.number_value = plain
    elif isinstance(plain, dict):
        target.struct_value.update(plain)
    else:
        target.list_value.extend(plain)


def to_value(obj: Any, path: str = "value") -> struct_pb2.Value:
    """Any codec value as a protobuf Value (raises EncodeError)."""
    value = struct_pb2.Value()
    _fill_value(value, to_plain(obj, path))
    return value


def type_name(cls: type) -> str:
    """A type as users import it, for messages (``int``, ``pkg.mod.Thing``)."""
    module = cls.__module__
    if module == "builtins":
        return cls.__qualname__
    if module.startswith("asyncio."):
        return f"asyncio.{cls.__qualname__}"
    return f"{module}.{cls.__qualname__}"
