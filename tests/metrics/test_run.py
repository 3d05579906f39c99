"""The metrics run: every group on a tiny model, comparisons with Holm's correction, files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from metrics_helpers import METHODS, Case, ForwardCount

from causalcam.errors import InputError
from causalcam.metrics.run import (
    MetricsConfig,
    compare,
    holm,
    measure,
    paired_difference,
    run_metrics,
)
from causalcam.report import render_markdown
from causalcam.report.metrics import metrics_blocks
from causalcam.results.metrics import MetricScores, MetricsReport


def test_holm_adjusts_step_down() -> None:
    assert holm([0.01, 0.04, 0.03, float("nan")])[:3] == pytest.approx([0.03, 0.06, 0.06])
    assert np.isnan(holm([float("nan")])[0])


def test_paired_difference_sees_a_shift_and_not_noise() -> None:
    rng = np.random.default_rng(0)
    base = rng.standard_normal(40)
    shifted, p = paired_difference(base + 1.0 + rng.normal(0, 0.5, 40), base, 500, 0)
    assert 0.5 < shifted.low < shifted.value < shifted.high < 1.5 and p < 0.01
    same, p_same = paired_difference(base + rng.normal(0, 0.01, 40), base, 500, 0)
    assert same.low < 0 < same.high and p_same > 0.05


def test_compare_judges_direction_by_the_metric() -> None:
    base = tuple(float(x) for x in np.linspace(0, 1, 20))
    scores = [
        MetricScores("Complexity", base, False, "gradcam"),
        MetricScores("Complexity", tuple(v + 0.5 for v in base), False, "worse"),
        MetricScores("Complexity", tuple(v - 0.5 for v in base), False, "better"),
    ]
    rows = {r.method: r for r in compare(scores, "gradcam", 300, 0)}
    assert rows["gradcam"].verdict == "reference"
    assert rows["worse"].verdict == "worse" and rows["better"].verdict == "better"
    assert rows["worse"].p_holm >= rows["worse"].p_value


def test_run_metrics_writes_every_table(case: Case, tmp_path: Path) -> None:
    config = MetricsConfig(
        methods=METHODS,
        road_percentiles=(30, 70),
        sensitivity_samples=2,
        sanity_units=("fc", "features.2"),
        n_boot=100,
        target_layer="features",
    )
    report = run_metrics(case.model, case.inputs, tmp_path, config, subset="4 random images")
    metrics = {c.metric for c in report.comparisons}
    assert metrics == {
        "ROADMostRelevantFirstAverage",
        "ROADLeastRelevantFirstAverage",
        "ROADCombined",
        "CamMultImageConfidenceChange",
        "DropInConfidence",
        "IncreaseInConfidence",
        "RelativeAverageDrop",
        "RelativeIncreaseInConfidence",
        "Sparseness",
        "Complexity",
        "MaxSensitivity",
    }
    assert len(report.comparisons) == len(metrics) * len(METHODS)
    assert report.sanity is not None and report.sanity.methods == METHODS
    for name in (
        "metrics.json",
        "scores.csv",
        "comparisons.csv",
        "sanity.csv",
        "sanity_verdicts.csv",
    ):
        assert (tmp_path / name).is_file()
    for name in report.figures:
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    loaded = MetricsReport.from_json(json.loads((tmp_path / "metrics.json").read_text()))
    assert loaded.to_json() == report.to_json()


def test_config_names_bad_metrics_and_a_missing_reference() -> None:
    with pytest.raises(InputError, match="unknown metrics speed"):
        MetricsConfig(metrics=("road", "speed"))
    with pytest.raises(InputError, match="reference method 'gradcam' must be among"):
        MetricsConfig(methods=("causal",))


def test_each_forward_pass_runs_once(case: Case) -> None:
    """One explanation of the inputs, one clean forward shared by every metric, then one
    forward per perturbation: per method, the masked inputs of the confidence metrics and
    each ROAD step (two orders x two percentiles)."""
    config = MetricsConfig(
        metrics=("road", "confidence", "complexity", "sanity"),
        methods=METHODS,
        road_percentiles=(30, 70),
        sanity_units=("fc",),
        n_boot=10,
        target_layer="features",
    )
    with ForwardCount(case.model) as count:
        measure(case.model, case.inputs, config)
    images = case.inputs.shape[0]
    per_method = 1 + 2 * 2
    sanity = 2 + 1  # cascading and independent randomisation of fc, the random logit
    assert count.images == images * (1 + 1 + len(METHODS) * per_method + sanity)


def test_many_forward_methods_stay_out_of_sanity_and_sensitivity(case: Case) -> None:
    """Score-CAM (one forward per channel) is scored by ROAD, confidence and complexity, but
    left out of the metrics that explain the inputs again for every draw or randomised model;
    the report's table of such a metric says so."""
    methods = ("gradcam", "scorecam")
    config = MetricsConfig(
        metrics=("complexity", "sensitivity", "sanity"),
        methods=methods,
        sensitivity_samples=1,
        sanity_units=("fc",),
        n_boot=10,
        target_layer="features",
    )
    measured = measure(case.model, case.inputs, config)
    by_metric: dict[str, set[str]] = {}
    for s in measured.scores:
        by_metric.setdefault(s.metric, set()).add(s.method)
    assert by_metric["Complexity"] == {"gradcam", "scorecam"}
    assert by_metric["MaxSensitivity"] == {"gradcam"}
    assert measured.sanity is not None and measured.sanity.methods == ("gradcam",)
    report = MetricsReport(
        "tiny", 4, "4 random images", "gradcam",
        tuple(compare(measured.scores, "gradcam", 10, 0)), None, (), {}, 1.0,
    )  # fmt: skip
    text = render_markdown(metrics_blocks(report))
    sensitivity = text[text.index("MaxSensitivity (") :]
    assert "left out: Score-CAM" in sensitivity
    assert "left out" not in text[: text.index("MaxSensitivity (")]
