"""NIfTI volumes read with nibabel, cut into slices along a plane, and maps written back.

A volume is reoriented (by axis permutations and flips only, no resampling) so that its
slices of the chosen plane look as a radiologist views them: axial slices with the patient's
right on the image's left and anterior at the top, coronal and sagittal with superior at the
top. Maps are turned back by the inverse permutation and saved with the source affine and
header, so they overlay the scan in 3D Slicer or ITK-SNAP.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_path
from ..errors import DataError, InputError
from ..extras import require

NIFTI_SUFFIXES: tuple[str, ...] = (".nii", ".nii.gz")
#: Axis codes (row direction, column direction, slice direction) of each viewing plane.
PLANES: dict[str, tuple[str, str, str]] = {
    "axial": ("P", "L", "S"),
    "coronal": ("I", "L", "P"),
    "sagittal": ("I", "P", "L"),
}


def _nibabel() -> Any:
    return require("nibabel", "reading NIfTI")


def nifti_stem(path: Path) -> str:
    """``scan.nii.gz`` -> ``scan``: the file name without its NIfTI suffix."""
    name = path.name
    for suffix in NIFTI_SUFFIXES[::-1]:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


@dataclass
class NiftiVolume:
    """A 3-D volume in viewing order ``data[row, col, slice]`` and how to undo that order."""

    path: Path
    data: np.ndarray
    plane: str
    affine: np.ndarray
    header: Any
    to_view: np.ndarray

    def to_source(self, volume: np.ndarray) -> np.ndarray:
        """A ``(row, col, slice)`` array of this volume back in the source voxel order."""
        nib = _nibabel()
        back = nib.orientations.ornt_transform(
            self.to_view_target(), nib.orientations.io_orientation(self.affine)
        )
        return np.asarray(nib.orientations.apply_orientation(volume, back))

    def to_view_target(self) -> np.ndarray:
        return np.asarray(_nibabel().orientations.axcodes2ornt(PLANES[self.plane]))


def load_image(path: Path) -> Any:
    """A nibabel image of ``path``; :class:`DataError` naming the file if it is not one."""
    try:
        return _nibabel().load(path)
    except Exception as error:  # nibabel raises ImageFileError, OSError, struct errors...
        raise DataError(f"{path} is not a readable NIfTI file ({type(error).__name__})") from error


def read_volume(path: Path, plane: str = "axial") -> NiftiVolume:
    """Load a 3-D NIfTI (a 4-D one with a single volume too) in viewing order for ``plane``."""
    if plane not in PLANES:
        raise InputError(f"--plane {plane!r}: choose from {', '.join(PLANES)}")
    image = load_image(path)
    shape = tuple(int(n) for n in image.shape)
    if len(shape) == 4 and shape[3] == 1:
        shape = shape[:3]
    if len(shape) != 3:
        raise DataError(
            f"{path} is a {len(image.shape)}-D NIfTI of shape {tuple(image.shape)}; causalcam "
            "explains 3-D volumes slice by slice (save a 2-D image as PNG or TIFF)"
        )
    try:
        data = np.asarray(image.get_fdata(dtype=np.float32)).reshape(shape)
    except Exception as error:
        raise DataError(f"{path}: cannot read the voxel data ({error})") from error
    bad = int((~np.isfinite(data)).sum())
    if bad:
        raise DataError(f"{path} has {bad} NaN or infinite voxel(s); fix or mask them first")
    affine = np.asarray(image.affine, dtype=np.float64)
    viewed, to_view = reorient(data, affine, plane)
    return NiftiVolume(path, viewed, plane, affine, image.header, to_view)


def reorient(data: np.ndarray, affine: np.ndarray, plane: str) -> tuple[np.ndarray, np.ndarray]:
    """``data`` (voxel order of ``affine``) in viewing order ``(row, col, slice)`` of
    ``plane``, and the orientation transform that did it (axis permutations and flips)."""
    nib = _nibabel()
    source = nib.orientations.io_orientation(affine)
    to_view = nib.orientations.ornt_transform(source, nib.orientations.axcodes2ornt(PLANES[plane]))
    viewed = np.asarray(nib.orientations.apply_orientation(data, to_view), dtype=np.float32)
    return viewed, np.asarray(to_view)


def view_spacing(affine: np.ndarray, to_view: np.ndarray) -> tuple[float, float, float]:
    """Voxel spacing (mm) along the viewing axes ``(row, col, slice)`` of :func:`reorient`."""
    sizes = np.sqrt((np.asarray(affine, dtype=np.float64)[:3, :3] ** 2).sum(axis=0))
    spacing = [0.0, 0.0, 0.0]
    for axis, (target, _) in enumerate(to_view):
        spacing[int(target)] = float(sizes[axis])
    return spacing[0], spacing[1], spacing[2]


def checked_spacing(path: Path, volume: NiftiVolume) -> tuple[float, float, float]:
    """The volume's voxel spacing (mm, viewing axes) from its affine, after checking it:
    :class:`DataError` naming ``path`` when the header's voxel sizes (pixdim) disagree with
    the affine's by more than 0.1%, or a spacing is zero or not finite."""
    sizes = np.sqrt((volume.affine[:3, :3] ** 2).sum(axis=0))
    zooms = np.asarray(volume.header.get_zooms()[:3], dtype=np.float64)
    if not (np.isfinite(sizes).all() and (sizes > 0).all()):
        raise DataError(f"{path}: its affine gives voxel spacing {sizes.tolist()} mm")
    if not np.allclose(zooms, sizes, rtol=1e-3, atol=1e-6):
        raise DataError(
            f"{path}: mismatched spacing metadata: the header's voxel sizes (pixdim) are "
            f"{_mm(zooms)} mm but its affine's are {_mm(sizes)} mm; fix the header so both "
            "agree before resampling the volume"
        )
    return view_spacing(volume.affine, volume.to_view)


def _mm(values: np.ndarray) -> str:
    return "x".join(f"{value:g}" for value in values)


def parse_slices(spec: str | None, count: int, where: Path) -> range:
    """``None`` -> every slice; ``"40:60"`` (stop excluded), ``"50"``, ``"::5"`` -> a range."""
    if spec is None:
        return range(count)
    try:
        parts = [int(p) if p.strip() else None for p in spec.split(":")]
    except ValueError:
        raise InputError(f"--slices {spec!r}: give START:STOP[:STEP] or one index") from None
    if len(parts) == 1 and parts[0] is not None:
        index = parts[0] + count if parts[0] < 0 else parts[0]
        if not 0 <= index < count:
            raise InputError(f"--slices {spec}: {where} has slices 0..{count - 1}")
        return range(index, index + 1)
    if not 2 <= len(parts) <= 3 or parts[-1] == 0:
        raise InputError(f"--slices {spec!r}: give START:STOP[:STEP] or one index")
    chosen = range(count)[slice(*parts)]
    if len(chosen) == 0:
        raise InputError(f"--slices {spec} selects no slice of {where} (0..{count - 1})")
    return chosen


def save_nifti(path: Path, volume: np.ndarray, affine: np.ndarray, header: Any = None) -> Path:
    """Write a float32 volume with ``affine`` (and the source ``header``'s geometry), atomically."""
    nib = _nibabel()
    image = nib.Nifti1Image(volume.astype(np.float32), affine, header=header)
    image.set_data_dtype(np.float32)
    image.header.set_slope_inter(1.0, 0.0)
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    payload = image.to_bytes()
    if path.name.endswith(".gz"):
        payload = gzip.compress(payload, compresslevel=6)
    with atomic_path(path) as temp:
        temp.write_bytes(payload)
    return path
