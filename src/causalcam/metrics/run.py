"""Every metric for every method on one model and one set of images, compared with a
reference method (Grad-CAM): the back end of ``causalcam evaluate --metrics``.

Maps come from one ``Explainer.explain`` call for all methods. Per metric and method the
per-image scores are compared with the reference's on the same images: the mean paired
difference with its percentile bootstrap interval, a two-sided bootstrap p-value and Holm's
step-down adjustment across the methods of that metric; a difference counts (``better`` or
``worse``) when the adjusted p-value is below 0.05.
"""

from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor, nn
from tqdm import tqdm

from .._io import atomic_path, atomic_write_json, atomic_write_text
from ..data import CLASSES
from ..data.cache import cached_split, eval_resize, first_per_class
from ..errors import InputError
from ..evaluate.summary import bootstrap_mean
from ..explain import Explainer
from ..explain.targets import ClassifierOutputTarget
from ..method_names import GRADCAM, METHOD_NAMES, ONE_PASS_METHODS, method_label
from ..models import default_target_layer, load_checkpoint
from ..network import eval_mode, resolve_device
from ..preprocess import to_model_input
from ..report.metrics import write_metrics_report
from ..results.ablation import Estimate
from ..results.metrics import MetricComparison, MetricScores, MetricsReport, SanityResult
from .checks import Target, check_maps, model_outputs, target_scores
from .complexity import Complexity, Sparseness
from .confidence import RelativeConfidenceChange
from .imputation import ROAD_NOISE
from .maps import NamedMaps, explain_named
from .perturbation import (
    ROAD_PERCENTILES,
    CamMultImageConfidenceChange,
    DropInConfidence,
    IncreaseInConfidence,
    ROADCombined,
    multiply_tensor_with_cam,
)
from .robustness import MaxSensitivity
from .sanity import SanityChecks, sanity_figure

ROAD: Final = "road"
CONFIDENCE: Final = "confidence"
SANITY: Final = "sanity"
COMPLEXITY: Final = "complexity"
SENSITIVITY: Final = "sensitivity"
#: The metric groups of ``causalcam evaluate --metrics``, in the order they run.
METRIC_GROUPS: Final[tuple[str, ...]] = (ROAD, CONFIDENCE, SANITY, COMPLEXITY, SENSITIVITY)
#: Methods that take many forward passes (one per channel): left out of the metrics that
#: explain the inputs again many times, the sanity checks (each randomised model is explained
#: once for all one-pass methods) and Max-Sensitivity (each noise draw is explained once).
MANY_FORWARD: Final[tuple[str, ...]] = tuple(m for m in METHOD_NAMES if m not in ONE_PASS_METHODS)
#: torchcam's relative metrics, named apart from grad-cam's absolute ones.
RELATIVE_DROP: Final = "RelativeAverageDrop"
RELATIVE_INCREASE: Final = "RelativeIncreaseInConfidence"
#: Adjusted p-value under which a difference to the reference counts.
ALPHA: Final = 0.05


@dataclass(frozen=True)
class MetricsConfig:
    """What ``run_metrics`` measures: the metric groups, the methods (names as the engine
    knows them; ``causal[loss,normalize,sign]`` names a causal reading), the reference
    method, ROAD's percentiles and noise, Max-Sensitivity's draws and noise bound, the
    sanity checks' units (None: every unit, top first), bootstrap resamples and seed."""

    metrics: tuple[str, ...] = METRIC_GROUPS
    methods: tuple[str, ...] = (GRADCAM,)
    reference: str = GRADCAM
    road_percentiles: tuple[int, ...] = ROAD_PERCENTILES
    road_noise: float = ROAD_NOISE
    sensitivity_samples: int = 10
    sensitivity_bound: float = 0.2
    sanity_units: tuple[str, ...] | None = None
    n_boot: int = 1000
    seed: int = 0
    batch_size: int = 16
    target_layer: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = [m for m in self.metrics if m not in METRIC_GROUPS]
        if unknown or not self.metrics:
            raise InputError(
                f"unknown metrics {', '.join(unknown) or '(none given)'}; "
                f"allowed: {', '.join(METRIC_GROUPS)}"
            )
        if self.reference not in self.methods:
            raise InputError(
                f"the reference method {self.reference!r} must be among the methods "
                f"({', '.join(self.methods)})"
            )


@dataclass
class Measured:
    """Per-image scores of every (metric, method), the sanity checks and their snapshots."""

    scores: list[MetricScores] = field(default_factory=list)
    sanity: SanityResult | None = None
    figures: list[str] = field(default_factory=list)


