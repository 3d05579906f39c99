"""A packed COVID-CT: every split as uint8 tensors in one file, without the images.

For a machine that should receive tensors, not a folder of 746 images (a GPU host with a
limit on what is sent to it): ``causalcam data pack OUT --size 224`` writes the training split
at the training geometry and the validation and test splits at the evaluation geometry of
each size (:func:`causalcam.data.cache.write_pack`), and ``--data OUT`` (or
``$CAUSALCAM_DATA=OUT``) then serves :func:`causalcam.data.cache.cached_split` from the
file. Loaded with ``weights_only=True``; every split's checksum is verified on load.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import DataError
from .tensors import SplitTensors, split_key, tensor_checksum

PACK_FORMAT = "causalcam-pack/1"


def pack_file(root: str | os.PathLike[str] | None) -> Path | None:
    """The pack ``root`` (or ``$CAUSALCAM_DATA`` when ``root`` is None) names, if it is a
    file; None for a data folder."""
    chosen = root if root is not None else os.environ.get("CAUSALCAM_DATA") or None
    if chosen is None:
        return None
    path = Path(chosen).expanduser()
    return path if path.is_file() else None


@dataclass(frozen=True)
class Pack:
    """A loaded pack: its file and its splits by :func:`split_key`."""

    path: Path
    splits: dict[str, SplitTensors]

    def split(self, split: str, resize: int, crop: int) -> SplitTensors:
        """One split at one geometry; a :class:`DataError` naming what the pack holds if absent."""
        key = split_key(split, resize, crop)
        if key not in self.splits:
            raise DataError(
                f"{self.path}: the pack holds no {split} split resized to {resize} px and "
                f"cropped to {crop} px (it holds {', '.join(sorted(self.splits))}); pack the "
                "data set again with the input size needed (`causalcam data pack --size N`)"
            )
        return self.splits[key]


def _entry(path: Path, key: str, value: object) -> SplitTensors:
    if not isinstance(value, dict) or set(value) != {"images", "labels", "names", "checksum"}:
        raise DataError(f"{path}: split {key} of the pack is malformed")
    tensors = SplitTensors(value["images"], value["labels"], value["names"], value["checksum"])
    if tensor_checksum(tensors.images, tensors.labels) != tensors.checksum:
        raise DataError(f"{path}: split {key} of the pack fails its checksum (corrupt file)")
    return tensors


@functools.lru_cache(maxsize=4)
def _load(path: Path, mtime_ns: int, size: int) -> Pack:
    del mtime_ns, size  # part of the cache key only: a rewritten file is read again
    try:
        stored = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise DataError(f"{path}: not a causalcam data pack ({error})") from error
    if not isinstance(stored, dict) or stored.get("format") != PACK_FORMAT:
        raise DataError(f"{path}: not a causalcam data pack (expected format {PACK_FORMAT})")
    splits = stored.get("splits")
    if not isinstance(splits, dict):
        raise DataError(f"{path}: the pack lists no splits")
    return Pack(path, {key: _entry(path, key, value) for key, value in splits.items()})


def read_pack(path: str | os.PathLike[str]) -> Pack:
    """The pack at ``path`` (kept in memory until the file changes)."""
    resolved = Path(path).expanduser().resolve()
    stat = resolved.stat()
    return _load(resolved, stat.st_mtime_ns, stat.st_size)
