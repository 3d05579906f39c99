"""A grid of scans with their lung masks (green) and body outline (blue), to check masks
by eye."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from matplotlib.figure import Figure

from .overlay import ArrayLike, as_grey_uint8


def mask_grid(
    images: Sequence[ArrayLike],
    lungs: Sequence[npt.NDArray[np.bool_]],
    bodies: Sequence[npt.NDArray[np.bool_]],
    titles: Sequence[str],
    columns: int = 8,
) -> Figure:
    """Figure with one tile per scan: the grey scan, its lungs tinted green, the body
    outlined in blue, and its title (e.g. index and mask status)."""
    rows = max(1, -(-len(images) // columns))
    figure = Figure(figsize=(1.9 * columns, 2.1 * rows))
    for i, (image, lung, body, title) in enumerate(zip(images, lungs, bodies, titles, strict=True)):
        axes = figure.add_subplot(rows, columns, i + 1)
        grey = as_grey_uint8(image).astype(np.float32) / 255
        rgb = np.repeat(grey[..., None], 3, axis=2)
        rgb[lung] = 0.55 * rgb[lung] + 0.45 * np.array([0.1, 0.9, 0.2])
        axes.imshow(rgb, interpolation="nearest")
        if body.any() and not body.all():
            axes.contour(body.astype(float), levels=[0.5], colors="#1f77ff", linewidths=0.7)
        axes.set_title(title, fontsize=7)
        axes.set_axis_off()
    figure.tight_layout(pad=0.3)
    return figure
