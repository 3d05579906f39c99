"""Fixtures for the command-line tests: an isolated cache and a small saved checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from causalcam import models
from causalcam.data import CLASSES
from causalcam.preprocess import Preprocessing


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Caches go to a temporary folder."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("CAUSALCAM_CACHE", str(cache))
    return cache


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded, untrained ResNet-18 checkpoint with 64 px inputs (fast on a CPU)."""
    torch.manual_seed(0)
    model = models.build("resnet18", num_classes=len(CLASSES))
    meta = models.CheckpointMeta(
        arch="resnet18", classes=list(CLASSES), preprocessing=Preprocessing(size=64)
    )
    return models.save_checkpoint(tmp_path_factory.mktemp("ckpt") / "r18.pt", model, meta)
