"""The value codec (docs/protocol.md, "Value codec"): integral numbers come back
as ints; dataclasses, enums, dates, bytes, sets and pydantic models become JSON;
an unencodable value or two keys that become one JSON key are refused with the
value's place and type, never dropped or overwritten."""

from __future__ import annotations

import dataclasses
import datetime
import enum

import pytest
from google.protobuf import struct_pb2

from hypergraph_grpc import convert


def test_ints_come_back_as_ints_recursively():
    struct = struct_pb2.Struct()
    struct.update({"n": 7, "x": 1.5, "l": [1, 2.5, {"k": 3}], "big": 2.0**60, "neg": -4})
    plain = convert.struct_to_dict(struct)
    assert plain == {"n": 7, "x": 1.5, "l": [1, 2.5, {"k": 3}], "big": 2.0**60, "neg": -4}
    assert type(plain["n"]) is int and type(plain["l"][0]) is int
    assert type(plain["l"][2]["k"]) is int
    assert type(plain["big"]) is float  # beyond 2**53: stays a double


class Mood(enum.Enum):
    HAPPY = "happy"


@dataclasses.dataclass
class Pair:
    a: int
    b: tuple


def test_codec_of_non_json_values():
    plain = convert.to_plain(
        {
            "pair": Pair(1, (2, 3)),
            "mood": Mood.HAPPY,
            "at": datetime.datetime(2026, 1, 2, 3, 4, 5),
            "day": datetime.date(2026, 1, 2),
            "raw": b"\x00\xff",
            "set": {3, 1, 2},
            "big": 2**60,
            1: "int key",
        }
    )
    assert plain == {
        "pair": {"a": 1, "b": [2, 3]},
        "mood": "happy",
        "at": "2026-01-02T03:04:05",
        "day": "2026-01-02",
        "raw": "AP8=",
        "set": [1, 2, 3],
        "big": str(2**60),
        "1": "int key",
    }


def test_pydantic_models_use_model_dump():
    pydantic = pytest.importorskip("pydantic")

    class Model(pydantic.BaseModel):
        name: str
        when: datetime.date

    assert convert.to_plain(Model(name="x", when=datetime.date(2026, 5, 6))) == {
        "name": "x",
        "when": "2026-05-06",
    }


def test_unencodable_value_is_reported_with_path_and_type():
    class Thing:
        pass

    with pytest.raises(convert.EncodeError) as info:
        convert.to_plain({"out": [1, Thing()]}, "values")
    message = str(info.value)
    assert "values.out[1]" in message and "Thing" in message and "How to fix" in message


@pytest.mark.parametrize(
    ("value", "keys"),
    [({1: "a", "1": "b"}, ("1", "'1'")), ({True: "x", "True": "y"}, ("True", "'True'"))],
)
def test_keys_that_become_the_same_json_key_are_refused_not_overwritten(value, keys):
    with pytest.raises(convert.EncodeError) as info:
        convert.to_plain({"outer": value}, "values")
    message = str(info.value)
    assert "values" in message and "How to fix" in message
    for key in keys:
        assert key in message


def test_distinct_keys_of_mixed_types_still_encode():
    assert convert.to_plain({1: "a", "2": "b", 2.5: "c"}) == {"1": "a", "2": "b", "2.5": "c"}


def test_lenient_usage_keeps_both_colliding_keys():
    struct = convert._lenient_struct({1: 10, "1": 20}, "usage")
    assert sorted(convert.struct_to_dict(struct).values()) == [10, 20]
