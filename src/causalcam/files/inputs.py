"""What ``causalcam explain`` and ``causalcam serve`` read: files and folders become scans.

Every file is classified by name, then by content:

- images (PNG, JPEG, TIFF, ...): decoded by content; 8-bit grey as is, 16-bit grey kept at full
  depth and windowed (``minmax`` unless a window is given), colour kept as RGB (a grey model
  sees its luminance, see :func:`causalcam.files.model_sized`);
- DICOM (``.dcm``, ``.ima``, or any file with the ``DICM`` marker): grouped into one series
  per folder, ordered by slice position, Hounsfield units windowed (lung by default);
- NIfTI (``.nii``, ``.nii.gz``): one scan per slice of the chosen plane, windowed likewise;
- anything else (a README, a DICOMDIR index, notes): ignored and counted, not a failure.

A file that should be an image but cannot be read is *skipped* with its reason; the rest of
the run goes on. Scans are decoded lazily, one input at a time.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import CausalCamError, DataError, InputError
from ..extras import MissingExtraError
from ..medical.dicom import (
    DicomSeries,
    DicomSlice,
    group_series,
    has_dicom_magic,
    read_header,
    read_hounsfield,
)
from ..medical.nifti import PLANES, nifti_stem, parse_slices, read_volume
from ..medical.volumes import Volume
from ..medical.window import DEFAULT_WINDOW, WINDOW_PRESETS, Window, apply_window

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp"})
DICOM_SUFFIXES = frozenset({".dcm", ".dicom", ".ima"})
#: Files never read: indexes, notes and system files that sit beside scans.
IGNORED_NAMES = frozenset(
    {"dicomdir", "readme", "license", ".ds_store", "thumbs.db", "desktop.ini"}
)
IGNORED_SUFFIXES = frozenset(
    {".txt", ".md", ".rst", ".json", ".csv", ".tsv", ".xml", ".html", ".pdf", ".py", ".zip"}
)
#: Largest image decoded (pixels): above it an image is refused before decoding.
MAX_PIXELS = 50_000_000
_IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*", b"BM", b"GIF8", b"RIFF")


@dataclass(frozen=True)
class Reading:
    """How to turn files into scans: ``window`` (``None``: lung for DICOM/NIfTI, ``minmax``
    for 16-bit images), the NIfTI ``plane`` and ``slices`` (``"START:STOP[:STEP]"``)."""

    window: Window | None = None
    plane: str = "axial"
    slices: str | None = None

    def __post_init__(self) -> None:
        if self.plane not in PLANES:
            raise InputError(f"--plane {self.plane!r}: choose from {', '.join(PLANES)}")

    def to_dict(self) -> dict[str, Any]:
        window = self.window.to_dict() if self.window else None
        return {"window": window, "plane": self.plane, "slices": self.slices}


@dataclass
class Scan:
    """One 2-D image to explain: full-resolution uint8 ``pixels``, grey ``(H, W)`` or RGB
    ``(H, W, 3)``, its output folder ``name``, JSON ``facts`` (privacy-safe), and its place in
    a volume (``volume`` key, slice ``index``)."""

    source: Path
    name: str
    pixels: np.ndarray
    facts: dict[str, Any] = field(default_factory=dict)
    volume: str | None = None
    index: int = 0


@dataclass(frozen=True)
class Skipped:
    """A file that should have been explained but could not be, and why."""

    file: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"file": self.file, "reason": self.reason}


@dataclass
class InputItem:
    """One input to decode lazily: a plain image, a NIfTI file or a DICOM series (``kind``
    ``image``, ``nifti`` or ``dicom``; ``series`` for a DICOM series); ``load`` cuts it into
    scans, a 3-D network reads ``label`` or ``series`` whole (:mod:`.volume_inputs`)."""

    label: Path
    count: int | None
    load: Callable[[], tuple[list[Scan], Volume | None, list[Skipped]]]
    files: tuple[Path, ...] = ()
    kind: str = "image"
    series: DicomSeries | None = None
    number: int = 0


@dataclass
class Inputs:
    """The classified inputs of a run; :meth:`batches` decodes them and records failures."""

    items: list[InputItem]
    skipped: list[Skipped] = field(default_factory=list)
    ignored: list[Path] = field(default_factory=list)
    volumes: dict[str, Volume] = field(default_factory=dict)

    def files(self) -> list[Path]:
        """The files that will be read, in reading order."""
        return [file for item in self.items for file in item.files]

    @property
    def expected(self) -> int | None:
        """Scans to come, when known before decoding (``None`` with NIfTI volumes)."""
        if any(item.count is None for item in self.items):
            return None
        return sum(item.count or 0 for item in self.items)

    def scans(self) -> Iterator[Scan]:
        """Every readable scan, input by input; unreadable inputs go to :attr:`skipped`."""
        for item in self.items:
            try:
                scans, volume, skipped = item.load()
            except MissingExtraError:
                raise
            except CausalCamError as error:
                self.skipped.append(Skipped(str(item.label), skip_reason(error, item.label)))
                continue
            self.skipped.extend(skipped)
            if volume is not None:
                self.volumes[volume.key] = volume
            yield from scans

    def batches(self, size: int) -> Iterator[list[Scan]]:
        pending: list[Scan] = []
        for scan in self.scans():
            pending.append(scan)
            if len(pending) == size:
                yield pending
                pending = []
        if pending:
            yield pending

    def summary(self) -> dict[str, Any]:
        """``skipped`` (file, reason) and ``ignored`` (count, files) for the JSON summary."""
        return {
            "skipped": [s.to_dict() for s in self.skipped],
            "ignored": {"count": len(self.ignored), "files": [str(p) for p in self.ignored]},
        }


def skip_reason(error: Exception, label: Path) -> str:
    """The error's message without a leading copy of the file name (listed beside it)."""
    text = str(error)
    return text[len(str(label)) :].lstrip(" :") if text.startswith(str(label)) else text


