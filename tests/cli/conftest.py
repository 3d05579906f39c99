"""Fixtures for the command-line tests: an isolated cache and a small saved checkpoint."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _temporary_cache(isolated_cache: Path) -> Path:
    """Every command-line test writes its caches to a temporary folder."""
    return isolated_cache


@pytest.fixture(scope="session")
def checkpoint(untrained_checkpoint: Callable[[int], Path]) -> Path:
    """A seeded, untrained ResNet-18 checkpoint with 64 px inputs (fast on a CPU)."""
    return untrained_checkpoint(64)
