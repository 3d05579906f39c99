"""Fixtures for the data tests: an isolated cache, the real data set, fake data sets."""

from __future__ import annotations

from pathlib import Path

import pytest

from causalcam.data.fake import write_fake_dataset


@pytest.fixture(autouse=True)
def _temporary_cache(isolated_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Caches go to a temporary folder; no ambient $CAUSALCAM_DATA."""
    monkeypatch.delenv("CAUSALCAM_DATA", raising=False)
    return isolated_cache


@pytest.fixture
def fake_root(tmp_path: Path) -> Path:
    """A fresh fake COVID-CT with every quirk of the real one."""
    return write_fake_dataset(tmp_path / "covid-ct")
