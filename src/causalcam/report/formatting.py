"""How numbers, durations, networks and methods are written in the report's text and tables."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..method_names import method_label
from ..results import Estimate, SummaryRow

ARCH_TITLES = {
    "resnet18": "ResNet-18",
    "resnet34": "ResNet-34",
    "resnet50": "ResNet-50",
    "densenet121": "DenseNet-121",
    "densenet169": "DenseNet-169",
}


def arch_title(name: str) -> str:
    """``resnet18`` -> ``ResNet-18`` (other names as given)."""
    return ARCH_TITLES.get(name, name)


def method_text(name: str) -> str:
    """A method's text label (``causalcam.method_names.method_label``)."""
    return method_label(name)


def number_text(value: Any, signed: bool = False) -> str:
    """Four decimals (``signed``: with its sign); "–" if not finite."""
    if not is_finite(value):
        return "–"
    return f"{float(value):+.4f}" if signed else f"{float(value):.4f}"


def _percent(value: Any) -> str:
    if not is_finite(value):
        return "–"
    return f"{100 * float(value):+.1f}%"


def paper_pair(ours: float, paper: float | None) -> str:
    """Our value in bold beside the paper's: ``**0.7000** / 0.6800``."""
    return f"**{ours:.4f}** / {paper:.4f}" if paper is not None else f"**{ours:.4f}**"


def value_ci(
    rows: Sequence[SummaryRow], statistic: str, mean: bool = False, percent: bool = False
) -> str:
    """A statistic of summary rows with its interval, ``0.7000 [0.650, 0.750]`` (``mean``:
    the mean over the rows, without an interval; ``percent``: as a signed percentage)."""
    picked = [r for r in rows if r.statistic == statistic and is_finite(r.value)]
    if not picked:
        return "–"
    values = [r.value for r in picked]
    value = sum(values) / len(values) if mean else values[0]
    text = _percent(value) if percent else number_text(value)
    low, high = picked[0].ci_low, picked[0].ci_high
    if not mean and is_finite(low) and is_finite(high):
        text += f" [{low:.3f}, {high:.3f}]"
    return text


def is_finite(value: Any) -> bool:
    """A number that is neither None, NaN nor infinite (JSON stores NaN as null)."""
    return isinstance(value, int | float) and math.isfinite(value)


def duration_text(seconds: Any) -> str:
    """Seconds as ``12.3 s``, ``4.5 min`` or ``2.10 h``; "–" if unknown."""
    if seconds is None:
        return "–"
    value = float(seconds)
    if value < 90:
        return f"{value:.1f} s"
    return f"{value / 60:.1f} min" if value < 5400 else f"{value / 3600:.2f} h"


def range_text(values: Sequence[float]) -> str:
    """Thresholds as ``0.10-0.60 (6 values)`` (or listed when fewer than two)."""
    if len(values) < 2:
        return ", ".join(f"{v:.2f}" for v in values)
    return f"{values[0]:.2f}-{values[-1]:.2f} ({len(values)} values)"


def estimate_text(estimate: Estimate, percent: bool = False) -> str:
    """A signed value with its interval, ``+0.0123 [-0.0100, +0.0300]``; "–" if not finite."""
    show = _percent if percent else (lambda v: number_text(v, signed=True))
    if not is_finite(estimate.value):
        return "–"
    if is_finite(estimate.low) and is_finite(estimate.high):
        return f"{show(estimate.value)} [{show(estimate.low)}, {show(estimate.high)}]"
    return show(estimate.value)


def effect_text(estimate: Estimate, unit: str) -> str:
    """An effect in its unit with its interval: ``+1.4 points [+0.2, +2.6]`` or
    ``+8.5% [-2.3%, +15.2%]``; "–" if not finite."""
    if unit == "percent":
        return estimate_text(estimate, percent=True)
    if not is_finite(estimate.value):
        return "–"
    text = f"{100 * estimate.value:+.1f} points"
    if is_finite(estimate.low) and is_finite(estimate.high):
        text += f" [{100 * estimate.low:+.1f}, {100 * estimate.high:+.1f}]"
    return text
