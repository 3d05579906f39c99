"""The lesion-mass table of a 3-D network on generated volumes (computed by
:mod:`causalcam.ground_truth.volume_mass`, ``causalcam benchmark volumes``): each map's share
of its mass on the planted lesion, with bootstrap intervals. Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._json import JsonForm
from .ablation import Estimate


@dataclass(frozen=True)
class LesionMassRow(JsonForm):
    """One map: the mean share of its mass on the lesion voxels (``share``), its paired
    difference to Grad-CAM's share (``vs_gradcam``, NaN for Grad-CAM itself), and how many
    of the ``n`` maps were all zeros (``empty``, counted as share 0)."""

    method: str
    n: int
    share: Estimate
    vs_gradcam: Estimate
    empty: int = 0


@dataclass
class LesionMassResult(JsonForm):
    """Lesion mass of one 3-D network on ``n_volumes`` held-out generated volumes:
    ``accuracy`` on all of them, the maps of the lesion class on the ``n_lesion`` volumes
    that hold one, ``uniform`` the share a uniform map would put on the lesion (the lesion's
    share of the volume)."""

    model: str
    design: str
    grid: list[int]
    split: str
    seed: int
    n_volumes: int
    n_lesion: int
    accuracy: Estimate
    uniform: Estimate
    rows: list[LesionMassRow]
    n_boot: int
    ci: float = 0.95
    seconds: float = 0.0
