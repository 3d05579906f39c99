"""A volume's maps in the three planes: axial, coronal and sagittal slices through each map's
peak, the map over the grey volume.

Volumes are ``(D, H, W)`` in axial viewing order (inferior to superior, anterior to
posterior, the patient's right to left): an axial slice is shown as stored (anterior at the
top, the patient's right on the left), coronal and sagittal slices with superior at the top.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import numpy as np
from matplotlib.figure import Figure

from ..errors import InputError
from ..method_names import method_title
from .overlay import as_grey_uint8, overlay

#: the viewing planes, in the order the figure and ``causalcam serve`` show them
VIEW_PLANES: Final[tuple[str, ...]] = ("axial", "coronal", "sagittal")


def plane_slice(volume: np.ndarray, plane: str, index: int) -> np.ndarray:
    """Slice ``index`` of a ``(D, H, W)`` volume along ``plane`` (:data:`VIEW_PLANES`), as
    viewed (module doc); ``index`` counts along D, H or W."""
    if plane == "axial":
        return volume[index]
    if plane == "coronal":
        return volume[::-1, index, :]
    if plane == "sagittal":
        return volume[::-1, :, index]
    raise InputError(f"unknown plane {plane!r}; choose from {', '.join(VIEW_PLANES)}")


def planes_figure(grey: np.ndarray, maps: Mapping[str, np.ndarray], title: str) -> Figure:
    """One row per map, one column per plane through the map's peak: the map over ``grey``
    (``(D, H, W)``, floats in [0, 1] or uint8; the maps on the same grid, in [0, 1])."""
    if not maps:
        raise InputError("no maps to draw")
    figure = Figure(figsize=(7.2, 2.3 * len(maps) + 0.4), layout="constrained")
    figure.suptitle(title, fontsize=10, fontweight="bold")
    axes = figure.subplots(len(maps), len(VIEW_PLANES), squeeze=False)
    for row, (method, values) in enumerate(maps.items()):
        if values.shape != grey.shape:
            raise InputError(f"map {method} of shape {values.shape}, volume {grey.shape}")
        peak = np.unravel_index(int(np.argmax(values)), values.shape)
        for column, plane in enumerate(VIEW_PLANES):
            index = int(peak[column])
            picture = overlay(
                as_grey_uint8(np.ascontiguousarray(plane_slice(grey, plane, index))),
                np.ascontiguousarray(plane_slice(values, plane, index)),
            )
            axis = axes[row][column]
            axis.imshow(picture)
            axis.set_title(f"{method_title(method)}: {plane} {index}", fontsize=8)
            axis.set_axis_off()
    return figure