def measure(
    model: nn.Module,
    inputs: Tensor,
    config: MetricsConfig,
    out: Path | None = None,
    progress: bool = False,
) -> Measured:
    """Every requested metric of every method on ``inputs`` (B, C, H, W); the sanity
    figure goes to ``out`` when given. The trained model explains the inputs once (one
    call for every method), and its clean forward pass is shared by every metric."""
    methods = config.methods
    layer = config.target_layer or default_target_layer(model)
    measured = Measured()
    with eval_mode(model):
        explainer = Explainer(model, target_layer=layer, chunk_size=config.batch_size)
        trained = explain_named(explainer, inputs, methods)
        shared = _Shared(model, inputs, trained, config)
        steps = [(g, m) for g in config.metrics if g not in (SANITY, SENSITIVITY) for m in methods]
        for group, method in tqdm(steps, desc="metrics", unit="map set", disable=not progress):
            measured.scores.extend(shared.group_scores(group, method))
        one_pass = tuple(m for m in methods if m not in MANY_FORWARD)
        if SENSITIVITY in config.metrics and one_pass:
            sensitivity = MaxSensitivity(
                config.sensitivity_samples, config.sensitivity_bound, config.seed, progress
            )

            def explain(x: Tensor, classes: Tensor) -> dict[str, Tensor]:
                return explain_named(explainer, x, one_pass, target_class=classes).maps

            found = sensitivity(explain, inputs, trained.only(one_pass).maps, trained.target)
            measured.scores.extend(found[m] for m in one_pass)
        if SANITY in config.metrics and one_pass:
            checked = one_pass
            checks = SanityChecks(
                units=config.sanity_units,
                seed=config.seed,
                n_boot=config.n_boot,
                chunk_size=config.batch_size,
                progress=progress,
            )
            measured.sanity, snapshots = checks(
                model, inputs, checked, target_layer=layer, trained=trained.only(checked)
            )
            if out is not None:
                titles = {m: method_label(m) for m in checked}
                sanity_figure(snapshots, out / "sanity.png", titles)
                measured.figures.append("sanity.png")
    return measured


class _Shared:
    """What every metric of every method shares: the inputs, the trained model's maps,
    their targets and the targets' scores from one clean forward pass."""

    def __init__(
        self, model: nn.Module, inputs: Tensor, trained: NamedMaps, config: MetricsConfig
    ) -> None:
        self.model, self.inputs, self.trained, self.config = model, inputs, trained, config
        self.targets: list[Target] = [ClassifierOutputTarget(int(c)) for c in trained.target]
        self.outputs = model_outputs(model, inputs, config.batch_size)
        self.before = target_scores(self.targets, self.outputs)

    def group_scores(self, group: str, method: str) -> list[MetricScores]:
        """The metrics of one group for one method's maps."""
        maps = check_maps(self.trained.maps[method], self.inputs)
        if group == ROAD:
            return self._road(maps, method)
        if group == CONFIDENCE:
            return self._confidence(maps, method)
        return [Sparseness()(maps, method), Complexity()(maps, method)]

    def _road(self, maps: Tensor, method: str) -> list[MetricScores]:
        config = self.config
        road = ROADCombined(
            config.road_percentiles, config.road_noise, config.seed, config.batch_size
        )
        found = [
            average.evaluate(self.inputs, maps, self.targets, self.model, self.before)
            for average in (road.morf_averager, road.lerf_averager)
        ]
        settings = road.settings()
        return [
            MetricScores(
                type(road.morf_averager).__name__, _floats(found[0]), False, method, settings
            ),
            MetricScores(
                type(road.lerf_averager).__name__, _floats(found[1]), True, method, settings
            ),
            MetricScores(
                type(road).__name__,
                _floats(road.combine(found[1], found[0])),
                True,
                method,
                settings,
            ),
        ]

    def _confidence(self, maps: Tensor, method: str) -> list[MetricScores]:
        masked = multiply_tensor_with_cam(self.inputs, maps.to(self.inputs.device))
        outputs = model_outputs(self.model, masked, self.config.batch_size)
        change = target_scores(self.targets, outputs) - self.before
        absolute = [
            MetricScores(
                type(metric).__name__,
                _floats(metric.combine(change)),
                metric.higher_is_better,
                method,
                metric.settings(),
            )
            for metric in (
                CamMultImageConfidenceChange(),
                DropInConfidence(),
                IncreaseInConfidence(),
            )
        ]
        classes = [int(c) for c in self.trained.target]
        relative = RelativeConfidenceChange().from_outputs(self.outputs, outputs, classes, method)
        increases = tuple(float(i) for i in relative.increases)
        softmax = {"scores": "softmax"}
        return [
            *absolute,
            MetricScores(RELATIVE_DROP, relative.drops, False, method, softmax),
            MetricScores(RELATIVE_INCREASE, increases, True, method, softmax),
        ]


