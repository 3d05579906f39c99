"""The bundled sample scans: real test-split images, grey, small."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from causalcam.data import CLASSES, CovidCT, sample_scans
from causalcam.data.samples import SAMPLES_DIR, write_samples


def test_bundled_samples_are_small_grey_and_balanced() -> None:
    samples = sample_scans()
    assert [s.label for s in samples] == [0, 0, 0, 1, 1, 1]
    assert len({s.name for s in samples}) == 6
    assert sum(p.stat().st_size for p in SAMPLES_DIR.iterdir()) < 500_000
    for sample in samples:
        image = sample.load()
        assert image.mode == "L" and 200 <= min(image.size) <= 256
        assert sample.path.parent == SAMPLES_DIR and sample.class_name == CLASSES[sample.label]


def test_samples_come_from_the_test_split(real_root: Path) -> None:
    test = {(path.name, label) for path, label in CovidCT(real_root, "test").samples}
    assert all((s.source, s.label) in test for s in sample_scans())


def test_regenerating_matches_the_bundle(real_root: Path, tmp_path: Path) -> None:
    regenerated = write_samples(real_root, tmp_path)
    for made, bundled in zip(regenerated, sample_scans(), strict=True):
        assert (made.name, made.label, made.source) == (bundled.name, bundled.label, bundled.source)
        assert np.array_equal(np.asarray(made.load()), np.asarray(bundled.load()))
