"""Decode once: preprocessed grey scans cached on disk as uint8 tensors.

A cache file holds one split at one geometry (shorter side resized to ``resize``, centre
crop ``crop``). Its name carries a fingerprint of the split files' bytes and of every listed
image's name, size and modification time, so editing, replacing or adding an image or a
split line makes a new cache (stale ones for the same split and geometry are deleted).
Files are written atomically and loaded with ``weights_only=True``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as TF
from tqdm import tqdm

from .._io import atomic_path, cache_dir
from ..errors import DataError
from .covidct import CLASSES, Entry, open_grey, raise_problems, resolve_root, scan_split, split_file
from .pack import PACK_FORMAT, Pack, pack_file, read_pack
from .tensors import SplitTensors, split_key, tensor_checksum


def eval_resize(size: int) -> int:
    """Shorter side before the evaluation centre crop: ``round(size * 256 / 224)``."""
    return round(size * 256 / 224)


def prepare(image: Image.Image, resize: int, crop: int) -> np.ndarray:
    """Resize the shorter side to ``resize`` (bilinear, antialiased), centre-crop ``crop``."""
    resized = TF.resize(image, [resize], interpolation=InterpolationMode.BILINEAR, antialias=True)
    return np.asarray(TF.center_crop(resized, [crop, crop]), dtype=np.uint8)


def fingerprint(root: Path, split: str, entries: list[Entry]) -> str:
    """SHA-256 of the split files' bytes and each entry's name, byte size and mtime."""
    digest = hashlib.sha256()
    for class_name in CLASSES:
        digest.update(split_file(root, split, class_name).read_bytes())
    for entry in entries:
        stat = entry.path.stat()
        digest.update(
            f"{entry.label}/{entry.path.name}|{stat.st_size}|{stat.st_mtime_ns}\n".encode()
        )
    return digest.hexdigest()


def _decode_all(entries: list[Entry], resize: int, crop: int, progress: bool) -> torch.Tensor:
    images = np.empty((len(entries), crop, crop), dtype=np.uint8)
    for index, entry in enumerate(tqdm(entries, desc="decoding", disable=not progress)):
        grey = open_grey(entry.path, f"{entry.source}:{entry.line}")
        images[index] = prepare(grey, resize, crop)
    return torch.from_numpy(images)


def cached_split(
    split: str,
    resize: int,
    crop: int,
    root: str | os.PathLike[str] | None = None,
    progress: bool = False,
) -> SplitTensors:
    """``split`` decoded at one geometry, from the on-disk cache when it is current, or from
    the pack (:mod:`causalcam.data.pack`) when ``root`` or ``$CAUSALCAM_DATA`` names one."""
    packed = pack_file(root)
    if packed is not None:
        return read_pack(packed).split(split, resize, crop)
    data_root = resolve_root(root)
    entries, problems = scan_split(data_root, split)
    raise_problems(problems)
    key = fingerprint(data_root, split, entries)[:20]
    folder = cache_dir() / "covidct"
    stem = f"{split_key(split, resize, crop)}-"
    path = folder / f"{stem}{key}.pt"
    if path.is_file():
        try:
            stored = torch.load(path, map_location="cpu", weights_only=True)
            return SplitTensors(
                stored["images"], stored["labels"], stored["names"], stored["checksum"]
            )
        except Exception:  # any unreadable cache is rebuilt below
            path.unlink(missing_ok=True)  # corrupt cache: rebuild below
    images = _decode_all(entries, resize, crop, progress)
    labels = torch.tensor([entry.label for entry in entries], dtype=torch.int64)
    result = SplitTensors(
        images, labels, [entry.path.name for entry in entries], tensor_checksum(images, labels)
    )
    with atomic_path(path) as temp:
        torch.save(result.__dict__, temp)
    for stale in folder.glob(f"{stem}*.pt"):
        if stale != path:
            stale.unlink(missing_ok=True)
    return result


def load_split(
    split: str,
    size: int = 224,
    root: str | os.PathLike[str] | None = None,
    progress: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Evaluation tensors of ``split``: grey uint8 ``(B, size, size)`` and int64 labels ``(B,)``.

    Preprocessing is deterministic: shorter side to ``round(size * 256 / 224)``, centre crop
    ``size``. Cached on disk per (split, size); the cache is rebuilt when the source changes.
    """
    tensors = cached_split(split, eval_resize(size), size, root, progress)
    return tensors.images, tensors.labels


def first_per_class(labels: torch.Tensor, limit: int | None, n_classes: int) -> torch.Tensor:
    """Indices of all items, or of the first ``limit`` of each class, in file order."""
    if limit is None:
        return torch.arange(len(labels))
    keep = torch.cat([(labels == c).nonzero()[:limit, 0] for c in range(n_classes)])
    return keep.sort().values


def pack_geometries(size: int) -> list[tuple[str, int, int]]:
    """What training and evaluation at ``size`` read: the training split as a square of the
    evaluation resize (random crops are cut from it), validation and test centre-cropped."""
    resize = eval_resize(size)
    return [("train", resize, resize), ("val", resize, size), ("test", resize, size)]


def write_pack(
    out: str | os.PathLike[str],
    sizes: Iterable[int] = (224,),
    root: str | os.PathLike[str] | None = None,
    progress: bool = False,
) -> Pack:
    """Pack the data set at ``root`` for the input ``sizes``; written atomically to ``out``."""
    target, packed = Path(out), pack_file(root)
    if packed is not None:
        raise DataError(f"{packed}: already a pack; give the COVID-CT folder to pack")
    splits = {
        split_key(*geometry): cached_split(*geometry, root=root, progress=progress)
        for size in sorted(set(sizes))
        for geometry in pack_geometries(size)
    }
    payload = {"format": PACK_FORMAT, "splits": {k: v.__dict__ for k, v in splits.items()}}
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as temp:
        torch.save(payload, temp)
    return Pack(target, splits)
