"""Fixtures for the model tests: an isolated cache and the real data set."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _temporary_cache(isolated_cache: Path) -> Path:
    """Every model test writes its caches to a temporary folder."""
    return isolated_cache
