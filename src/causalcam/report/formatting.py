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


def _arch(name: str) -> str:
    return ARCH_TITLES.get(name, name)


def _method(name: str) -> str:
    return method_label(name)


def _num(value: Any, signed: bool = False) -> str:
    if not _finite(value):
        return "–"
    return f"{float(value):+.4f}" if signed else f"{float(value):.4f}"


def _percent(value: Any) -> str:
    if not _finite(value):
        return "–"
    return f"{100 * float(value):+.1f}%"


def _pair(ours: float, paper: float | None) -> str:
    return f"**{ours:.4f}** / {paper:.4f}" if paper is not None else f"**{ours:.4f}**"


def _value_ci(
    rows: Sequence[SummaryRow], statistic: str, mean: bool = False, percent: bool = False
) -> str:
    picked = [r for r in rows if r.statistic == statistic and _finite(r.value)]
    if not picked:
        return "–"
    values = [r.value for r in picked]
    value = sum(values) / len(values) if mean else values[0]
    text = _percent(value) if percent else _num(value)
    low, high = picked[0].ci_low, picked[0].ci_high
    if not mean and _finite(low) and _finite(high):
        text += f" [{low:.3f}, {high:.3f}]"
    return text


def _finite(value: Any) -> bool:
    """A number that is neither None, NaN nor infinite (JSON stores NaN as null)."""
    return isinstance(value, int | float) and math.isfinite(value)


def _duration(seconds: Any) -> str:
    if seconds is None:
        return "–"
    value = float(seconds)
    if value < 90:
        return f"{value:.1f} s"
    return f"{value / 60:.1f} min" if value < 5400 else f"{value / 3600:.2f} h"


def _range(values: Sequence[float]) -> str:
    if len(values) < 2:
        return ", ".join(f"{v:.2f}" for v in values)
    return f"{values[0]:.2f}-{values[-1]:.2f} ({len(values)} values)"


def _estimate(estimate: Estimate, percent: bool = False) -> str:
    """A signed value with its interval, ``+0.0123 [-0.0100, +0.0300]``; "–" if not finite."""
    show = _percent if percent else (lambda v: _num(v, signed=True))
    if not _finite(estimate.value):
        return "–"
    if _finite(estimate.low) and _finite(estimate.high):
        return f"{show(estimate.value)} [{show(estimate.low)}, {show(estimate.high)}]"
    return show(estimate.value)


def _effect(estimate: Estimate, unit: str) -> str:
    """An effect in its unit with its interval: ``+1.4 points [+0.2, +2.6]`` or
    ``+8.5% [-2.3%, +15.2%]``; "–" if not finite."""
    if unit == "percent":
        return _estimate(estimate, percent=True)
    if not _finite(estimate.value):
        return "–"
    text = f"{100 * estimate.value:+.1f} points"
    if _finite(estimate.low) and _finite(estimate.high):
        text += f" [{100 * estimate.low:+.1f}, {100 * estimate.high:+.1f}]"
    return text
