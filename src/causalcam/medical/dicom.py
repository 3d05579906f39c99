"""DICOM slices and series read with pydicom: Hounsfield units, order and geometry.

Pixel values become Hounsfield units with the header's linear rescale
``HU = stored * RescaleSlope + RescaleIntercept``. A series is the slices of one folder that
share a Series Instance UID; they are ordered by their position along the slice normal
``n = row_cosine x column_cosine`` (``ImagePositionPatient . n``), else by Instance Number.
Only the fields of :mod:`causalcam.medical.privacy` are read into outputs.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from ..extras import require
from .privacy import slice_facts

#: Bytes 128-131 of a DICOM Part 10 file.
DICOM_MAGIC = b"DICM"
#: SOP class of a DICOMDIR (a media index, not an image).
DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"


def has_dicom_magic(path: Path) -> bool:
    """Whether ``path`` starts with the 128-byte preamble and ``DICM`` (Part 10 file)."""
    try:
        with open(path, "rb") as stream:
            head = stream.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:] == DICOM_MAGIC


def _pydicom() -> Any:
    return require("pydicom", "reading DICOM")


@dataclass
class DicomSlice:
    """One DICOM image's header facts (allow-listed) and where it lies; pixels read lazily."""

    path: Path
    facts: dict[str, Any]
    series_key: str
    shape: tuple[int, int]
    is_index: bool = False

    @property
    def position(self) -> np.ndarray | None:
        value = self.facts.get("ImagePositionPatient")
        return None if value is None else np.asarray(value, dtype=np.float64)

    @property
    def orientation(self) -> np.ndarray | None:
        value = self.facts.get("ImageOrientationPatient")
        return None if value is None else np.asarray(value, dtype=np.float64)


def read_header(path: Path) -> DicomSlice:
    """Header of a DICOM file (pixels not decoded); :class:`DataError` naming the file if it is
    not a DICOM image."""
    pydicom = _pydicom()
    try:
        dataset = pydicom.dcmread(path, defer_size=1024)
    except Exception as error:  # pydicom raises InvalidDicomError, OSError, struct errors...
        raise DataError(f"{path} is not a readable DICOM file ({type(error).__name__})") from error
    sop_class = str(getattr(dataset, "SOPClassUID", ""))
    media_class = str(getattr(getattr(dataset, "file_meta", None), "MediaStorageSOPClassUID", ""))
    is_index = DICOMDIR_SOP_CLASS in (sop_class, media_class)
    if not is_index and "PixelData" not in dataset:
        raise DataError(f"{path} is a DICOM file without pixel data (not an image)")
    rows, cols = int(getattr(dataset, "Rows", 0) or 0), int(getattr(dataset, "Columns", 0) or 0)
    series = str(getattr(dataset, "SeriesInstanceUID", "") or "")
    return DicomSlice(path, slice_facts(dataset), series, (rows, cols), is_index)


def read_hounsfield(path: Path) -> np.ndarray:
    """Pixels of a single-frame grey DICOM as float32 Hounsfield units ``(rows, cols)``."""
    pydicom = _pydicom()
    try:
        dataset = pydicom.dcmread(path)
    except Exception as error:
        raise DataError(f"{path} is not a readable DICOM file ({type(error).__name__})") from error
    if "PixelData" not in dataset:
        raise DataError(f"{path} is a DICOM file without pixel data (not an image)")
    syntax = getattr(getattr(dataset, "file_meta", None), "TransferSyntaxUID", None)
    try:
        pixels = np.asarray(dataset.pixel_array)
    except Exception as error:  # missing decoder plug-ins raise RuntimeError/NotImplementedError
        compressed = syntax is not None and getattr(syntax, "is_compressed", False)
        if compressed:
            raise DataError(
                f"{path} is compressed as {getattr(syntax, 'name', syntax)} and no installed "
                "decoder reads it (install pylibjpeg with its plug-ins, or decompress the "
                "series first, e.g. with gdcmconv --raw)"
            ) from error
        raise DataError(f"{path}: cannot decode the DICOM pixel data ({error})") from error
    frames = int(getattr(dataset, "NumberOfFrames", 1) or 1)
    if frames > 1 or pixels.ndim != 2:
        raise DataError(
            f"{path} holds {frames} frame(s) of shape {pixels.shape}; causalcam reads "
            "single-frame grey DICOM images (one file per slice)"
        )
    slope = float(getattr(dataset, "RescaleSlope", 1.0) or 1.0)
    intercept = float(getattr(dataset, "RescaleIntercept", 0.0) or 0.0)
    values = pixels.astype(np.float32) * np.float32(slope) + np.float32(intercept)
    if str(getattr(dataset, "PhotometricInterpretation", "")) == "MONOCHROME1":
        values = values.max() + values.min() - values  # MONOCHROME1 shows low values white
    if not np.isfinite(values).all():
        raise DataError(f"{path}: pixel data contains NaN or infinite values")
    return values


