"""The one converter of the typed results: a dataclass's JSON form from its fields."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import pytest

from causalcam.results._json import JsonForm


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
