"""A few real COVID-CT test scans bundled with the package (grey, downscaled PNG).

They let the demo and the examples run on a fresh machine without the data set.
``samples.json`` records each file's label and the original file it was made from;
:func:`write_samples` regenerates them from a copy of the data set.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from PIL import Image

from .._io import atomic_path, atomic_write_json
from ..errors import DataError
from .covidct import CLASSES, open_grey, resolve_root

SAMPLES_DIR = Path(str(resources.files("causalcam"))) / "assets" / "samples"
SAMPLE_SIDE = 256

# Three COVID and three NonCOVID scans of the official test split, from different sources,
# sizes and file types (RGBA/RGB/grey PNG, JPEG).
SAMPLE_SOURCES: tuple[tuple[str, str], ...] = (
    ("CT_COVID", "2020.03.25.20037721-p27-173.png"),
    ("CT_COVID", "kjr-21-e25-p1-6.png"),
    ("CT_COVID", "PIIS0140673620303603%8.png"),
    ("CT_NonCOVID", "1049.png"),
    ("CT_NonCOVID", "16.jpg"),
    ("CT_NonCOVID", "14%0.jpg"),
)


@dataclass(frozen=True)
class SampleScan:
    """A bundled scan: ``path`` to a grey PNG, ``label`` (0 COVID, 1 NonCOVID), ``name``,
    and ``source``, the data set file it was made from."""

    path: Path
    label: int
    name: str
    source: str

    @property
    def class_name(self) -> str:
        return CLASSES[self.label]

    def load(self) -> Image.Image:
        """The scan as a PIL grey ("L") image."""
        return open_grey(self.path)


def sample_scans(folder: str | os.PathLike[str] | None = None) -> list[SampleScan]:
    """The bundled sample scans, in ``samples.json`` order (COVID first)."""
    base = Path(folder) if folder is not None else SAMPLES_DIR
    index = base / "samples.json"
    try:
        records = json.loads(index.read_text(encoding="utf-8"))["samples"]
    except (OSError, ValueError, KeyError) as error:
        raise DataError(f"cannot read the sample index {index}: {error}") from error
    return [
        SampleScan(base / r["file"], CLASSES.index(r["class"]), r["name"], r["source"])
        for r in records
    ]


def write_samples(
    root: str | os.PathLike[str] | None = None,
    dest: str | os.PathLike[str] | None = None,
    side: int = SAMPLE_SIDE,
) -> list[SampleScan]:
    """Regenerate the bundled samples from the data set: grey, shorter side ``side``
    (never enlarged), PNG, plus ``samples.json``."""
    data_root = resolve_root(root)
    out = Path(dest) if dest is not None else SAMPLES_DIR
    records = []
    for number, (class_name, source) in enumerate(SAMPLE_SOURCES, start=1):
        grey = open_grey(data_root / class_name / source)
        scale = min(1.0, side / min(grey.size))
        small = grey.resize(
            (round(grey.width * scale), round(grey.height * scale)), Image.Resampling.LANCZOS
        )
        name = f"{class_name.removeprefix('CT_').lower()}_{number}"
        with atomic_path(out / f"{name}.png") as temp:
            small.save(temp, format="PNG", optimize=True)
        records.append({"file": f"{name}.png", "name": name, "class": class_name, "source": source})
    atomic_write_json(out / "samples.json", {"split": "test", "samples": records})
    return sample_scans(out)
