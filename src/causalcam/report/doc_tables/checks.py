"""The tables of the checks of the maps themselves: the ground-truth benchmark (planted
cause and context), the sanity checks and the 3-D network's lesion mass."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...method_names import method_label
from ...results import Estimate, LesionMassResult
from ...results.metrics import MetricsReport
from ..formatting import duration_text
from ..metrics import METRIC_SHORT
from .common import DEFAULT, against_zero, markdown_table, read_json


def _gradcam_verdict(config: dict[str, Any], method: str) -> dict[str, Any] | None:
    """The deciding comparison of ``method`` with Grad-CAM on one ground-truth configuration
    (the verdict whose quantity is measured against Grad-CAM), or None."""
    for verdict in config["verdicts"]:
        prediction = verdict["prediction"]
        if prediction["method"] == method and "Grad-CAM" in prediction["quantity"]:
            return dict(verdict)
    return None


#: how a ground-truth prediction's ``kind`` reads in a table
_KINDS = {"above": ">", "below": "<", "within": "within +-"}


def _design_label(config: dict[str, Any]) -> str:
    design = config["design"]
    label = str(design["name"])
    if design["name"] == "shortcut":
        label += f" (rho {design['rho']:g}{', the null case' if design['rho'] == 0.5 else ''})"
    return f"{label}, smoothing {config['smoothing']:g}"


def _run_time(manifest: dict[str, Any]) -> str:
    """How long the run took, and what it computed, from its manifest."""
    computed, reused = manifest["networks_computed"], manifest["networks_reused"]
    text = f"{duration_text(manifest['seconds'])} for {computed} networks"
    return text + (f" ({reused} reused from an earlier run)" if reused else "")


def ground_truth(results: Path) -> str:
    """The ground-truth benchmark per design: the default reading's deciding comparison with
    Grad-CAM (effect, interval, outcome) and how many causal readings pass it."""
    rows = []
    for config in read_json(results / "ground-truth" / "results.json")["configs"]:
        verdict = _gradcam_verdict(config, DEFAULT)
        if verdict is None:
            continue
        prediction, estimate = verdict["prediction"], Estimate.from_json(verdict["estimate"])
        readings = [
            _gradcam_verdict(config, row["method"])
            for row in config["rows"]
            if row["method"].startswith("causal[")
        ]
        passed = sum(1 for v in readings if v is not None and v["outcome"] == "holds")
        rule = f"{prediction['quantity']} {_KINDS[prediction['kind']]} {prediction['bound']:g}"
        effect = f"{estimate.value:+.3f} [{estimate.low:+.3f}, {estimate.high:+.3f}]"
        rows.append([_design_label(config), rule, effect, f"**{verdict['outcome']}**",
                     f"{passed} of {len(readings)}"])  # fmt: skip
    columns = ["design", "predicted for the causal map", f"`{DEFAULT}`", "verdict",
               "causal readings that pass"]  # fmt: skip
    manifest = read_json(results / "ground-truth" / "manifest.json")
    settings = manifest["settings"]
    caption = (
        "S: share of map mass on the cause minus share on the context (docs/ground-truth.md); "
        "95% bootstrap intervals over networks, then images; margins declared before the first "
        f"run. Settings: {settings['arch']} CNN at {settings['size']} px, {settings['seeds']} "
        f"seeds a design, {settings['n_train']} training images, {settings['epochs']} epochs; "
        f"{_run_time(manifest)} on a {manifest['cpu_count']}-core {manifest['cpu']} CPU"
        f"{' (' + manifest['cpu_vector'] + ')' if 'cpu_vector' in manifest else ''} with "
        f"{manifest['threads']} thread(s), torch {manifest['torch']} "
        "([manifest](results/ground-truth/manifest.json))."
    )
    return markdown_table(columns, rows, caption)


def sanity(results: Path) -> str:
    """The sanity checks of every method on the bundled 224 px model: each test's mean
    similarity with its interval, and whether the method passes every test."""
    report = read_json(results / "metrics" / "resnet18_covidct_224" / "metrics.json")
    verdicts = report["sanity"]["verdicts"]
    tests = list(dict.fromkeys((v["test"], v["statistic"]) for v in verdicts))
    rows = []
    for method in dict.fromkeys(v["method"] for v in verdicts):
        cells, passed = [], True
        for test in tests:
            match = [v for v in verdicts if (v["method"], v["test"], v["statistic"]) ==
                     (method, *test)]  # fmt: skip
            if not match:
                cells.append("–")
                continue
            estimate = Estimate.from_json(match[0]["estimate"])
            passed = passed and bool(match[0]["passed"])
            cells.append(f"{estimate.value:.2f} [{estimate.low:.2f}, {estimate.high:.2f}]")
        rows.append([f"`{method}`", *cells, "passes" if passed else "**fails**"])
    columns = ["map", *[f"{test} {statistic}" for test, statistic in tests], "sanity checks"]
    caption = (
        "Similarity of each map before and after randomisation (or to the map of the other "
        f"class), {report['images']} test scans, 95% bootstrap intervals; a map passes "
        "where every interval lies below 0.5 (docs/metrics.md)."
    )
    return markdown_table(columns, rows, caption)


def metrics_summary(results: Path) -> str:
    """Where each method of the bundled 224 px model's metrics run stands against Grad-CAM:
    the metrics on which it is better or worse (Holm-adjusted p < 0.05), those it was left
    out of, and its sanity checks."""
    report = MetricsReport.from_json(
        read_json(results / "metrics" / "resnet18_covidct_224" / "metrics.json")
    )
    metrics = list(dict.fromkeys(c.metric for c in report.comparisons))
    rows = []
    for method in dict.fromkeys(c.method for c in report.comparisons):
        if method == report.reference:
            continue
        found = {c.metric: c.verdict for c in report.comparisons if c.method == method}
        better, worse = (
            ", ".join(METRIC_SHORT.get(m, m) for m in metrics if found.get(m) == verdict) or "–"
            for verdict in ("better", "worse")
        )
        left_out = [METRIC_SHORT.get(m, m) for m in metrics if m not in found]
        sanity = "not checked"
        if report.sanity is not None and method in report.sanity.methods:
            sanity = "passes" if report.sanity.passed(method) else "**fails**"
        label = method_label(method)
        name = f"`{method}`" if label == method else f"{label} (`{method}`)"
        rows.append([name, better, worse,
                     ", ".join(left_out) or "–", sanity])  # fmt: skip
    columns = ["map", "better than Grad-CAM on", "worse on", "left out of", "sanity checks"]
    caption = (
        f"COVID-CT: {report.subset}; {len(metrics)} metrics; "
        "better or worse: paired bootstrap p-value under 0.05 after Holm's correction across "
        "the methods of each metric; every other metric shows no difference. Run time "
        f"{duration_text(report.seconds)} (metrics.json)."
    )
    return markdown_table(columns, rows, caption)


def volume_lesion_mass(results: Path) -> str:
    """The bundled 3-D network's lesion mass per map (``docs/results/volumes``): each map's
    mean share on the planted lesion and its paired difference to Grad-CAM, with 95%
    bootstrap intervals, the uniform map's share and the held-out accuracy."""
    result = LesionMassResult.from_json(read_json(results / "volumes" / "results.json"))

    def interval(value: Estimate, sign: str = "") -> str:
        return f"{value.value:{sign}.4f} [{value.low:{sign}.4f}, {value.high:{sign}.4f}]"

    rows = []
    for row in result.rows:
        versus = row.vs_gradcam
        rows.append(
            [
                method_label(row.method),
                interval(row.share),
                f"{row.share.value / result.uniform.value:.1f}",
                interval(versus, "+") if versus.finite else "–",
                _versus_gradcam(versus),
            ]
        )
    rows.append(["uniform map", interval(result.uniform), "1.0", "–", "–"])
    columns = ["map", "share on the lesion", "x uniform", "minus Grad-CAM", "vs Grad-CAM"]
    accuracy = result.accuracy
    caption = (
        f"`{result.model}` on {result.n_volumes} held-out generated volumes "
        f"({'x'.join(map(str, result.grid))} voxels, design {result.design}, the generator's "
        f"{result.split} split, seed {result.seed}): accuracy {accuracy.value:.3f} "
        f"[{accuracy.low:.3f}, {accuracy.high:.3f}]; maps of "
        f"the lesion class on the {result.n_lesion} volumes with a lesion; 95% bootstrap "
        f"intervals over volumes ({result.n_boot} resamples), differences paired "
        "([results](results/volumes/results.csv), [manifest](results/volumes/manifest.json))."
    )
    return markdown_table(columns, rows, caption)


#: a difference to Grad-CAM's lesion share smaller than this on both ends reads "the same"
SAME_SHARE = 1e-4


def _versus_gradcam(versus: Estimate) -> str:
    """The verdict of a paired difference to Grad-CAM; a map within :data:`SAME_SHARE` of
    Grad-CAM's share on both ends of the interval reads as the same."""
    if not versus.finite:
        return "–"
    if max(abs(versus.low), abs(versus.high)) < SAME_SHARE:
        return f"same (within {SAME_SHARE:g})"
    return against_zero(versus)
