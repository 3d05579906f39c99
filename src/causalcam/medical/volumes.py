"""Maps of a volume's slices put back into the volume's geometry and saved as NIfTI.

A map is computed on the model's input: the slice resized (shorter side
``round(size * 256 / 224)``) and centre-cropped to ``size``. :func:`map_to_source` undoes that:
the map is pasted at the crop's place in the resized frame (zero outside it, where the model
saw nothing) and resized bilinearly to the slice's own pixel grid.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .nifti import save_nifti


@dataclass
class Volume:
    """Where the slices of a NIfTI or DICOM series go back to: ``view_shape`` is
    ``(rows, cols, slices)``; ``to_source`` turns a volume in that order into the saved one."""

    key: str
    name: str
    source: Path
    view_shape: tuple[int, int, int]
    affine: np.ndarray | None
    header: Any
    to_source: Callable[[np.ndarray], np.ndarray]
    expected: int
    reason: str = ""


def resized_shape(height: int, width: int, resize: int) -> tuple[int, int]:
    """Shape after torchvision's ``resize(image, [resize])`` (shorter side to ``resize``)."""
    if height <= width:
        return resize, int(resize * width / height)
    return int(resize * height / width), resize


def map_to_source(values: np.ndarray, shape: tuple[int, int], size: int, resize: int) -> np.ndarray:
    """A ``(size, size)`` map of the crop of a slice resized to ``resize`` (shorter side) ->
    float32 map on the slice's ``shape`` grid."""
    rows, cols = resized_shape(shape[0], shape[1], resize)
    top, left = round((rows - size) / 2.0), round((cols - size) / 2.0)
    canvas = torch.zeros(1, 1, rows, cols)
    canvas[0, 0, top : top + size, left : left + size] = torch.from_numpy(
        np.asarray(values, dtype=np.float32)
    )
    back = F.interpolate(canvas, size=shape, mode="bilinear", align_corners=False)
    return back[0, 0].numpy()


@dataclass
class _Pending:
    volume: Volume
    maps: dict[str, np.ndarray]
    received: int = 0


@dataclass
class VolumeWriter:
    """Collects the maps of each volume's slices; writes ``<name>/<method>.nii.gz`` when a
    volume is complete. Slices not explained stay 0."""

    out_dir: Path
    methods: Sequence[str]
    size: int
    resize: int
    written: list[dict[str, Any]] = field(default_factory=list)
    _pending: dict[str, _Pending] = field(default_factory=dict)

    def add(self, index: int, volume: Volume, maps: Mapping[str, np.ndarray]) -> None:
        """Record the maps of slice ``index``; write the volume once all have arrived."""
        if volume.affine is None:
            self._note(volume, None)
            return
        pending = self._pending.get(volume.key)
        if pending is None:
            empty = {m: np.zeros(volume.view_shape, dtype=np.float32) for m in self.methods}
            pending = self._pending.setdefault(volume.key, _Pending(volume, empty))
        rows, cols = volume.view_shape[:2]
        for method in self.methods:
            pending.maps[method][:, :, index] = map_to_source(
                maps[method], (rows, cols), self.size, self.resize
            )
        pending.received += 1
        if pending.received == volume.expected:
            del self._pending[volume.key]
            self._write(pending)

    def _write(self, pending: _Pending) -> None:
        volume = pending.volume
        assert volume.affine is not None
        paths = {
            method: str(
                save_nifti(
                    self.out_dir / volume.name / f"{method}.nii.gz",
                    volume.to_source(values),
                    volume.affine,
                    volume.header,
                )
            )
            for method, values in pending.maps.items()
        }
        self._note(volume, paths)

    def _note(self, volume: Volume, paths: dict[str, str] | None) -> None:
        if any(entry["name"] == volume.name for entry in self.written):
            return
        self.written.append(
            {
                "name": volume.name,
                "source": str(volume.source),
                "slices": volume.view_shape[2],
                "explained": volume.expected,
                "maps": paths,
                "affine": None if volume.affine is None else volume.affine.tolist(),
                "note": volume.reason if paths is None else "",
            }
        )
