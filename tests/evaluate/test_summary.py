"""Summaries at matched bit budgets, bits saved, AUC and bootstrap intervals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from causalcam.errors import InputError
from causalcam.evaluate import Curve, accuracy_at_h, h_at_accuracy, summarize
from causalcam.evaluate.summary import majority_rate, mean_accuracy_over
from causalcam.results import SummaryRow


def test_interpolation_on_a_straight_line() -> None:
    h = np.array([0.8, 0.6, 0.4, 0.2])  # deletion order: H falls as tau rises
    acc = np.array([0.9, 0.7, 0.5, 0.3])  # acc = H + 0.1
    np.testing.assert_allclose(accuracy_at_h(h, acc, [0.3, 0.5, 0.75]), [0.4, 0.6, 0.85])
    assert np.isnan(accuracy_at_h(h, acc, [0.1, 0.9])).all()
    np.testing.assert_allclose(h_at_accuracy(h, acc, [0.4, 0.3, 0.2]), [0.3, 0.2, 0.2])
    assert np.isnan(h_at_accuracy(h, acc, [0.95]))[0]
    # mean of H + 0.1 over [0.2, 0.6] is 0.5
    assert mean_accuracy_over(h, acc, 0.2, 0.6) == pytest.approx(0.5)


def test_first_crossing_and_repeated_h() -> None:
    h = np.array([0.1, 0.2, 0.2, 0.4, 0.5])
    acc = np.array([0.2, 0.5, 0.7, 0.4, 0.9])  # equal H averaged: (0.2, 0.6)
    np.testing.assert_allclose(h_at_accuracy(h, acc, [0.4]), [0.1 + 0.1 * 0.2 / 0.4])
    np.testing.assert_allclose(h_at_accuracy(h, acc, [0.8]), [0.4 + 0.1 * 0.4 / 0.5])


def make_curve(method: str, h_per_image: np.ndarray, correct: np.ndarray) -> Curve:
    """A curve with per-image ratios ``h_per_image`` (T, B) via bits over 1000-bit originals."""
    n_taus, n_images = correct.shape
    return Curve(
        source="s",
        method=method,
        target="s",
        mode="deletion",
        thresholds=np.linspace(0.1, 0.8, n_taus),
        correct=correct.astype(bool),
        bits=np.rint(h_per_image * 1000).astype(np.int64),
        original_bits=np.full(n_images, 1000, dtype=np.int64),
    )


def staircase(n_taus: int, n_images: int, shift: int) -> np.ndarray:
    """Image i is right at threshold row j iff j + shift < i-th cut: accuracy falls with tau."""
    cuts = np.arange(n_images) % n_taus
    return np.arange(n_taus)[:, None] + shift < cuts[None, :] + n_taus // 2


def test_summarize_point_values_and_paired_intervals() -> None:
    n_taus, n_images = 8, 40
    h = np.repeat(np.linspace(0.8, 0.1, n_taus)[:, None], n_images, axis=1)
    correct = staircase(n_taus, n_images, 0)
    grad = make_curve("gradcam", h, correct)
    fewer = make_curve("causal", h * 0.8, correct)  # same accuracies with 20% fewer bits
    same = make_curve("copy", h, correct)
    rows = summarize([grad, fewer, same], h_values=[0.2, 0.3], n_boot=200, seed=1)

    def pick(method: str, statistic: str) -> list[SummaryRow]:
        return [r for r in rows if r.method == method and r.statistic == statistic]

    saving = pick("causal", "bits_saving")
    assert [r.value for r in saving] == pytest.approx([0.2, 0.2])
    for row in saving:  # H is the same for every image, so every resample saves 20%
        assert row.ci_low == pytest.approx(0.2) and row.ci_high == pytest.approx(0.2)
    for row in pick("copy", "accuracy_diff_at_h") + pick("copy", "bits_saving"):
        assert row.value == 0 and row.ci_low == 0 and row.ci_high == 0
    acc = pick("gradcam", "accuracy_at_h")
    np.testing.assert_allclose(
        [r.value for r in acc], accuracy_at_h(grad.mean_h, grad.accuracy, [0.2, 0.3])
    )
    for row in acc:
        assert row.ci_low <= row.value <= row.ci_high
        assert row.ci_high - row.ci_low > 0  # images differ, so resamples differ
    assert not pick("gradcam", "bits_saving")  # the reference is not compared with itself
    (auc,) = pick("gradcam", "auc")
    low, high = grad.mean_h.min(), fewer.mean_h.max()  # the H range all three curves share
    assert auc.value == pytest.approx(mean_accuracy_over(grad.mean_h, grad.accuracy, low, high))


def test_summarize_is_deterministic_and_checks_options() -> None:
    h = np.repeat(np.linspace(0.8, 0.1, 6)[:, None], 12, axis=1)
    curve = make_curve("gradcam", h, staircase(6, 12, 1))
    first = summarize([curve], h_values=[0.4], n_boot=50, seed=3)
    assert first == summarize([curve], h_values=[0.4], n_boot=50, seed=3)
    no_ci = summarize([curve], h_values=[0.4], n_boot=0)
    assert all(np.isnan(r.ci_low) for r in no_ci)
    with pytest.raises(InputError, match="ci"):
        summarize([curve], ci=1.5)
    other = make_curve("causal", h[:, :6], staircase(6, 6, 0))
    with pytest.raises(InputError, match="sizes"):
        summarize([curve, other])


def test_majority_rate_is_the_accuracy_of_the_most_common_class() -> None:
    assert majority_rate(torch.tensor([0, 1, 1, 1])) == 0.75
    assert majority_rate(np.array([2, 2, 0])) == pytest.approx(2 / 3)
    assert majority_rate([]) == 0.0
