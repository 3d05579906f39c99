"""One split of COVID-CT as tensors, as the cache and a pack hold it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class SplitTensors:
    """One cached split: ``images`` uint8 (B, crop, crop), ``labels`` int64 (B,), file names,
    and ``checksum`` (SHA-256 of the image bytes and labels, independent of file dates)."""

    images: torch.Tensor
    labels: torch.Tensor
    names: list[str]
    checksum: str


def split_key(split: str, resize: int, crop: int) -> str:
    """``test-r256-c224``: a split at one geometry, as the cache and a pack name it."""
    return f"{split}-r{resize}-c{crop}"


def tensor_checksum(images: torch.Tensor, labels: torch.Tensor) -> str:
    """SHA-256 of the uint8 image bytes followed by the int64 labels."""
    digest = hashlib.sha256(images.contiguous().numpy().tobytes())
    digest.update(labels.contiguous().numpy().tobytes())
    return digest.hexdigest()
