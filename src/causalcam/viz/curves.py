"""Accuracy against Huffman ratio H, one line per method (the paper's Fig. 2a-b).

Deletion (the explanation is kept): a curve further left reaches the same accuracy with
fewer bits, so "curves to the left are ideal". Insertion (the explanation is removed):
"curves to the right are ideal". Drawn on a bare ``Figure`` (Agg), no display needed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
from matplotlib.figure import Figure

from ..errors import InputError
from ..method_names import CAUSAL, GRADCAM, GRADCAM_PP, method_title
from .panels import save_figure

IDEAL_DIRECTION: dict[str, str] = {
    "deletion": "curves to the left are ideal",
    "insertion": "curves to the right are ideal",
}


class PlottedCurve(Protocol):
    """What a plot reads of a curve (:class:`causalcam.evaluate.Curve` has it)."""

    @property
    def source(self) -> str: ...
    @property
    def method(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def mode(self) -> str: ...
    @property
    def accuracy(self) -> np.ndarray: ...
    @property
    def mean_h(self) -> np.ndarray: ...


_STYLES: dict[str, tuple[str, str]] = {
    GRADCAM: ("tab:blue", "o"),
    GRADCAM_PP: ("tab:orange", "s"),
    CAUSAL: ("tab:red", "^"),
}


def accuracy_curve_figure(
    curves: Iterable[PlottedCurve],
    *,
    title: str | None = None,
    methods: Sequence[str] | None = None,
) -> Figure:
    """Figure of accuracy (y) against mean Huffman ratio H (x) for curves of one
    (source, target, mode); the ideal direction is written on the plot."""
    chosen = list(curves)
    if methods is not None:
        chosen = [curve for curve in chosen if curve.method in methods]
    if not chosen:
        raise InputError("no curves to plot")
    groups = {(curve.source, curve.target, curve.mode) for curve in chosen}
    if len(groups) != 1:
        raise InputError(f"plot one (source, target, mode) at a time; got {sorted(groups)}")
    source, target, mode = groups.pop()
    figure = Figure(figsize=(5.2, 4.0))
    axes = figure.add_subplot()
    for index, curve in enumerate(chosen):
        colour, marker = _STYLES.get(curve.method, (f"C{index + 3}", "x"))
        axes.plot(
            curve.mean_h,
            curve.accuracy,
            color=colour,
            marker=marker,
            markersize=3,
            linewidth=1.4,
            label=method_title(curve.method).replace("\n", " "),
        )
    axes.set_xlabel("Huffman ratio H = bits(masked) / bits(original)")
    axes.set_ylabel("accuracy")
    axes.set_ylim(-0.02, 1.02)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right", fontsize=8)
    where = source if source == target else f"{source} masks -> {target}"
    axes.set_title(title or f"{mode.capitalize()} ({where})", fontsize=10)
    axes.annotate(
        IDEAL_DIRECTION.get(mode, ""),
        xy=(0.02, 0.97),
        xycoords="axes fraction",
        va="top",
        fontsize=8,
        style="italic",
    )
    figure.tight_layout()
    return figure


def save_accuracy_curves(
    curves: Iterable[PlottedCurve],
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    methods: Sequence[str] | None = None,
) -> Path:
    """Write the accuracy-versus-H plot of one (source, target, mode) as PNG, atomically."""
    return save_figure(path, accuracy_curve_figure(curves, title=title, methods=methods))