def _floats(values: np.ndarray) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (NaN stays NaN and counts no test)."""
    finite = [(p, i) for i, p in enumerate(p_values) if np.isfinite(p)]
    adjusted = [float("nan")] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(sorted(finite)):
        running = max(running, min(1.0, (len(finite) - rank) * p))
        adjusted[i] = running
    return adjusted


def paired_difference(
    method: np.ndarray, reference: np.ndarray, n_boot: int, seed: int
) -> tuple[Estimate, float]:
    """Mean of ``method - reference`` over the images where both are finite, its percentile
    bootstrap interval and the two-sided bootstrap p-value of a zero difference."""
    return bootstrap_mean(method - reference, n_boot, seed)


def compare(
    scores: Sequence[MetricScores], reference: str, n_boot: int, seed: int
) -> list[MetricComparison]:
    """Every (metric, method) against ``reference`` on the same images, Holm-adjusted
    across the methods of each metric."""
    rows: list[MetricComparison] = []
    for metric in dict.fromkeys(s.metric for s in scores):
        group = {s.method: s for s in scores if s.metric == metric}
        if reference not in group:
            continue
        base = np.asarray(group[reference].scores)
        others = [m for m in group if m != reference]
        tested = [
            paired_difference(np.asarray(group[m].scores), base, n_boot, seed) for m in others
        ]
        adjusted = holm([p for _, p in tested])
        for method in group:
            s = group[method]
            value, _ = bootstrap_mean(np.asarray(s.scores), n_boot, seed)
            if method == reference:
                rows.append(
                    MetricComparison(
                        metric,
                        method,
                        s.higher_is_better,
                        value,
                        Estimate(0.0),
                        float("nan"),
                        float("nan"),
                        "reference",
                    )
                )
                continue
            k = others.index(method)
            diff, p = tested[k]
            verdict = "no difference"
            if np.isfinite(adjusted[k]) and adjusted[k] < ALPHA:
                verdict = "better" if (diff.value > 0) == s.higher_is_better else "worse"
            rows.append(
                MetricComparison(
                    metric, method, s.higher_is_better, value, diff, p, adjusted[k], verdict
                )
            )
    return rows


def _csv(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _number(value: float) -> str:
    return "" if not np.isfinite(value) else f"{value:.6g}"


def write_tables(report: MetricsReport, scores: Sequence[MetricScores], out: Path) -> list[Path]:
    """``metrics.json``, ``scores.csv`` (per image), ``comparisons.csv`` and, with the sanity
    checks, ``sanity.csv`` and ``sanity_verdicts.csv`` under ``out``."""
    written = [atomic_write_json(out / "metrics.json", report.to_json())]
    rows = [(s.metric, s.method, i, _number(v)) for s in scores for i, v in enumerate(s.scores)]
    written.append(
        atomic_write_text(out / "scores.csv", _csv(("metric", "method", "image", "score"), rows))
    )
    header = (
        "metric",
        "method",
        "higher_is_better",
        "mean",
        "low",
        "high",
        "diff",
        "diff_low",
        "diff_high",
        "p",
        "p_holm",
        "verdict",
    )
    table = [
        (
            c.metric,
            c.method,
            c.higher_is_better,
            _number(c.value.value),
            _number(c.value.low),
            _number(c.value.high),
            _number(c.diff.value),
            _number(c.diff.low),
            _number(c.diff.high),
            _number(c.p_value),
            _number(c.p_holm),
            c.verdict,
        )
        for c in report.comparisons
    ]
    written.append(atomic_write_text(out / "comparisons.csv", _csv(header, table)))
    if report.sanity is not None:
        sanity = [
            (
                r.method,
                r.test,
                r.layer,
                _number(r.spearman_mean),
                _number(r.ssim_mean),
            )
            for r in report.sanity.rows
        ]
        columns = ("method", "test", "layer", "spearman_mean", "ssim_mean")
        written.append(atomic_write_text(out / "sanity.csv", _csv(columns, sanity)))
        verdicts = [
            (
                v.method,
                v.test,
                v.statistic,
                _number(v.estimate.value),
                _number(v.estimate.low),
                _number(v.estimate.high),
                v.threshold,
                "pass" if v.passed else "fail",
            )
            for v in report.sanity.verdicts
        ]
        judged = ("method", "test", "statistic", "mean", "low", "high", "threshold", "result")
        written.append(atomic_write_text(out / "sanity_verdicts.csv", _csv(judged, verdicts)))
    return written


def comparison_figure(comparisons: Sequence[MetricComparison], path: Path) -> Path:
    """One panel per metric: each method's paired difference to the reference with its
    interval (filled: Holm-adjusted p < 0.05)."""
    metrics = list(dict.fromkeys(c.metric for c in comparisons if c.verdict != "reference"))
    figure = Figure(figsize=(4.2 * min(3, max(1, len(metrics))), 2.6 * ((len(metrics) + 2) // 3)))
    columns = min(3, max(1, len(metrics)))
    for index, metric in enumerate(metrics):
        ax = figure.add_subplot((len(metrics) + columns - 1) // columns, columns, index + 1)
        rows = [c for c in comparisons if c.metric == metric and c.verdict != "reference"]
        for y, c in enumerate(rows):
            low, high = c.diff.low, c.diff.high
            if np.isfinite(low) and np.isfinite(high):
                ax.plot([low, high], [y, y], color="0.3", linewidth=1)
            filled = c.verdict in ("better", "worse")
            ax.plot([c.diff.value], [y], "o", color="C0", fillstyle="full" if filled else "none")
        ax.axvline(0, color="0.6", linewidth=0.8)
        ax.set_yticks(range(len(rows)), [c.method for c in rows], fontsize=6)
        better = "higher" if rows and rows[0].higher_is_better else "lower"
        ax.set_title(f"{metric} ({better} is better)", fontsize=7)
        ax.tick_params(axis="x", labelsize=6)
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=110, facecolor="white")
    return path


def run_metrics(
    model: nn.Module,
    inputs: Tensor,
    out: str | os.PathLike[str],
    config: MetricsConfig,
    *,
    model_name: str = "model",
    subset: str = "",
    progress: bool = False,
) -> MetricsReport:
    """:func:`measure`, :func:`compare` and every table and figure under ``out``."""
    folder = Path(out)
    start = time.perf_counter()
    measured = measure(model, inputs, config, folder, progress)
    comparisons = compare(measured.scores, config.reference, config.n_boot, config.seed)
    figures = list(measured.figures)
    if comparisons:
        comparison_figure(comparisons, folder / "comparisons.png")
        figures.append("comparisons.png")
    settings: dict[str, float | int | str | bool] = {
        "metrics": ",".join(config.metrics),
        "methods": ",".join(config.methods),
        "road_percentiles": ",".join(str(p) for p in config.road_percentiles),
        "road_noise": config.road_noise,
        "sensitivity_samples": config.sensitivity_samples,
        "sensitivity_bound": config.sensitivity_bound,
        "n_boot": config.n_boot,
        "seed": config.seed,
        **config.extra,
    }
    report = MetricsReport(
        model=model_name,
        images=int(inputs.shape[0]),
        subset=subset,
        reference=config.reference,
        comparisons=tuple(comparisons),
        sanity=measured.sanity,
        figures=tuple(figures),
        settings=settings,
        seconds=time.perf_counter() - start,
    )
    write_tables(report, measured.scores, folder)
    return report


def run_metrics_checkpoint(
    checkpoint: str | os.PathLike[str],
    out: str | os.PathLike[str],
    config: MetricsConfig,
    *,
    data_root: str | os.PathLike[str] | None = None,
    limit: int | None = None,
    device: torch.device | None = None,
    progress: bool = False,
) -> MetricsReport:
    """:func:`run_metrics` of a checkpoint on the test split (the first ``limit`` scans of
    each class, in file order)."""
    loaded = load_checkpoint(checkpoint, map_location=str(device or torch.device("cpu")))
    prep = loaded.meta.preprocessing
    split = cached_split("test", eval_resize(prep.size), prep.size, data_root, progress)
    keep = first_per_class(split.labels, limit, len(CLASSES))
    inputs = to_model_input(split.images[keep], prep).to(device or torch.device("cpu"))
    subset = (
        f"the first {limit} test scans of each class ({len(keep)} scans)"
        if limit is not None
        else f"all {len(keep)} test scans"
    )
    return run_metrics(
        loaded.model,
        inputs,
        out,
        config,
        model_name=_checkpoint_name(Path(checkpoint)),
        subset=subset,
        progress=progress,
    )


def _checkpoint_name(path: Path) -> str:
    """``runs/resnet34/best.pt`` -> ``resnet34``; ``r34.pt`` -> ``r34``."""
    return path.parent.name if path.stem in ("best", "last") else path.stem


def evaluate_metrics(
    checkpoints: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    config: MetricsConfig | None = None,
    *,
    data_root: str | os.PathLike[str] | None = None,
    limit: int | None = None,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> list[Path]:
    """``causalcam evaluate --metrics``: :func:`run_metrics_checkpoint` of each checkpoint
    into ``out/<name>/`` with its ``metrics.md``; returns the folders' main files."""
    config = config or MetricsConfig()
    target = resolve_device(device) if isinstance(device, str) else device
    written = []
    for checkpoint in checkpoints:
        path = Path(checkpoint)
        folder = Path(out) / _checkpoint_name(path)
        run_metrics_checkpoint(
            path, folder, config, data_root=data_root, limit=limit, device=target, progress=progress
        )
        written += [folder / "metrics.json", write_metrics_report(folder)]
    return written