@dataclass
class DicomSeries:
    """The slices of one series in one folder, in order; ``geometry`` is ``None`` when the
    slices lack the position/orientation/spacing a volume needs (``reason`` says why)."""

    folder: Path
    slices: list[DicomSlice]
    affine: np.ndarray | None = None
    reason: str = ""
    rejected: list[tuple[Path, str]] = field(default_factory=list)


def group_series(headers: list[DicomSlice]) -> list[DicomSeries]:
    """One :class:`DicomSeries` per folder: the folder's largest consistent series, ordered.

    Files of another series in the same folder, or of another image size or orientation than
    most of their series, are rejected (``series.rejected``) with the reason, never mixed in.
    """
    by_folder: dict[Path, list[DicomSlice]] = {}
    for header in headers:
        by_folder.setdefault(header.path.parent, []).append(header)
    return [_one_series(folder, items) for folder, items in by_folder.items()]


def _one_series(folder: Path, items: list[DicomSlice]) -> DicomSeries:
    counts = Counter(item.series_key for item in items)
    main = sorted(counts, key=lambda key: (-counts[key], key))[0]
    series = DicomSeries(folder, [])
    for item in items:
        if item.series_key != main:
            series.rejected.append(
                (
                    item.path,
                    f"belongs to another DICOM series than the other {counts[main]} file(s) "
                    f"of folder {folder}; put each series in a folder of its own",
                )
            )
    kept = [item for item in items if item.series_key == main]
    shapes = Counter(item.shape for item in kept)
    shape = shapes.most_common(1)[0][0]
    for item in kept:
        if item.shape != shape:
            series.rejected.append(
                (item.path, f"is {item.shape[0]}x{item.shape[1]} pixels, its series {shape}")
            )
    series.slices = _ordered([item for item in kept if item.shape == shape])
    series.affine, series.reason = series_affine(series.slices)
    return series


def _normal(orientation: np.ndarray) -> np.ndarray:
    return np.cross(orientation[:3], orientation[3:])


def _ordered(slices: list[DicomSlice]) -> list[DicomSlice]:
    first = slices[0].orientation if slices else None
    if first is not None and all(s.position is not None for s in slices):
        normal = _normal(first)
        return sorted(slices, key=lambda s: (float(np.dot(s.position, normal)), str(s.path)))  # type: ignore[arg-type]
    return sorted(slices, key=lambda s: (s.facts.get("InstanceNumber", 0), str(s.path)))


def series_affine(slices: list[DicomSlice]) -> tuple[np.ndarray | None, str]:
    """NIfTI (RAS) affine of the volume ``data[col, row, slice]`` of ordered ``slices``.

    In DICOM's LPS frame voxel ``(j, i, k)`` (column, row, slice) lies at
    ``P0 + j * dc * r + i * dr * c + k * step * n`` (``r``/``c`` row/column cosines, ``dr, dc``
    = PixelSpacing, ``step`` the median distance between slices); RAS negates x and y.
    """
    if not slices:
        return None, "no slices"
    needed = ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing")
    if any(key not in s.facts for s in slices for key in needed):
        return None, "the slices lack position, orientation or pixel spacing"
    orientation = slices[0].orientation
    assert orientation is not None
    if any(not np.allclose(s.orientation, orientation, atol=1e-4) for s in slices):  # type: ignore[arg-type]
        return None, "the slices do not share one orientation"
    normal = _normal(orientation)
    along = np.array([float(np.dot(s.position, normal)) for s in slices])  # type: ignore[arg-type]
    steps = np.diff(along)
    if len(slices) > 1 and (steps <= 1e-6).any():
        return None, "two slices share one position"
    if len(slices) > 1:
        step = float(np.median(steps))
        if np.abs(steps - step).max() > 0.01 * step + 1e-3:
            return None, "the slices are not evenly spaced"
    else:
        step = float(slices[0].facts.get("SliceThickness", 1.0) or 1.0)
    row_spacing, col_spacing = slices[0].facts["PixelSpacing"]
    affine = np.eye(4)
    affine[:3, 0] = orientation[:3] * col_spacing
    affine[:3, 1] = orientation[3:] * row_spacing
    affine[:3, 2] = normal * step
    affine[:3, 3] = slices[0].position
    return np.diag([-1.0, -1.0, 1.0, 1.0]) @ affine, ""