def gather(inputs: Iterable[str | os.PathLike[str]], reading: Reading = Reading()) -> Inputs:
    """Expand files and folders (recursively, sorted) and classify every file (module doc)."""
    found = Inputs([])
    dicoms: list[DicomSlice] = []
    given = [Path(item).expanduser() for item in inputs]
    if not given:
        raise InputError("no input images given")
    for path in given:
        if path.is_dir():
            before = (len(found.items), len(found.skipped), len(dicoms))
            ignored = len(found.ignored)
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                _classify(file, reading, found, dicoms, explicit=False)
            if (len(found.items), len(found.skipped), len(dicoms)) == before:
                raise InputError(
                    f"folder {path} holds no image files ({_known_kinds()}); "
                    f"{len(found.ignored) - ignored} other file(s) ignored"
                )
        elif path.is_file():
            _classify(path, reading, found, dicoms, explicit=True)
        else:
            raise InputError(f"{path}: no such file or folder")
    if not (found.items or found.skipped or dicoms):
        raise InputError(f"no images among the inputs ({len(found.ignored)} file(s) ignored)")
    for number, series in enumerate(group_series(dicoms), start=1):
        found.skipped.extend(Skipped(str(p), reason) for p, reason in series.rejected)
        found.items.append(_series_item(series, number, reading))
    return found


def _known_kinds() -> str:
    return ", ".join(sorted(IMAGE_SUFFIXES | DICOM_SUFFIXES | {".nii", ".nii.gz"}))


def file_kind(path: Path, explicit: bool = False) -> str:
    """``"image"``, ``"dicom"``, ``"nifti"`` or ``"ignored"`` by name, then by content."""
    name = path.name.lower()
    suffix = path.suffix.lower()
    if name.endswith((".nii", ".nii.gz")):
        return "nifti"
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in DICOM_SUFFIXES:
        return "dicom"
    if not explicit and (
        name in IGNORED_NAMES or path.stem.lower() in IGNORED_NAMES or name.startswith(".")
    ):
        return "ignored"
    if not explicit and suffix in IGNORED_SUFFIXES:
        return "ignored"
    if has_dicom_magic(path):
        return "dicom"
    try:
        with open(path, "rb") as stream:
            head = stream.read(352)
    except OSError:
        return "image" if explicit else "ignored"
    if head.startswith(_IMAGE_MAGIC):
        return "image"
    if len(head) >= 348 and head[344:348] in (b"n+1\x00", b"ni1\x00"):
        return "nifti"
    return "image" if explicit else "ignored"


def _classify(
    path: Path, reading: Reading, found: Inputs, dicoms: list[DicomSlice], explicit: bool
) -> None:
    kind = file_kind(path, explicit)
    if kind == "ignored":
        found.ignored.append(path)
    elif kind == "image":
        found.items.append(
            InputItem(path, 1, lambda: ([read_image_scan(path, reading)], None, []), (path,))
        )
    elif kind == "nifti":
        load = partial(_nifti_scans, path, reading)
        found.items.append(InputItem(path, None, load, (path,), "nifti"))
    else:
        try:
            header = read_header(path)
        except MissingExtraError:
            raise
        except CausalCamError as error:
            found.skipped.append(Skipped(str(path), skip_reason(error, path)))
            return
        if header.is_index or path.name.upper() == "DICOMDIR":
            found.ignored.append(path)
        else:
            dicoms.append(header)


