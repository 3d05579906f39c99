"""Paper-style figure panels, drawn with matplotlib's Agg canvas (no display, no pyplot state).

- :func:`explanation_panel`: the paper's Fig. 2c-h for one scan -- the scan, then one overlay
  per method (Grad-CAM, Grad-CAM++, causal map, C_PQ, C_P by default), a shared colour bar
  for the map scale [0, 1], and the prediction with its confidence in the title.
- :func:`masked_panel`: the paper's Fig. 3 for one scan -- the scan and the scan masked by
  each method's thresholded map, titled with the class and confidence the network gives the
  masked image (and its Huffman ratio when known).
"""

from __future__ import annotations

import io
import os
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .._io import atomic_write_bytes
from ..errors import InputError
from ..method_names import PAPER_METHODS, method_title
from .overlay import DEFAULT_CMAP, ArrayLike, as_grey_uint8, as_image_uint8, as_unit_map, overlay

_DPI = 110
_CELL_INCHES = 2.3


def prediction_title(
    predicted: str, confidence: float, truth: str | None = None, name: str | None = None
) -> str:
    """``"scan.png - predicted CT_COVID (87.2%) - true CT_COVID"`` (parts that are known)."""
    parts = [name] if name else []
    parts.append(f"predicted {predicted} ({100.0 * confidence:.1f}%)")
    if truth is not None:
        parts.append(f"true {truth}")
    return "  \u00b7  ".join(parts)


def explanation_panel(
    image: ArrayLike,
    maps: Mapping[str, ArrayLike],
    title: str,
    methods: Sequence[str] | None = None,
    cmap: str = DEFAULT_CMAP,
) -> Figure:
    """Figure with the image (a grey scan or a colour picture) and one overlay per method, a
    colour bar and ``title``.

    ``maps`` holds ``(H, W)`` maps in [0, 1] keyed by method name; ``methods`` picks and orders
    them (default: the paper's Fig. 2 methods that are present, then any others).
    """
    order = _method_order(maps, methods)
    picture = as_image_uint8(image)
    figure = _figure(columns=1 + len(order), extra_width=0.5, title=title, subtitle_lines=1)
    axes = figure.subplots(1, 1 + len(order), squeeze=False)[0]
    _show(axes[0], picture, "Image" if picture.ndim == 3 else "Scan")
    for axis, method in zip(axes[1:], order, strict=True):
        _show(axis, overlay(picture, maps[method], cmap=cmap), method_title(method))
    _colorbar(figure, list(axes[1:]), cmap)
    return figure


@dataclass(frozen=True)
class MaskedView:
    """One column of a Fig. 3 panel: a masked scan and what the network says about it."""

    label: str
    image: ArrayLike
    predicted: str
    confidence: float
    huffman: float | None = None

    def title(self) -> str:
        lines = [self.label, f"{self.predicted} ({100.0 * self.confidence:.1f}%)"]
        if self.huffman is not None:
            lines.append(f"H = {self.huffman:.3f}")
        return "\n".join(lines)


def masked_panel(image: ArrayLike, views: Sequence[MaskedView], title: str) -> Figure:
    """Figure with the scan and each masked version of it (the paper's Fig. 3)."""
    if not views:
        raise InputError("a masked panel needs at least one masked view")
    figure = _figure(columns=1 + len(views), extra_width=0.0, title=title, subtitle_lines=3)
    axes = figure.subplots(1, 1 + len(views), squeeze=False)[0]
    _show(axes[0], as_grey_uint8(image), "Scan")
    for axis, view in zip(axes[1:], views, strict=True):
        _show(axis, as_grey_uint8(view.image), view.title())
    return figure


def keep_mask(image: ArrayLike, saliency: ArrayLike, threshold: float) -> np.ndarray:
    """The scan where ``map > threshold``, black elsewhere (the paper's "deletion" masking)."""
    grey = as_grey_uint8(image)
    values = as_unit_map(saliency)
    if grey.shape != values.shape:
        raise InputError(f"image of shape {grey.shape} and map of shape {values.shape} differ")
    return np.where(values > threshold, grey, 0).astype(np.uint8)


def figure_png(figure: Figure, dpi: int = _DPI) -> bytes:
    """Render ``figure`` to PNG bytes (white background)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, facecolor="white")
    return buffer.getvalue()


def save_figure(path: str | os.PathLike[str], figure: Figure, dpi: int = _DPI) -> Path:
    """Write ``figure`` to ``path`` as PNG, atomically."""
    return atomic_write_bytes(path, figure_png(figure, dpi=dpi))


def _method_order(maps: Mapping[str, ArrayLike], methods: Sequence[str] | None) -> list[str]:
    if methods is None:
        order = [m for m in PAPER_METHODS if m in maps]
        order += [m for m in maps if m not in order]
    else:
        order = list(methods)
    missing = [m for m in order if m not in maps]
    if missing:
        raise InputError(f"no map for method(s) {', '.join(missing)}; have {', '.join(maps)}")
    if not order:
        raise InputError("an explanation panel needs at least one map")
    return order


#: Characters of an 11 pt bold title that fit in one inch of figure width (measured).
_TITLE_CHARS_PER_INCH = 9.5


def _figure(columns: int, extra_width: float, title: str, subtitle_lines: int) -> Figure:
    """A one-row figure whose bold title is wrapped to its width (long file names included)
    and whose height makes room for the title and ``subtitle_lines`` of axis titles."""
    width = columns * _CELL_INCHES + extra_width
    lines = textwrap.wrap(title, width=int(width * _TITLE_CHARS_PER_INCH)) or [""]
    height = _CELL_INCHES + 0.2 * (len(lines) + subtitle_lines) + 0.1
    figure = Figure(figsize=(width, height), layout="constrained")
    figure.suptitle("\n".join(lines), fontsize=11, fontweight="bold")
    return figure


def _show(axis: Axes, picture: np.ndarray, title: str) -> None:
    axis.imshow(picture, cmap="gray" if picture.ndim == 2 else None, vmin=0, vmax=255)
    axis.set_title(title, fontsize=9)
    axis.set_axis_off()


def _colorbar(figure: Figure, axes: list[Axes], cmap: str) -> None:
    mappable = mpl.cm.ScalarMappable(norm=mpl.colors.Normalize(0.0, 1.0), cmap=cmap)
    bar = figure.colorbar(mappable, ax=axes, fraction=0.025, pad=0.01, shrink=0.85)
    bar.set_label("map value (per-image min-max)", fontsize=8)
    bar.ax.tick_params(labelsize=7)
