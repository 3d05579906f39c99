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


def planes_figure(
    grey: np.ndarray,
    maps: Mapping[str, np.ndarray],
    title: str,
    outline: np.ndarray | None = None,
) -> Figure:
    """One row per map, one column per plane through the map's peak: the map over ``grey``
    (``(D, H, W)``, floats in [0, 1] or uint8; the maps on the same grid, in [0, 1]).

    ``outline``: a boolean region on the same grid (e.g. a planted lesion), drawn as a
    contour; the planes then pass through its centre instead of each map's peak, so every
    row shows the same slices and the region."""
    if not maps:
        raise InputError("no maps to draw")
    if outline is not None and (outline.shape != grey.shape or not outline.any()):
        raise InputError(f"the outline must be a non-empty region of shape {grey.shape}")
    figure = Figure(figsize=(7.2, 2.3 * len(maps) + 0.4), layout="constrained")
    figure.suptitle(title, fontsize=10, fontweight="bold")
    axes = figure.subplots(len(maps), len(VIEW_PLANES), squeeze=False)
    for row, (method, values) in enumerate(maps.items()):
        if values.shape != grey.shape:
            raise InputError(f"map {method} of shape {values.shape}, volume {grey.shape}")
        centre = _centre(outline) if outline is not None else _peak(values)
        for column, plane in enumerate(VIEW_PLANES):
            index = centre[column]
            picture = overlay(
                as_grey_uint8(np.ascontiguousarray(plane_slice(grey, plane, index))),
                np.ascontiguousarray(plane_slice(values, plane, index)),
            )
            axis = axes[row][column]
            axis.imshow(picture)
            if outline is not None:
                region = plane_slice(outline, plane, index).astype(np.float32)
                axis.contour(region, levels=[0.5], colors="#00e5ff", linewidths=0.9)
            axis.set_title(f"{method_title(method)}: {plane} {index}", fontsize=8)
            axis.set_axis_off()
    return figure


def _peak(values: np.ndarray) -> tuple[int, ...]:
    """Where ``values`` is largest (the first such voxel)."""
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(values)), values.shape))


def _centre(region: np.ndarray) -> tuple[int, ...]:
    """The voxel nearest the centre of a non-empty boolean ``region``."""
    return tuple(round(float(c)) for c in np.argwhere(region).mean(axis=0))
