"""Display windows: how Hounsfield units (or any stored values) become 8-bit grey.

A window ``(W, L)`` maps ``[L - W/2, L + W/2]`` linearly onto ``[0, 255]`` and clips outside::

    grey = clip(round(255 * (value - (L - W/2)) / W), 0, 255)

Named presets are the usual CT windows; ``minmax`` stretches each image's own range (for
16-bit images whose values are not Hounsfield units).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError


@dataclass(frozen=True)
class Window:
    """Width and level (centre) in the image's value units; ``None`` both = each image's range."""

    width: float | None
    level: float | None
    name: str = ""

    @property
    def is_minmax(self) -> bool:
        return self.width is None or self.level is None

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "width": self.width, "level": self.level}

    def describe(self) -> str:
        if self.is_minmax:
            return "minmax (each image's own range)"
        label = f"{self.name} " if self.name else ""
        return f"{label}W={self.width:g} L={self.level:g}"


#: CT windows (Hounsfield units); ``lung`` is the default for DICOM and NIfTI inputs.
WINDOW_PRESETS: dict[str, Window] = {
    "lung": Window(1500.0, -600.0, "lung"),
    "mediastinum": Window(350.0, 50.0, "mediastinum"),
    "soft_tissue": Window(400.0, 40.0, "soft_tissue"),
    "bone": Window(1800.0, 400.0, "bone"),
    "brain": Window(80.0, 40.0, "brain"),
    "minmax": Window(None, None, "minmax"),
}
DEFAULT_WINDOW = WINDOW_PRESETS["lung"]


def parse_window(spec: str) -> Window:
    """``"lung"`` (a preset name) or ``"W,L"`` such as ``"1500,-600"`` -> :class:`Window`."""
    text = spec.strip().lower()
    if text in WINDOW_PRESETS:
        return WINDOW_PRESETS[text]
    parts = text.split(",")
    try:
        width, level = (float(part) for part in parts)
    except ValueError:
        raise InputError(
            f"--window {spec!r}: give 'WIDTH,LEVEL' (e.g. 1500,-600) or a preset: "
            + ", ".join(WINDOW_PRESETS)
        ) from None
    if not width > 0 or not np.isfinite(level):
        raise InputError(f"--window {spec!r}: the width must be positive and the level finite")
    return Window(width, level)


def apply_window(values: np.ndarray, window: Window) -> np.ndarray:
    """Window ``values`` (any real array) to uint8 grey with the formula of the module doc."""
    data = np.asarray(values, dtype=np.float64)
    if window.is_minmax:
        low, high = (float(data.min()), float(data.max())) if data.size else (0.0, 1.0)
        width = high - low if high > low else 1.0
    else:
        assert window.width is not None and window.level is not None
        low, width = window.level - window.width / 2.0, window.width
    scaled = np.rint(255.0 * (data - low) / width)
    return np.clip(scaled, 0, 255).astype(np.uint8)
