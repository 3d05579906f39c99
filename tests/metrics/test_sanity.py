"""Sanity checks: similarity measures against scipy/scikit-image, randomisation, verdicts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from metrics_helpers import METHODS, Case, ForwardCount, TinyNet

from causalcam.errors import InputError
from causalcam.metrics import (
    SanityChecks,
    randomisation_units,
    randomise,
    sanity_figure,
    spearman,
    ssim,
)
from causalcam.results.metrics import SanityResult


def test_spearman_and_ssim_equal_scipy_and_scikit_image() -> None:
    stats = pytest.importorskip("scipy.stats")
    metrics = pytest.importorskip("skimage.metrics")
    rng = np.random.default_rng(0)
    a = rng.random((2, 16, 12))
    b = np.round(a + 0.3 * rng.standard_normal((2, 16, 12)), 1)  # ties
    expected = [
        stats.spearmanr(np.abs(x).ravel(), np.abs(y).ravel())[0] for x, y in zip(a, b, strict=True)
    ]
    np.testing.assert_allclose(spearman(a, -b), expected, atol=1e-12)
    b = np.clip(b, 0, 1)
    expected = [
        metrics.structural_similarity(x, y, data_range=1.0) for x, y in zip(a, b, strict=True)
    ]
    np.testing.assert_allclose(ssim(a, b), expected, atol=1e-10)
    assert np.isnan(spearman(np.ones((1, 4, 4)), a[:1, :4, :4])[0])


def test_units_top_down_and_randomise_changes_only_the_unit() -> None:
    model = TinyNet()
    assert randomisation_units(model) == ["fc", "features.2", "features.0", "stem.1", "stem.0"]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    randomise(model, "features.2", seed=0)
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert changed == {"features.2.weight", "features.2.bias"}


def test_sanity_checks_rows_verdicts_and_figure(case: Case, tmp_path: Path) -> None:
    weights = {k: v.clone() for k, v in case.model.state_dict().items()}
    checks = SanityChecks(units=["fc", "features.2"], n_boot=200)
    with ForwardCount(case.model) as count:
        result, snapshots = checks(case.model, case.inputs, METHODS, target_layer="features")
    # one explanation each: the trained model, 2 x 2 randomised models, the random logit
    assert count.images == case.inputs.shape[0] * (1 + 4 + 1)
    assert all(torch.equal(v, weights[k]) for k, v in case.model.state_dict().items())
    assert {(r.test, r.layer) for r in result.rows} == {
        ("cascading", "fc"),
        ("cascading", "features.2"),
        ("independent", "fc"),
        ("independent", "features.2"),
        ("random_logit", ""),
    }
    assert len(result.rows) == 5 * len(METHODS)
    assert all(len(r.spearman) == 4 and len(r.ssim) == 4 for r in result.rows)
    # 3 verdicts per method: cascading Spearman and SSIM, random-logit SSIM
    assert len(result.verdicts) == 3 * len(METHODS)
    for verdict in result.verdicts:
        assert verdict.passed == (verdict.estimate.high < 0.5)
    assert SanityResult.from_json(result.to_json()).to_json() == result.to_json()  # NaN-safe
    assert [len(snapshots.maps[m]) for m in METHODS] == [3] * len(METHODS)
    path = sanity_figure(snapshots, tmp_path / "sanity.png")
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_an_unchanged_model_fails_and_bad_units_are_named(case: Case) -> None:
    checks = SanityChecks(tests=["cascading"], units=["fc"], n_boot=100)
    # a unit without reset_parameters: the maps do not change, the method must fail
    checks.units = ("pool",)
    result, _ = checks(case.model, case.inputs, ("gradcam",), target_layer="features")
    assert not result.passed("gradcam")
    with pytest.raises(InputError, match="no module 'head'"):
        SanityChecks(units=["head"])(case.model, case.inputs, ("gradcam",), target_layer="features")
