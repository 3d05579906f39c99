"""A tiny synthetic data set with COVID-CT's layout and every quirk of the real release.

For tests and examples without the real scans: CRLF NonCOVID split files (some without a
final newline), ``%`` in file names, ``.png`` files holding JPEG data, and RGBA / RGB / grey
images. Class 0 images carry a bright disc, class 1 a dark one, so a network can learn them.
A ``SHA256SUMS`` file lists every image and split file.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
from PIL import Image

from .covidct import CLASSES, SPLITS, split_file

FAKE_COUNTS: dict[str, tuple[int, int]] = {"train": (8, 8), "val": (4, 4), "test": (4, 4)}
_MODES = ("RGBA", "RGB", "L")


def fake_scan(label: int, index: int, size: tuple[int, int] = (40, 48)) -> np.ndarray:
    """A grey uint8 ``(H, W)`` image: noise plus a disc, bright for class 0, dark for class 1."""
    rng = np.random.default_rng(1000 * label + index)
    height, width = size
    image = rng.integers(60, 120, size=(height, width)).astype(np.float64)
    cy, cx = rng.integers(height // 3, 2 * height // 3), rng.integers(width // 3, 2 * width // 3)
    yy, xx = np.mgrid[:height, :width]
    disc = (yy - cy) ** 2 + (xx - cx) ** 2 < (min(height, width) // 4) ** 2
    image[disc] = 230 if label == 0 else 15
    return image.astype(np.uint8)


def _save(grey: np.ndarray, path: Path, mode: str, jpeg: bool) -> None:
    image = Image.fromarray(grey, "L").convert(mode)
    if jpeg:
        image.convert("RGB" if mode == "RGBA" else mode).save(path, format="JPEG", quality=95)
    else:
        image.save(path, format="PNG")


def _name(label: int, split: str, index: int) -> tuple[str, bool]:
    """File name and whether it holds JPEG data (COVID: some ``.png`` hold JPEG)."""
    if label == 0:
        stem = f"{split}-p{index}%{index % 3}" if index % 2 else f"{split}-covid-{index}"
        return f"{stem}.png", index % 4 == 1
    return (f"{split}{index}%0.jpg", True) if index % 3 == 0 else (f"{split}{index}.png", False)


def write_fake_dataset(
    root: str | os.PathLike[str],
    counts: dict[str, tuple[int, int]] | None = None,
    size: tuple[int, int] = (40, 48),
) -> Path:
    """Write a fake COVID-CT under ``root`` with ``counts[split] = (n_covid, n_noncovid)``."""
    base = Path(root)
    for class_name in CLASSES:
        (base / class_name).mkdir(parents=True, exist_ok=True)
    number = 0
    for split in SPLITS:
        for label, class_name in enumerate(CLASSES):
            names = []
            for index in range((counts or FAKE_COUNTS)[split][label]):
                name, jpeg = _name(label, split, index)
                grey = fake_scan(label, number, size)
                _save(grey, base / class_name / name, _MODES[number % 3], jpeg)
                names.append(name)
                number += 1
            listing = split_file(base, split, class_name)
            listing.parent.mkdir(parents=True, exist_ok=True)
            if label == 1:  # CRLF; train and val without a final newline
                ending = "\r\n" if split == "test" else ""
                listing.write_bytes(("\r\n".join(names) + ending).encode())
            else:
                listing.write_text("".join(f"{n}\n" for n in names), encoding="utf-8")
    write_checksums(base)
    return base


def write_checksums(root: Path) -> Path:
    """(Re)write ``root/SHA256SUMS`` for every image and split file, ``sha256sum`` style."""
    files = sorted(
        p for folder in (*CLASSES, "Data-split") for p in (root / folder).rglob("*") if p.is_file()
    )
    lines = [
        f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(root).as_posix()}\n"
        for p in files
    ]
    target = root / "SHA256SUMS"
    target.write_text("".join(lines), encoding="utf-8")
    return target
