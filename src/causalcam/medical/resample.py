"""A volume resampled onto a 3-D network's input grid, and a map resampled back.

The source volume ``(D, H, W)`` has voxel ``spacing`` (mm) and so a physical extent
``E = shape * spacing`` along each axis; the grid has ``shape`` ``G`` and ``spacing`` ``g``.
The volume is scaled by one factor on every axis (so a millimetre is as long along each axis
as the network learnt it) chosen so that the whole volume fits in the grid, centred: each grid
voxel spans ``step_i = g_i * max_j(E_j / (G_j g_j))`` mm of the source; where the volume ends
first the grid is filled with the volume's border values. A volume much finer than that step
is first averaged down (area interpolation) so the sampling does not alias; the grid's values
are then trilinear samples. :meth:`Placement.to_source` samples a grid map (trilinear) back at
the centre of every source voxel, so the map lies on the source grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import InputError

Triple = tuple[float, float, float]


@dataclass(frozen=True)
class Placement:
    """How a source volume lies in a grid: ``source`` shape and spacing, ``grid`` shape and the
    source millimetres ``step`` each grid voxel spans along D, H, W."""

    source: tuple[int, int, int]
    spacing: Triple
    grid: tuple[int, int, int]
    step: Triple

    @property
    def scale(self) -> Triple:
        """Grid extent over source extent per axis (>= 1: the grid holds the whole volume)."""
        return tuple(  # type: ignore[return-value]
            g * s / (n * p)
            for g, s, n, p in zip(self.grid, self.step, self.source, self.spacing, strict=True)
        )

    def to_source(self, maps: Tensor) -> Tensor:
        """Maps ``(B, *grid)`` on the grid -> ``(B, *source)`` on the source voxels."""
        if tuple(maps.shape[1:]) != self.grid:
            raise InputError(f"maps of shape {tuple(maps.shape)} do not fit grid {self.grid}")
        inverse = [1.0 / value for value in self.scale]
        grid = _affine_grid(inverse, self.source, len(maps), maps.device)
        back = F.grid_sample(maps.float().unsqueeze(1), grid, mode="bilinear", align_corners=False)
        return back[:, 0]


def _affine_grid(scale: list[float], shape: tuple[int, int, int], n: int, device: Any) -> Tensor:
    """Sampling positions of an output ``shape``: each axis's normalised coordinate times
    ``scale`` (D, H, W order; ``affine_grid`` takes x, y, z = W, H, D)."""
    theta = torch.zeros(n, 3, 4, device=device)
    theta[:, 0, 0], theta[:, 1, 1], theta[:, 2, 2] = scale[2], scale[1], scale[0]
    return F.affine_grid(theta, [n, 1, *shape], align_corners=False)


def place(
    source: tuple[int, int, int], spacing: Triple, grid: tuple[int, int, int], grid_spacing: Triple
) -> Placement:
    """The placement of a ``source`` volume of ``spacing`` mm in a grid (module doc)."""
    if min(spacing) <= 0 or not all(np.isfinite(spacing)):
        raise InputError(f"voxel spacing must be positive and finite, got {spacing} mm")
    extent = [n * s for n, s in zip(source, spacing, strict=True)]
    zoom = max(e / (g * s) for e, g, s in zip(extent, grid, grid_spacing, strict=True))
    step = tuple(s * zoom for s in grid_spacing)
    return Placement(source, spacing, grid, step)  # type: ignore[arg-type]


def to_grid(volume: Tensor, placement: Placement) -> Tensor:
    """A float volume ``(D, H, W)`` of ``placement.source`` shape -> ``(*placement.grid)``."""
    if tuple(volume.shape) != placement.source:
        raise InputError(f"volume of shape {tuple(volume.shape)}, expected {placement.source}")
    data = volume.float()[None, None]
    coarse = tuple(
        max(1, min(n, round(n * p / s)))
        for n, p, s in zip(placement.source, placement.spacing, placement.step, strict=True)
    )
    if coarse != placement.source:
        data = F.interpolate(data, size=coarse, mode="area")
    grid = _affine_grid(list(placement.scale), placement.grid, 1, data.device)
    sampled = F.grid_sample(data, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return sampled[0, 0]
