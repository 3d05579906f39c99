"""Tidy tables: rows (dicts or typed rows) written as CSV and JSON, atomically; NaN becomes
empty / null."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_write_json, atomic_write_text
from ..results import JsonForm
from .threshold import Curve


def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars as Python numbers and every non-finite float replaced by
    ``None`` (strict JSON)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return value


def rows_to_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """CSV text of dict rows.

    Args:
        rows: the rows; their keys in first-seen order make the header.

    Returns:
        The CSV text; NaN and None as empty cells.
    """
    fields = list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _cell(row.get(key)) for key in fields})
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, float):
        return repr(value)
    return value


def write_rows(rows: Sequence[Mapping[str, Any] | JsonForm], stem: str | Path) -> tuple[Path, Path]:
    """Write rows as ``stem.csv`` and ``stem.json`` (a list of row objects), atomically.

    Args:
        rows: the rows: dicts, or typed rows (:class:`~causalcam.results.JsonForm`, one
            column per field).
        stem: the path of both files without their suffix.

    Returns:
        The paths of the CSV and the JSON file.
    """
    stem = Path(stem)
    plain = [row.to_json() if isinstance(row, JsonForm) else dict(row) for row in rows]
    csv_path = atomic_write_text(stem.with_suffix(".csv"), rows_to_csv(plain))
    json_path = atomic_write_json(stem.with_suffix(".json"), jsonable(plain))
    return csv_path, json_path


def curve_rows(curves: Iterable[Curve]) -> list[dict[str, Any]]:
    """Tidy rows of curves, one per (curve, threshold).

    Args:
        curves: the curves.

    Returns:
        Dicts with source, method, target, mode, threshold, accuracy, huffman_ratio, ...
    """
    return [row for curve in curves for row in curve.rows()]
