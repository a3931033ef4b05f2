"""JSON-like Python values <-> google.protobuf Struct/Value, for the client side.

The client sends plain JSON-like values (dict, list, str, int, float, bool,
None) and gets the same back. Struct numbers are doubles on the wire, so an
integral number within 2^53 comes back as an ``int`` (``{"sum": 42}`` stays
``42``, never ``42.0``), the same rule as the server's codec. Anything else is
refused with the path of the offending value, never silently dropped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from google.protobuf import struct_pb2

__all__ = ["struct_to_dict", "value_to_python", "dict_to_struct", "python_to_value"]

_MAX_EXACT = 2**53


def struct_to_dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    """Return the native dict of a Struct (integral numbers as int)."""
    return {key: value_to_python(value) for key, value in struct.fields.items()}


def value_to_python(value: struct_pb2.Value) -> Any:
    """Return the native value of one google.protobuf.Value."""
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return value.string_value
    if kind == "number_value":
        return _number(value.number_value)
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        return struct_to_dict(value.struct_value)
    if kind == "list_value":
        return [value_to_python(item) for item in value.list_value.values]
    return None  # null_value, or an unset Value


def _number(number: float) -> int | float:
    # Why: Struct has only doubles; ints must come back as ints.
    if number.is_integer() and abs(number) <= _MAX_EXACT:
        return int(number)
    return number


def dict_to_struct(values: Mapping[str, Any] | None, *, path: str = "values") -> struct_pb2.Struct:
    """Return a Struct holding `values`; TypeError names any value it cannot hold."""
    struct = struct_pb2.Struct()
    if values is None:
        return struct
    if not isinstance(values, Mapping):
        raise TypeError(
            f"{path} must be a dict of input name -> value, got {type(values).__name__}"
        )
    for key, item in values.items():
        if not isinstance(key, str):
            raise TypeError(f"{path} keys must be str, got {key!r}; use str keys")
        _fill(struct.fields[key], item, f"{path}.{key}")
    return struct


def python_to_value(item: Any, *, path: str = "value") -> struct_pb2.Value:
    """Return a google.protobuf.Value holding the JSON-like `item`."""
    value = struct_pb2.Value()
    _fill(value, item, path)
    return value


def _fill(value: struct_pb2.Value, item: Any, path: str) -> None:
    if item is None:
        value.null_value = struct_pb2.NULL_VALUE
    elif isinstance(item, bool):  # before int: bool is an int subclass
        value.bool_value = item
    elif isinstance(item, int):
        if abs(item) > _MAX_EXACT:
            raise TypeError(
                f"{path}={item} does not fit a protobuf number exactly (|n| > 2^53); "
                "send it as a string"
            )
        value.number_value = item
    elif isinstance(item, float):
        if not math.isfinite(item):
            raise TypeError(f"{path}={item} is not a finite number; JSON has no NaN/Infinity")
        value.number_value = item
    elif isinstance(item, str):
        value.string_value = item
    elif isinstance(item, Mapping):
        value.struct_value.CopyFrom(dict_to_struct(item, path=path))
    elif isinstance(item, list | tuple):
        list_value = value.list_value
        list_value.SetInParent()  # an empty list must still be a list, not null
        for index, element in enumerate(item):
            _fill(list_value.values.add(), element, f"{path}[{index}]")
    else:
        raise TypeError(
            f"{path} has type {type(item).__name__}, which a protobuf Struct cannot hold; "
            "send JSON-like values (dict, list, str, int, float, bool, None)"
        )
