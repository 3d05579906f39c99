"""Where a benchmark run keeps each network's unit (``OUT/networks/<design>/<smoothing-seed>``)."""

from __future__ import annotations

from pathlib import Path

from ..evaluate.store import safe_name
from ..synthetic import Design


def unit_folder(out: Path, design: Design, smoothing: float, seed: int) -> Path:
    """The folder of one network's unit: weights, scores, examples, curves."""
    return out / "networks" / safe_name(design.label) / f"smoothing{smoothing:g}-seed{seed}"
