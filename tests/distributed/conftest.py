"""Fixtures of the distributed tests: a tiny checkpoint, scan files and a fake data set."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from causalcam import models
from causalcam.data import CLASSES
from causalcam.data.fake import write_fake_dataset
from causalcam.preprocess import Preprocessing


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("CAUSALCAM_CACHE", str(cache))
    return cache


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded, untrained ResNet-18 taking 32 px inputs."""
    torch.manual_seed(0)
    model = models.build("resnet18", num_classes=len(CLASSES))
    meta = models.CheckpointMeta(
        arch="resnet18", classes=list(CLASSES), preprocessing=Preprocessing(size=32)
    )
    return models.save_checkpoint(tmp_path_factory.mktemp("ckpt") / "r18.pt", model, meta)


@pytest.fixture(scope="session")
def fake_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fake COVID-CT with 19 test images."""
    counts = {"train": (2, 2), "val": (2, 2), "test": (10, 9)}
    return write_fake_dataset(tmp_path_factory.mktemp("fake") / "covid-ct", counts=counts)
