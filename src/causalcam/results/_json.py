"""The typed results in and out of strict JSON: NaN is written as ``null`` and read back as
NaN; :class:`JsonForm` gives a dataclass its JSON form from its fields."""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, Self


def number_out(value: float) -> float | None:
    """``value`` as a JSON number, ``None`` where it is not finite."""
    return float(value) if math.isfinite(value) else None


def number_in(value: Any) -> float:
    """A JSON number (or ``null``) as a float; NaN for ``null``."""
    return math.nan if value is None else float(value)


def optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def to_jsonable(value: Any) -> Any:
    """A dataclass (fields in order, nested ones too), tuple, list, dict or number as strict
    JSON: non-finite floats as ``null``."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [to_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, float):
        return number_out(value)
    return value


def from_jsonable(kind: Any, payload: Any) -> Any:
    """``payload`` (JSON) read back as ``kind``: a dataclass (missing fields take their
    defaults), ``tuple[X, ...]``, ``dict[str, X]``, ``X | None``, ``float`` (``null`` is
    NaN), ``int``, ``str`` or ``bool``."""
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        hints = typing.get_type_hints(kind)
        given = {
            f.name: from_jsonable(hints[f.name], payload[f.name])
            for f in dataclasses.fields(kind)
            if f.init and f.name in payload
        }
        return kind(**given)
    origin, arguments = typing.get_origin(kind), typing.get_args(kind)
    if origin in (types.UnionType, typing.Union):
        if payload is None and type(None) in arguments:
            return None
        (inner,) = [a for a in arguments if a is not type(None)]
        return from_jsonable(inner, payload)
    if origin is tuple:
        return tuple(from_jsonable(arguments[0], item) for item in payload)
    if origin is dict:
        return {str(key): from_jsonable(arguments[1], item) for key, item in payload.items()}
    if kind is float:
        return number_in(payload)
    if kind in (int, str, bool):
        return kind(payload)
    raise TypeError(f"no JSON form for {kind!r}")


class JsonForm:
    """``to_json``/``from_json`` of a dataclass from its fields (:func:`to_jsonable`,
    :func:`from_jsonable`): the one converter of the typed results."""

    def to_json(self) -> dict[str, Any]:
        """The result as strict JSON, one key per field."""
        return dict(to_jsonable(self))

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> Self:
        """The result read back from :meth:`to_json`'s form."""
        return typing.cast(Self, from_jsonable(cls, payload))
