"""3-D networks: a small volume CNN and the input grid a 3-D checkpoint expects.

A 3-D network reads one grey channel, ``(B, 1, D, H, W)``: the volume in 8-bit grey levels
(a CT volume after its window), scaled to [0, 1] and normalised with the grid's mean and
standard deviation. :class:`VolumeGrid` records the voxels (D, H, W) and their spacing in
millimetres along each axis; a volume from a file is resampled to it before explaining.
The axes are (D, H, W) = (inferior to superior, anterior to posterior, right to left of the
image), the axial viewing order of :mod:`causalcam.medical.nifti`.

>>> model = SmallCNN3d(2)
>>> grid = VolumeGrid((32, 32, 32), (1.0, 1.0, 1.0))
>>> model(volume_input(torch.zeros(1, 32, 32, 32, dtype=torch.uint8), grid)).shape
torch.Size([1, 2])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import InputError

#: the 3-D architectures ``models.build`` knows, and the layer each one's CAM reads
VOLUME_TARGET_LAYERS: Final[dict[str, str]] = {"small3d": "block4"}
VOLUME_ARCHS: Final[tuple[str, ...]] = tuple(VOLUME_TARGET_LAYERS)


@dataclass(frozen=True)
class VolumeGrid:
    """The input grid of a 3-D network: ``shape`` (D, H, W) voxels, ``spacing`` (mm per voxel
    along D, H, W), and the ``mean`` / ``std`` that normalise grey levels scaled to [0, 1]."""

    shape: tuple[int, int, int]
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
    mean: float = 0.3
    std: float = 0.3

    def __post_init__(self) -> None:
        if len(self.shape) != 3 or min(self.shape) < 1:
            raise InputError(f"a volume grid needs 3 positive sizes (D, H, W), got {self.shape}")
        if len(self.spacing) != 3 or min(self.spacing) <= 0:
            raise InputError(f"a volume grid needs 3 positive spacings in mm, got {self.spacing}")
        if self.std <= 0:
            raise InputError(f"std must be positive, got {self.std}")

    @property
    def extent(self) -> tuple[float, float, float]:
        """The grid's size in millimetres along D, H, W."""
        return (
            self.shape[0] * self.spacing[0],
            self.shape[1] * self.spacing[1],
            self.shape[2] * self.spacing[2],
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "shape": list(self.shape),
            "spacing": list(self.spacing),
            "mean": self.mean,
            "std": self.std,
        }

    @classmethod
    def from_dict(cls, values: dict[str, object]) -> VolumeGrid:
        shape = tuple(int(v) for v in values["shape"])  # type: ignore[attr-defined]
        spacing = tuple(float(v) for v in values["spacing"])  # type: ignore[attr-defined]
        return cls(
            shape,  # type: ignore[arg-type]
            spacing,  # type: ignore[arg-type]
            float(values["mean"]),  # type: ignore[arg-type]
            float(values["std"]),  # type: ignore[arg-type]
        )


def volume_input(volumes: Tensor, grid: VolumeGrid) -> Tensor:
    """Grey volumes ``(B, D, H, W)`` (uint8 in [0, 255], or float in [0, 1]) of the grid's
    shape as normalised float32 inputs ``(B, 1, D, H, W)``."""
    if volumes.ndim != 4 or tuple(volumes.shape[1:]) != grid.shape:
        raise InputError(
            f"expected grey volumes (B, {', '.join(map(str, grid.shape))}), got shape "
            f"{tuple(volumes.shape)}"
        )
    scaled = volumes.float() / 255.0 if volumes.dtype == torch.uint8 else volumes.float()
    return ((scaled - grid.mean) / grid.std).unsqueeze(1)


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv3d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm3d(c_out), nn.ReLU()
    )


class SmallCNN3d(nn.Module):
    """Four 3x3x3 conv blocks (``width``, 2x, 4x, 4x channels) on one grey channel, 2x2x2 max
    pooling after the first two, global max pooling and a linear head: the last feature map
    (``block4``, the CAM layer) is a quarter of the input along each axis.

    The global max (not the average) lets a small finding decide the class: a lesion of a
    hundred voxels is a few cells of the 8x8x8 map at 32^3, which an average over all 512
    cells would dilute below the variation of the anatomy."""

    def __init__(self, n_classes: int, width: int = 8) -> None:
        super().__init__()
        self.block1 = _block(1, width)
        self.block2 = _block(width, 2 * width)
        self.block3 = _block(2 * width, 4 * width)
        self.block4 = _block(4 * width, 4 * width)
        self.head = nn.Linear(4 * width, n_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = F.max_pool3d(self.block1(x), 2)
        x = F.max_pool3d(self.block2(x), 2)
        x = self.block4(self.block3(x))
        return self.head(x.amax(dim=(2, 3, 4)))


def build_volume_network(name: str, num_classes: int) -> nn.Module:
    """A freshly initialised 3-D network of :data:`VOLUME_ARCHS`."""
    if name != "small3d":
        raise InputError(f"unknown 3-D architecture {name!r}; known: {', '.join(VOLUME_ARCHS)}")
    return SmallCNN3d(num_classes)
