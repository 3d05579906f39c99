"""The one converter of the typed results: a dataclass's JSON form from its fields."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import pytest

from causalcam.results import JsonForm, json_codec


@dataclass(frozen=True)
class Inner(JsonForm):
    name: str
    value: float


@dataclass(frozen=True)
class Outer(JsonForm):
    count: int
    rows: tuple[Inner, ...]
    by_name: dict[str, float] = field(default_factory=dict)
    note: str | None = None
    flag: bool = False


def test_nested_tuples_dicts_optionals_and_nan_go_through_strict_json() -> None:
    outer = Outer(3, (Inner("a", 0.5), Inner("b", math.nan)), {"x": 1.0}, None, True)
    text = json.dumps(outer.to_json(), allow_nan=False)  # NaN is written as null
    back = Outer.from_json(json.loads(text))
    assert back.rows[0] == Inner("a", 0.5) and math.isnan(back.rows[1].value)
    assert (back.count, back.by_name, back.note, back.flag) == (3, {"x": 1.0}, None, True)
    assert json.loads(text)["rows"][1] == {"name": "b", "value": None}


def test_missing_fields_take_their_defaults_and_required_ones_are_named() -> None:
    assert Outer.from_json({"count": 1, "rows": []}) == Outer(1, ())
    with pytest.raises(TypeError, match="rows"):
        Outer.from_json({"count": 1})


class Colour(Enum):
    RED = "red"


@dataclass(frozen=True)
class Coded(JsonForm):
    low: float = field(default=math.nan, metadata=json_codec(key="min"))
    hex_id: int = field(default=0, metadata=json_codec(write=hex, read=lambda t: int(t, 16)))
    colour: Colour = Colour.RED
    pair: tuple[int, str] = (0, "")
    names: list[str] = field(default_factory=list)
    settings: Mapping[str, float | int | str | bool] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    json_derived = ("doubled",)

    @property
    def doubled(self) -> float:
        return 2 * self.low


def test_a_codec_renames_and_converts_a_field_and_derived_values_are_written_only() -> None:
    coded = Coded(1.5, 255, Colour.RED, (2, "b"), ["x"], {"n": 3, "on": True}, {"a": [1, 2]})
    payload = json.loads(json.dumps(coded.to_json(), allow_nan=False))
    assert payload["min"] == 1.5 and "low" not in payload and payload["hex_id"] == "0xff"
    assert payload["colour"] == "red" and payload["doubled"] == 3.0
    assert Coded.from_json(payload) == coded  # "doubled" is not read back
    assert Coded.from_json({"min": None}).low != Coded.from_json({"min": None}).low  # NaN
