"""Fixtures of the distributed tests: a tiny checkpoint, scan files and a fake data set."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from causalcam.data.fake import write_fake_dataset


@pytest.fixture(autouse=True)
def _temporary_cache(isolated_cache: Path) -> Path:
    """Every distributed test writes its caches to a temporary folder."""
    return isolated_cache


@pytest.fixture(scope="session")
def tiny_checkpoint(untrained_checkpoint: Callable[[int], Path]) -> Path:
    """A seeded, untrained ResNet-18 taking 32 px inputs."""
    return untrained_checkpoint(32)


@pytest.fixture(scope="session")
def fake_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fake COVID-CT with 19 test images."""
    counts = {"train": (2, 2), "val": (2, 2), "test": (10, 9)}
    return write_fake_dataset(tmp_path_factory.mktemp("fake") / "covid-ct", counts=counts)
