"""The typed results in and out of strict JSON: NaN is written as ``null`` and read back as
NaN; :class:`JsonForm` gives a dataclass its JSON form from its fields.

A field's type says how it is read back (:func:`from_jsonable`); where it does not say
enough (a JSON key other than the field's name, arrays of a computing library), the field
carries a :class:`Codec` in its metadata (:func:`json_codec`). A class lists in
``json_derived`` the properties it writes after its fields for readers of the file; they
are not read back.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self


def number_out(value: float) -> float | None:
    """``value`` as a JSON number, ``None`` where it is not finite."""
    return float(value) if math.isfinite(value) else None


def number_in(value: Any) -> float:
    """A JSON number (or ``null``) as a float; NaN for ``null``."""
    return math.nan if value is None else float(value)


@dataclass(frozen=True)
class Codec:
    """How one field goes to and from JSON where its type does not say: ``key`` the JSON
    key (default: the field's name), ``write``/``read`` the conversions of its value
    (default: :func:`to_jsonable` / :func:`from_jsonable` of the field's type)."""

    key: str | None = None
    write: Callable[[Any], Any] | None = None
    read: Callable[[Any], Any] | None = None


def json_codec(
    *,
    key: str | None = None,
    write: Callable[[Any], Any] | None = None,
    read: Callable[[Any], Any] | None = None,
) -> dict[str, Codec]:
    """The metadata of a dataclass field with a :class:`Codec`:
    ``field(default=math.nan, metadata=json_codec(key="min"))``."""
    return {"json": Codec(key, write, read)}


def _codec(field: dataclasses.Field[Any]) -> Codec:
    codec = field.metadata.get("json", Codec())
    assert isinstance(codec, Codec)
    return codec


def to_jsonable(value: Any) -> Any:
    """A dataclass (fields in order, nested ones too, then the properties its class names
    in ``json_derived``), enum, tuple, list, dict or number as strict JSON: non-finite
    floats as ``null``."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            codec, item = _codec(f), getattr(value, f.name)
            out[codec.key or f.name] = (codec.write or to_jsonable)(item)
        for name in getattr(value, "json_derived", ()):
            out[name] = to_jsonable(getattr(value, name))
        return out
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if isinstance(value, tuple | list):
        return [to_jsonable(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, float):
        return number_out(value)
    return value


_SCALARS = (bool, int, float, str)


def from_jsonable(kind: Any, payload: Any) -> Any:
    """``payload`` (JSON) read back as ``kind``: a dataclass (missing fields take their
    defaults), an enum, ``tuple[X, ...]``, ``tuple[X, Y]``, ``list[X]``, ``dict[str, X]``
    (or ``Mapping``), ``X | None``, a union of scalars or ``Any`` (taken as it is),
    ``float`` (``null`` is NaN), ``int``, ``str`` or ``bool``."""
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        return _dataclass_in(kind, payload)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return kind(payload)
    if kind is Any:
        return payload
    origin, arguments = typing.get_origin(kind), typing.get_args(kind)
    if origin in (types.UnionType, typing.Union):
        if payload is None and type(None) in arguments:
            return None
        inner = [a for a in arguments if a is not type(None)]
        if len(inner) > 1 and all(a in _SCALARS for a in inner):
            return payload
        (single,) = inner
        return from_jsonable(single, payload)
    if origin is tuple:
        if len(arguments) == 2 and arguments[1] is Ellipsis:
            return tuple(from_jsonable(arguments[0], item) for item in payload)
        return tuple(from_jsonable(a, item) for a, item in zip(arguments, payload, strict=True))
    if origin is list:
        return [from_jsonable(arguments[0], item) for item in payload]
    if origin in (dict, Mapping):
        return {str(key): from_jsonable(arguments[1], item) for key, item in payload.items()}
    if kind is float:
        return number_in(payload)
    if kind in (int, str, bool):
        return kind(payload)
    raise TypeError(f"no JSON form for {kind!r}")


def _dataclass_in(kind: type[Any], payload: Mapping[str, Any]) -> Any:
    hints = typing.get_type_hints(kind)
    given = {}
    for f in dataclasses.fields(kind):
        codec = _codec(f)
        key = codec.key or f.name
        if f.init and key in payload:
            item = payload[key]
            given[f.name] = codec.read(item) if codec.read else from_jsonable(hints[f.name], item)
    return kind(**given)


def check_format(
    found: Any, expected: int, source: object, what: str, error: type[Exception]
) -> None:
    """Raise ``error`` naming ``source`` and both versions when ``found`` (the format a file
    records, ``None`` when it records none) is not ``expected``."""
    if found != expected:
        written = "no format version" if found is None else f"format {found!r}"
        raise error(
            f"{source}: {what} written with {written}; this causalcam reads format {expected}"
        )


class JsonForm:
    """``to_json``/``from_json`` of a dataclass from its fields (:func:`to_jsonable`,
    :func:`from_jsonable`): the one converter of the typed results."""

    #: properties written after the fields, for readers of the file (not read back)
    json_derived: ClassVar[tuple[str, ...]] = ()

    def to_json(self) -> dict[str, Any]:
        """The result as strict JSON, one key per field."""
        return dict(to_jsonable(self))

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> Self:
        """The result read back from :meth:`to_json`'s form."""
        return typing.cast(Self, from_jsonable(cls, payload))
