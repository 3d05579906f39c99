"""Fixtures for the model tests: an isolated cache and the real data set."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("CAUSALCAM_CACHE", str(cache))
    return cache


@pytest.fixture(scope="session")
def real_root() -> Path:
    """The real COVID-CT ($CAUSALCAM_DATA or ../shared/covid-ct); skip when absent."""
    root = Path(os.environ.get("CAUSALCAM_DATA") or REPO.parent / "shared" / "covid-ct")
    if not (root / "Data-split").is_dir():
        pytest.skip(f"real COVID-CT data not found at {root}")
    return root
