"""Numbers in and out of strict JSON: NaN is written as ``null`` and read back as NaN."""

from __future__ import annotations

import math
from typing import Any


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
