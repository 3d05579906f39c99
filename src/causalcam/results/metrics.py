"""Typed results of the explanation metrics (:mod:`causalcam.metrics`): per-image scores
(:class:`MetricScores`), torchcam's relative confidence (:class:`RelativeConfidenceResult`),
the sanity checks (:class:`SimilarityRow`, :class:`SanityVerdict`, :class:`SanityResult`)
and the comparison of every method with Grad-CAM (:class:`MetricComparison`,
:class:`MetricsReport`). Standard library only; each class has the JSON form of its fields.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ._json import JsonForm
from .ablation import Estimate

Setting = float | int | str | bool


def _mean(values: Sequence[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return statistics.fmean(finite) if finite else math.nan


@dataclass(frozen=True)
class MetricScores(JsonForm):
    """One metric's per-image ``scores`` for one method's maps (``method`` may be empty when
    the maps come from elsewhere), with the metric's ``settings`` and whether a higher score
    is better."""

    metric: str
    scores: tuple[float, ...]
    higher_is_better: bool
    method: str = ""
    settings: Mapping[str, Setting] = field(default_factory=dict)
    json_derived = ("mean",)

    @property
    def mean(self) -> float:
        """Mean over the images with a finite score (NaN if none)."""
        return _mean(self.scores)


@dataclass(frozen=True)
class RelativeConfidenceResult(JsonForm):
    """torchcam's Average Drop and Increase in Confidence of one method's maps: per image
    the relative drop ``max(0, p - p_masked) / (p + 1e-7)`` of the explained class's score
    and whether it increased (``p < p_masked``)."""

    drops: tuple[float, ...]
    increases: tuple[bool, ...]
    method: str = ""
    json_derived = ("average_drop", "increase_in_confidence")

    @property
    def average_drop(self) -> float:
        return _mean(self.drops)

    @property
    def increase_in_confidence(self) -> float:
        return _mean([float(i) for i in self.increases])


@dataclass(frozen=True)
class SimilarityRow(JsonForm):
    """Similarity of one method's maps before and after one randomisation step, per image:
    ``test`` is ``cascading`` or ``independent`` (``layer``: the unit randomised, in
    cascading order the last one added) or ``random_logit`` (``layer`` empty)."""

    method: str
    test: str
    layer: str
    spearman: tuple[float, ...]
    ssim: tuple[float, ...]
    json_derived = ("spearman_mean", "ssim_mean")

    @property
    def spearman_mean(self) -> float:
        """Mean over the images with a finite correlation (NaN if none)."""
        return _mean(self.spearman)

    @property
    def ssim_mean(self) -> float:
        return _mean(self.ssim)


@dataclass(frozen=True)
class SanityVerdict(JsonForm):
    """Whether one method passes one sanity test: the mean ``statistic`` (``spearman`` or
    ``ssim``) over the images with its bootstrap interval, and the rule: pass when the
    interval's upper end lies below ``threshold``."""

    method: str
    test: str
    statistic: str
    estimate: Estimate
    threshold: float
    passed: bool


@dataclass(frozen=True)
class SanityResult(JsonForm):
    """The sanity checks of several methods: every similarity row, the units randomised
    (top layer first) and one verdict per (method, test, statistic)."""

    rows: tuple[SimilarityRow, ...]
    verdicts: tuple[SanityVerdict, ...]
    layers: tuple[str, ...]

    def passed(self, method: str) -> bool:
        """Whether ``method`` passes every test it was given."""
        return all(v.passed for v in self.verdicts if v.method == method)

    @property
    def methods(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.method for r in self.rows))


@dataclass(frozen=True)
class MetricComparison(JsonForm):
    """One (metric, method) against the reference method on the same images: the mean
    ``value``, the paired difference ``diff`` (method - reference, bootstrap interval), its
    two-sided bootstrap p-value and Holm's adjustment across the methods of the metric.
    ``verdict``: ``better``/``worse`` when the Holm-adjusted p < 0.05, else ``no
    difference``; ``reference`` for the reference itself."""

    metric: str
    method: str
    higher_is_better: bool
    value: Estimate
    diff: Estimate
    p_value: float
    p_holm: float
    verdict: str


@dataclass(frozen=True)
class MetricsReport(JsonForm):
    """What ``causalcam evaluate --metrics`` writes (``metrics.json``): the model, the images
    (``subset`` says which), the reference method, every comparison, the sanity checks (if
    run), the figures (paths relative to the output folder), the settings and the time."""

    model: str
    images: int
    subset: str
    reference: str
    comparisons: tuple[MetricComparison, ...]
    sanity: SanityResult | None
    figures: tuple[str, ...]
    settings: Mapping[str, Setting]
    seconds: float