#: Image modes read as 8-bit grey; other 8-bit modes (RGB, RGBA, palette, CMYK...) as RGB.
GREY_MODES = frozenset({"L", "LA", "1"})


def image_values(path: Path) -> tuple[np.ndarray, bool]:
    """Pixels of an image file and whether they are deeper than 8 bits.

    16-bit grey comes back as int32 ``(H, W)`` at full depth; 8-bit grey as uint8 ``(H, W)``;
    colour as uint8 RGB ``(H, W, 3)``. Images over :data:`MAX_PIXELS` are refused before
    decoding."""
    too_big = f"{path} is over {MAX_PIXELS / 1e6:.0f} megapixels, the most causalcam reads"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise DataError(
                        f"{path} is {width}x{height} = {width * height / 1e6:.0f} megapixels, "
                        f"over the {MAX_PIXELS / 1e6:.0f} megapixels causalcam reads"
                    )
                image.load()
                if image.mode in ("I;16", "I;16B", "I;16L", "I"):
                    return np.asarray(image, dtype=np.int32), True
                mode = "L" if image.mode in GREY_MODES else "RGB"
                return np.asarray(image.convert(mode), dtype=np.uint8), False
    except Image.DecompressionBombError as error:
        raise DataError(too_big) from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        if isinstance(error, DataError):
            raise
        raise DataError(f"{path}: cannot decode image ({error})") from error


def read_image_scan(path: Path, reading: Reading) -> Scan:
    """A PNG/JPEG/TIFF... as one scan; 16-bit grey is windowed at full depth."""
    values, deep = image_values(path)
    facts: dict[str, Any] = {}
    if deep:
        window = reading.window or WINDOW_PRESETS["minmax"]
        values = apply_window(values, window)
        facts["image"] = {"bit_depth": 16, "window": window.to_dict()}
    return Scan(path, path.stem, values.astype(np.uint8), facts)


def _nifti_scans(path: Path, reading: Reading) -> tuple[list[Scan], Volume, list[Skipped]]:
    volume = read_volume(path, reading.plane)
    count = volume.data.shape[2]
    chosen = parse_slices(reading.slices, count, path)
    window = reading.window or DEFAULT_WINDOW
    stem = nifti_stem(path)
    key = f"nifti:{path}"
    scans = [
        Scan(
            path,
            f"{stem}/{reading.plane}-{k:04d}",
            apply_window(volume.data[:, :, k], window),
            {"nifti": {"plane": reading.plane, "slice": k, "slices": count}},
            key,
            k,
        )
        for k in chosen
    ]
    rows, cols = volume.data.shape[:2]
    target = Volume(
        key,
        stem,
        path,
        (rows, cols, count),
        volume.affine,
        volume.header,
        volume.to_source,
        len(scans),
    )
    return scans, target, []


def _series_item(series: DicomSeries, number: int, reading: Reading) -> InputItem:
    label = series.folder if len(series.slices) > 1 else series.slices[0].path
    files = tuple(header.path for header in series.slices)
    load = partial(_series_scans, series, number, reading)
    return InputItem(label, len(series.slices), load, files, "dicom", series, number)


def _series_scans(
    series: DicomSeries, number: int, reading: Reading
) -> tuple[list[Scan], Volume | None, list[Skipped]]:
    window = reading.window or DEFAULT_WINDOW
    name = f"dicom-series-{number}"
    key = f"dicom:{series.folder}:{number}"
    chosen = parse_slices(reading.slices, len(series.slices), series.folder)
    scans: list[Scan] = []
    skipped: list[Skipped] = []
    for k in chosen:
        header = series.slices[k]
        try:
            hu = read_hounsfield(header.path)
        except CausalCamError as error:
            skipped.append(Skipped(str(header.path), skip_reason(error, header.path)))
            continue
        facts = {
            "dicom": {
                "sop_instance_uid": header.facts.get("SOPInstanceUID"),
                "slice_position": header.facts.get("ImagePositionPatient"),
                "instance_number": header.facts.get("InstanceNumber"),
                "series": name,
                "slice": k,
                "window": window.to_dict(),
            }
        }
        scans.append(
            Scan(header.path, f"{name}/slice-{k:04d}", apply_window(hu, window), facts, key, k)
        )
    rows, cols = series.slices[0].shape
    volume = Volume(
        key,
        name,
        series.folder,
        (rows, cols, len(series.slices)),
        series.affine,
        None,
        _dicom_to_source,
        len(scans),
        series.reason,
    )
    return scans, volume, skipped


def _dicom_to_source(volume: np.ndarray) -> np.ndarray:
    """``(row, col, slice)`` -> the NIfTI order ``(col, row, slice)`` of :func:`series_affine`."""
    return np.ascontiguousarray(volume.transpose(1, 0, 2))
