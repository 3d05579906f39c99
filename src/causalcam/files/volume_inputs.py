"""Whole volumes for a 3-D network: a NIfTI file or a DICOM series read at once, windowed,
in one orientation, with its voxel spacing checked.

A volume comes in the axial viewing order ``(D, H, W)`` = (inferior to superior, anterior to
posterior, the patient's right to left), the order the bundled 3-D network learnt, whatever
the file's own voxel order; :attr:`WholeVolume.to_source` turns a map in that order back into
the file's voxel order, to be saved with the source affine. Bad spacing metadata (a NIfTI
header whose voxel sizes disagree with its affine, DICOM slices of different pixel spacing
or without the geometry a volume needs) is a :class:`~causalcam.errors.DataError` naming the
file or folder. A plain image given to a 3-D network is skipped with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CausalCamError, DataError
from ..extras import MissingExtraError
from ..medical.dicom import DicomSeries, read_hounsfield
from ..medical.nifti import (
    NiftiVolume,
    checked_spacing,
    nifti_stem,
    read_volume,
    reorient,
    view_spacing,
)
from ..medical.window import DEFAULT_WINDOW, Window, apply_window
from .inputs import InputItem, Inputs, Skipped, skip_reason

Triple = tuple[float, float, float]


@dataclass
class WholeVolume:
    """A volume to explain whole: ``grey`` uint8 ``(D, H, W)`` after the window, ``spacing``
    (mm along D, H, W), the source ``affine`` and ``header`` (``None`` for DICOM) its maps are
    saved with, ``to_source`` (a ``(D, H, W)`` array -> the file's voxel order) and JSON
    ``facts``."""

    source: Path
    name: str
    grey: np.ndarray
    spacing: Triple
    affine: np.ndarray
    header: Any
    to_source: Callable[[np.ndarray], np.ndarray]
    facts: dict[str, Any] = field(default_factory=dict)


def _axial_first(viewed: np.ndarray) -> np.ndarray:
    """Axial viewing order ``(row, col, slice)`` -> ``(slice, row, col)``."""
    return np.ascontiguousarray(viewed.transpose(2, 0, 1))


def _whole(volume: NiftiVolume, spacing: Triple, window: Window, name: str) -> WholeVolume:
    """An axial :class:`NiftiVolume` (``spacing`` along its row, col, slice) as a
    :class:`WholeVolume`."""
    row, col, depth = spacing

    def to_source(values: np.ndarray) -> np.ndarray:
        return volume.to_source(np.ascontiguousarray(values.transpose(1, 2, 0)))

    grey = _axial_first(apply_window(volume.data, window))
    facts = {"shape": list(grey.shape), "spacing": [depth, row, col], "window": window.to_dict()}
    return WholeVolume(
        volume.path,
        name,
        grey,
        (depth, row, col),
        volume.affine,
        volume.header,
        to_source,
        facts,
    )


def read_nifti_whole(path: Path, window: Window) -> WholeVolume:
    """A NIfTI file as a :class:`WholeVolume` (module doc)."""
    volume = read_volume(path, "axial")
    return _whole(volume, checked_spacing(path, volume), window, nifti_stem(path))


def _check_series(series: DicomSeries) -> None:
    """:class:`DataError` naming the folder for a series a volume cannot be made of."""
    if series.affine is None:
        raise DataError(
            f"{series.folder}: a 3-D network needs the series' geometry, but {series.reason}"
        )
    spacings = [tuple(s.facts["PixelSpacing"]) for s in series.slices]
    for header, spacing in zip(series.slices, spacings, strict=True):
        if not np.allclose(spacing, spacings[0], rtol=1e-4):
            raise DataError(
                f"{series.folder}: mismatched spacing metadata: {header.path.name} has pixel "
                f"spacing {list(spacing)} mm, {series.slices[0].path.name} "
                f"{list(spacings[0])} mm"
            )


def read_dicom_whole(series: DicomSeries, number: int, window: Window) -> WholeVolume:
    """A DICOM series (one folder) as a :class:`WholeVolume` (module doc)."""
    _check_series(series)
    affine = series.affine
    assert affine is not None
    # the voxel order of medical.dicom.series_affine: (column, row, slice)
    hounsfield = np.stack([read_hounsfield(s.path) for s in series.slices], axis=2)
    data = np.ascontiguousarray(hounsfield.transpose(1, 0, 2))
    viewed, to_view = reorient(data, affine, "axial")
    volume = NiftiVolume(series.folder, viewed, "axial", affine, None, to_view)
    return _whole(volume, view_spacing(affine, to_view), window, f"dicom-series-{number}")


def whole_volumes(found: Inputs, window: Window | None) -> Iterator[WholeVolume]:
    """Every NIfTI file and DICOM series of ``found`` read whole, one at a time (``window``:
    lung by default); a plain image, or an input that cannot be read, goes to
    ``found.skipped`` with the reason."""
    for item in found.items:
        try:
            yield _read_item(item, window or DEFAULT_WINDOW)
        except MissingExtraError:
            raise
        except CausalCamError as error:
            found.skipped.append(Skipped(str(item.label), skip_reason(error, item.label)))


def _read_item(item: InputItem, window: Window) -> WholeVolume:
    if item.kind == "nifti":
        return read_nifti_whole(item.label, window)
    if item.kind == "dicom" and item.series is not None:
        return read_dicom_whole(item.series, item.number, window)
    raise DataError(
        f"{item.label} is a 2-D image; a 3-D network explains volumes (a NIfTI file or a "
        "DICOM series folder)"
    )
