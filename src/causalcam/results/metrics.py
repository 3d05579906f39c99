"""Typed results of the explanation metrics (:mod:`causalcam.metrics`): per-image scores
(:class:`MetricScores`), torchcam's relative confidence (:class:`RelativeConfidenceResult`),
the sanity checks (:class:`SimilarityRow`, :class:`SanityVerdict`, :class:`SanityResult`)
and the comparison of every method with Grad-CAM (:class:`MetricComparison`,
:class:`MetricsReport`). Standard library only; each class round-trips through
``to_json``/``from_json``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._json import number_in, number_out
from .ablation import Estimate

Setting = float | int | str | bool


def _floats_out(values: Sequence[float]) -> list[float | None]:
    return [number_out(v) for v in values]


def _floats_in(values: Sequence[Any]) -> tuple[float, ...]:
    return tuple(number_in(v) for v in values)


def _mean(values: Sequence[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return statistics.fmean(finite) if finite else math.nan


@dataclass(frozen=True)
class MetricScores:
    """One metric's per-image ``scores`` for one method's maps (``method`` may be empty when
    the maps come from elsewhere), with the metric's ``settings`` and whether a higher score
    is better."""

    metric: str
    scores: tuple[float, ...]
    higher_is_better: bool
    method: str = ""
    settings: Mapping[str, Setting] = field(default_factory=dict)

    @property
    def mean(self) -> float:
        """Mean over the images with a finite score (NaN if none)."""
        return _mean(self.scores)

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "method": self.method,
            "higher_is_better": self.higher_is_better,
            "settings": dict(self.settings),
            "scores": _floats_out(self.scores),
            "mean": number_out(self.mean),
        }

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> MetricScores:
        return cls(
            metric=str(payload["metric"]),
            scores=_floats_in(payload["scores"]),
            higher_is_better=bool(payload["higher_is_better"]),
            method=str(payload.get("method", "")),
            settings=dict(payload.get("settings", {})),
        )


@dataclass(frozen=True)
class RelativeConfidenceResult:
    """torchcam's Average Drop and Increase in Confidence of one method's maps: per image
    the relative drop ``max(0, p - p_masked) / (p + 1e-7)`` of the explained class's score
    and whether it increased (``p < p_masked``)."""

    drops: tuple[float, ...]
    increases: tuple[bool, ...]
    method: str = ""

    @property
    def average_drop(self) -> float:
        return _mean(self.drops)

    @property
    def increase_in_confidence(self) -> float:
        return _mean([float(i) for i in self.increases])

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "average_drop": number_out(self.average_drop),
            "increase_in_confidence": number_out(self.increase_in_confidence),
            "drops": _floats_out(self.drops),
            "increases": list(self.increases),
        }

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> RelativeConfidenceResult:
        return cls(
            drops=_floats_in(payload["drops"]),
            increases=tuple(bool(i) for i in payload["increases"]),
            method=str(payload.get("method", "")),
        )


@dataclass(frozen=True)
class SimilarityRow:
    """Similarity of one method's maps before and after one randomisation step, per image:
    ``test`` is ``cascading`` or ``independent`` (``layer``: the unit randomised, in
    cascading order the last one added) or ``random_logit`` (``layer`` empty)."""

    method: str
    test: str
    layer: str
    spearman: tuple[float, ...]
    ssim: tuple[float, ...]

    @property
    def spearman_mean(self) -> float:
        """Mean over the images with a finite correlation (NaN if none)."""
        return _mean(self.spearman)

    @property
    def ssim_mean(self) -> float:
        return _mean(self.ssim)

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "test": self.test,
            "layer": self.layer,
            "spearman": _floats_out(self.spearman),
            "ssim": _floats_out(self.ssim),
            "spearman_mean": number_out(self.spearman_mean),
            "ssim_mean": number_out(self.ssim_mean),
        }

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> SimilarityRow:
        return cls(
            method=str(payload["method"]),
            test=str(payload["test"]),
            layer=str(payload["layer"]),
            spearman=_floats_in(payload["spearman"]),
            ssim=_floats_in(payload["ssim"]),
        )


@dataclass(frozen=True)
class SanityVerdict:
    """Whether one method passes one sanity test: the mean ``statistic`` (``spearman`` or
    ``ssim``) over the images with its bootstrap interval, and the rule: pass when the
    interval's upper end lies below ``threshold``."""

    method: str
    test: str
    statistic: str
    estimate: Estimate
    threshold: float
    passed: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "test": self.test,
            "statistic": self.statistic,
            "estimate": self.estimate.to_json(),
            "threshold": self.threshold,
            "passed": self.passed,
        }

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> SanityVerdict:
        return cls(
            method=str(payload["method"]),
            test=str(payload["test"]),
            statistic=str(payload["statistic"]),
            estimate=Estimate.from_json(payload["estimate"]),
            threshold=float(payload["threshold"]),
            passed=bool(payload["passed"]),
        )


@dataclass(frozen=True)
class SanityResult:
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

    def to_json(self) -> dict[str, Any]:
        return {
            "layers": list(self.layers),
            "rows": [r.to_json() for r in self.rows],
            "verdicts": [v.to_json() for v in self.verdicts],
        }

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> SanityResult:
        return cls(
            rows=tuple(SimilarityRow.from_json(r) for r in payload["rows"]),
            verdicts=tuple(SanityVerdict.from_json(v) for v in payload["verdicts"]),
            layers=tuple(str(x) for x in payload["layers"]),
        )


@dataclass(frozen=True)
class MetricComparison:
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

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "method": self.method,
            "higher_is_better": self.higher_is_better,
            "value": self.value.to_json(),
            "diff": self.diff.to_json(),
            "p_value": number_out(self.p_value),
            "p_holm": number_out(self.p_holm),
            "verdict": self.verdict,
        }

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> MetricComparison:
        return cls(
            metric=str(payload["metric"]),
            method=str(payload["method"]),
            higher_is_better=bool(payload["higher_is_better"]),
            value=Estimate.from_json(payload["value"]),
            diff=Estimate.from_json(payload["diff"]),
            p_value=number_in(payload["p_value"]),
            p_holm=number_in(payload["p_holm"]),
            verdict=str(payload["verdict"]),
        )


@dataclass(frozen=True)
class MetricsReport:
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

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "images": self.images,
            "subset": self.subset,
            "reference": self.reference,
            "comparisons": [c.to_json() for c in self.comparisons],
            "sanity": None if self.sanity is None else self.sanity.to_json(),
            "figures": list(self.figures),
            "settings": dict(self.settings),
            "seconds": self.seconds,
        }

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> MetricsReport:
        sanity = payload.get("sanity")
        return cls(
            model=str(payload["model"]),
            images=int(payload["images"]),
            subset=str(payload["subset"]),
            reference=str(payload["reference"]),
            comparisons=tuple(MetricComparison.from_json(c) for c in payload["comparisons"]),
            sanity=None if sanity is None else SanityResult.from_json(sanity),
            figures=tuple(str(f) for f in payload.get("figures", ())),
            settings=dict(payload.get("settings", {})),
            seconds=float(payload["seconds"]),
        )
