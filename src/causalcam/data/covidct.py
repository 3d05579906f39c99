"""The COVID-CT data set (UCSD release, official split) as a torchvision-style dataset.

Layout under the root::

    CT_COVID/*.png|*.jpg            class 0
    CT_NonCOVID/*.png|*.jpg         class 1
    Data-split/COVID/{train,val,test}CT_COVID.txt
    Data-split/NonCOVID/{train,val,test}CT_NonCOVID.txt

Split files list one file name per line (CRLF or LF, final newline optional). An entry is a
bare file name: anything with a path separator or ``..`` is rejected, never followed. Images
are opened by content (some ``.png`` files hold JPEG data) and converted to grey ("L").
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from PIL import Image, UnidentifiedImageError

from .._io import cache_dir
from ..errors import DataError

CLASSES: tuple[str, str] = ("CT_COVID", "CT_NonCOVID")
SPLITS: tuple[str, str, str] = ("train", "val", "test")
_SPLIT_FOLDER = {"CT_COVID": "COVID", "CT_NonCOVID": "NonCOVID"}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a data set: the file at fault, the split-file line if any."""

    file: Path
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else str(self.file)
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Entry:
    """One image listed in a split file (``source`` and ``line`` say where it is listed)."""

    path: Path
    label: int
    source: Path
    line: int


def resolve_root(root: str | os.PathLike[str] | None = None) -> Path:
    """The data set folder: ``root`` if given, else ``$CAUSALCAM_DATA``, else
    ``cache_dir()/covid-ct`` (where ``causalcam data import`` puts it)."""
    if root is not None:
        chosen, origin = Path(root), "the root argument"
    elif os.environ.get("CAUSALCAM_DATA"):
        chosen, origin = Path(os.environ["CAUSALCAM_DATA"]), "$CAUSALCAM_DATA"
    else:
        chosen, origin = cache_dir() / "covid-ct", "the cache folder"
    chosen = chosen.expanduser()
    if chosen.is_file():
        raise DataError(
            f"{chosen} (from {origin}) is a file: this needs the COVID-CT folder with its "
            "images; a data pack (`causalcam data pack`) serves training and evaluation only"
        )
    if not chosen.is_dir():
        raise DataError(
            f"COVID-CT data set not found at {chosen} (from {origin}); pass a root, set "
            "CAUSALCAM_DATA, or run `causalcam data import DIR`"
        )
    return chosen


def split_file(root: Path, split: str, class_name: str) -> Path:
    """Path of the official split file listing ``class_name`` images of ``split``."""
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    return root / "Data-split" / _SPLIT_FOLDER[class_name] / f"{split}{class_name}.txt"


def _bad_name(name: str) -> str | None:
    """Why ``name`` is not a bare file name, or None if it is."""
    if "/" in name or "\\" in name:
        return "has a path separator"
    if name in (".", "..") or ".." in name.split("."):
        return "contains '..'"
    if "\x00" in name:
        return "contains a NUL character"
    return None


def read_split_file(path: Path, label: int, problems: list[Problem]) -> list[Entry]:
    """Parse one split file; append every malformed, duplicate or missing entry to
    ``problems`` and return the good entries (in file order)."""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as error:
        problems.append(Problem(path, f"cannot read split file ({error.strerror or error})"))
        return []
    except UnicodeDecodeError:
        problems.append(Problem(path, "split file is not UTF-8 text"))
        return []
    folder = path.parents[2] / CLASSES[label]
    entries: list[Entry] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        name = raw.strip()
        if not name:
            continue
        reason = _bad_name(name)
        if reason:
            problems.append(Problem(path, f"entry {name!r} {reason}; rejected", number))
        elif name in seen:
            problems.append(
                Problem(path, f"duplicate entry {name!r} (first on line {seen[name]})", number)
            )
        elif not (folder / name).is_file():
            problems.append(Problem(path, f"listed file {folder / name} does not exist", number))
        else:
            seen[name] = number
            entries.append(Entry(folder / name, label, path, number))
    return entries


def scan_split(root: Path, split: str) -> tuple[list[Entry], list[Problem]]:
    """All entries of ``split`` (COVID first, then NonCOVID) and every problem found.

    An image listed in two places (two classes, or two splits) is reported by
    :func:`causalcam.data.verify_dataset`, which sees every split at once.
    """
    problems: list[Problem] = []
    entries: list[Entry] = []
    for label, class_name in enumerate(CLASSES):
        entries += read_split_file(split_file(root, split, class_name), label, problems)
    return entries, problems


def raise_problems(problems: list[Problem]) -> None:
    """Raise one :class:`DataError` listing every problem (if there are any)."""
    if problems:
        shown = "\n  ".join(str(problem) for problem in problems)
        raise DataError(f"{len(problems)} problem(s) in the COVID-CT data set:\n  {shown}")


def open_grey(path: Path, where: str | None = None) -> Image.Image:
    """Decode an image by content (not extension) fully, and return it in mode "L".

    RGBA/LA alpha is dropped (the scans' alpha is opaque); colour becomes luminance
    ``L = 0.299 R + 0.587 G + 0.114 B`` (PIL's ITU-R 601 conversion); 16-bit grey is
    scaled to 8 bits. ``where`` (e.g. "split.txt:12") is named in errors.
    """
    context = f" (listed at {where})" if where else ""
    try:
        with Image.open(path) as image:
            image.load()
            if image.mode in ("I;16", "I;16B", "I;16L", "I"):
                return image.point(lambda value: value / 256).convert("L")
            return image.convert("L")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise DataError(f"cannot decode image {path}{context}: {error}") from error


class CovidCT:
    """COVID-CT with the official split: items are ``(PIL grey image, label)``.

    ``classes == ["CT_COVID", "CT_NonCOVID"]``; ``samples`` is a list of ``(path, label)``;
    ``transform`` (optional) is applied to the PIL image. Listing problems (missing file,
    duplicate, path separator, ``..``) raise :class:`DataError` at construction, all at once;
    an unreadable image raises when it is read, naming the file and its split-file line.
    """

    classes: ClassVar[list[str]] = list(CLASSES)

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        split: str = "train",
        transform: Callable[[Image.Image], Any] | None = None,
    ) -> None:
        self.root = resolve_root(root)
        self.split = split
        self.transform = transform
        self.entries, problems = scan_split(self.root, split)
        raise_problems(problems)
        self.samples: list[tuple[Path, int]] = [(e.path, e.label) for e in self.entries]
        self.targets: list[int] = [e.label for e in self.entries]

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        entry = self.entries[index]
        image = open_grey(entry.path, f"{entry.source}:{entry.line}")
        return (self.transform(image) if self.transform else image), entry.label

    def __repr__(self) -> str:
        return f"CovidCT(root={str(self.root)!r}, split={self.split!r}, n={len(self)})"
