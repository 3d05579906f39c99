"""The explanation metrics section: every method under each metric against the reference
(Grad-CAM), with paired bootstrap intervals and Holm's correction, and the sanity checks'
verdicts. Reads a :class:`~causalcam.results.metrics.MetricsReport` (``metrics.json``)."""

from __future__ import annotations

import json
import os
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from .._io import atomic_write_text
from ..errors import InputError
from ..method_names import CAUSAL
from ..results.metrics import MetricsReport, SanityResult
from .blocks import Block, Bullets, Heading, Image, Paragraph, Table
from .formatting import duration_text, estimate_text, method_text, number_text
from .markdown import render_markdown

#: What each metric measures, one line each (docs/metrics.md has the formulas).
METRIC_NOTES: dict[str, str] = {
    "ROADMostRelevantFirstAverage": "ROAD, most relevant pixels imputed first: score change",
    "ROADLeastRelevantFirstAverage": "ROAD, least relevant pixels imputed first: score change",
    "ROADCombined": "(LeRF - MoRF) / 2",
    "CamMultImageConfidenceChange": "score change of x * map (grad-cam)",
    "DropInConfidence": "absolute drop of the target's score for x * map (grad-cam)",
    "IncreaseInConfidence": "share of images whose score rises for x * map (grad-cam)",
    "RelativeAverageDrop": "relative drop of the class probability (torchcam's Average Drop)",
    "RelativeIncreaseInConfidence": "share whose probability rises (torchcam)",
    "Sparseness": "Gini index of |map| (Quantus)",
    "Complexity": "entropy of |map| (Quantus)",
    "MaxSensitivity": "largest relative map change under input noise (Quantus)",
}
#: A short name for each metric, where a table lists several in one cell.
METRIC_SHORT: dict[str, str] = {
    "ROADMostRelevantFirstAverage": "ROAD MoRF",
    "ROADLeastRelevantFirstAverage": "ROAD LeRF",
    "ROADCombined": "ROAD combined",
    "CamMultImageConfidenceChange": "confidence change",
    "DropInConfidence": "drop in confidence",
    "IncreaseInConfidence": "increase in confidence",
    "RelativeAverageDrop": "relative drop",
    "RelativeIncreaseInConfidence": "relative increase",
    "Sparseness": "sparseness",
    "Complexity": "complexity",
    "MaxSensitivity": "max-sensitivity",
}


#: Where a run folder holds metrics results: ``RUN/metrics/<model>/metrics.json`` (what
#: ``causalcam evaluate CHECKPOINT --metrics ... --out RUN/metrics`` writes).
METRICS_FOLDER: Final = "metrics"


@dataclass(frozen=True)
class MetricsFolder:
    """A metrics result and its folder, relative to the report's folder (posix)."""

    folder: str
    report: MetricsReport


def read_metrics(
    root: str | os.PathLike[str], extra: Sequence[str | os.PathLike[str]] = ()
) -> list[MetricsFolder]:
    """The metrics results of a run folder (``RUN/metrics/*/metrics.json``) and of the
    ``extra`` output folders of ``causalcam evaluate --metrics``."""
    base = Path(root)
    folders = sorted(p.parent for p in (base / METRICS_FOLDER).glob("*/metrics.json"))
    for folder in map(Path, extra):
        if not (folder / "metrics.json").is_file():
            raise InputError(f"{folder} holds no metrics.json of `causalcam evaluate --metrics`")
        folders.append(folder)
    return [
        MetricsFolder(
            Path(os.path.relpath(folder, base)).as_posix(),
            MetricsReport.from_json(json.loads((folder / "metrics.json").read_text("utf-8"))),
        )
        for folder in folders
    ]


def metrics_blocks(report: MetricsReport, level: int = 2, folder: str = "") -> list[Block]:
    """The section's blocks: the setting, one table per metric, the sanity verdicts and the
    figures of the output folder (``folder``: where it is, relative to the page)."""
    blocks: list[Block] = [
        Heading(level, "Explanation metrics"),
        Paragraph(
            f"Model `{report.model}`, {report.subset} ({report.images} images); every method "
            f"against {method_text(report.reference)} on the same images: the mean with its 95% "
            "bootstrap interval, the paired difference to the reference with its interval, and "
            "the two-sided bootstrap p-value after Holm's correction across the methods of "
            "each metric. A difference counts as better or worse only when that adjusted "
            f"p-value is below 0.05. Run time {duration_text(report.seconds)}."
        ),
    ]
    resamples = int(report.settings.get("n_boot", 0))
    for metric in dict.fromkeys(c.metric for c in report.comparisons):
        rows = [c for c in report.comparisons if c.metric == metric]
        direction = "higher" if rows[0].higher_is_better else "lower"
        note = METRIC_NOTES.get(metric, "")
        left_out = [m for m in _methods(report) if m not in {c.method for c in rows}]
        if left_out:
            note += (
                f"; left out: {', '.join(method_text(m) for m in left_out)} "
                "(one forward pass per channel, explained again for every draw)"
            )
        blocks.append(Heading(level + 1, f"{metric} ({direction} is better)"))
        blocks.append(
            Table(
                columns=("method", "mean [95% CI]", "difference to reference", "p (Holm)", ""),
                rows=[
                    (
                        method_text(c.method),
                        estimate_text(c.value),
                        "–" if c.verdict == "reference" else estimate_text(c.diff),
                        "–" if c.verdict == "reference" else _p_value(c.p_holm, resamples),
                        c.verdict,
                    )
                    for c in rows
                ],
                caption=note,
            )
        )
    if report.sanity is not None:
        blocks.extend(sanity_blocks(report.sanity, level + 1))
    blocks.extend(
        Image(
            posixpath.join(folder, path), "Sanity checks: maps as layers are randomised, top first"
        )
        if path.startswith("sanity")
        else Image(
            posixpath.join(folder, path),
            "Paired differences to the reference (filled: Holm-adjusted p < 0.05)",
        )
        for path in report.figures
    )
    return blocks


def metrics_section(folders: Sequence[MetricsFolder]) -> list[Block]:
    """The report's explanation-metrics section: :func:`metrics_blocks` of each result (none
    without results)."""
    return [block for f in folders for block in metrics_blocks(f.report, 2, f.folder)]


def _methods(report: MetricsReport) -> list[str]:
    """Every method that some metric of the run scored, in order."""
    return list(dict.fromkeys(c.method for c in report.comparisons))


def _p_value(p: float, resamples: int) -> str:
    """A bootstrap p-value; 0 reads "< 1/resamples" (no resample crossed zero)."""
    if p == 0 and resamples > 0:
        return f"< {1 / resamples:.2g}"
    return number_text(p)


def sanity_blocks(sanity: SanityResult, level: int = 3) -> list[Block]:
    """The sanity checks' verdicts and which methods fail."""
    threshold = sanity.verdicts[0].threshold if sanity.verdicts else float("nan")
    rows = [
        (
            method_text(v.method),
            v.test.replace("_", " "),
            v.statistic,
            estimate_text(v.estimate),
            "pass" if v.passed else "**fail**",
        )
        for v in sanity.verdicts
    ]
    failing = [m for m in sanity.methods if not sanity.passed(m)]
    summary = [
        "Every method passes."
        if not failing
        else "Failing: " + ", ".join(method_text(m) for m in failing) + "."
    ]
    if CAUSAL in sanity.methods:
        failed = [
            f"{v.test.replace('_', ' ')} {v.statistic}"
            for v in sanity.verdicts
            if v.method == CAUSAL and not v.passed
        ]
        summary.append(
            f"The causal map ({method_text(CAUSAL)}) "
            + ("passes every judged test." if not failed else "fails: " + ", ".join(failed) + ".")
        )
    return [
        Heading(level, "Sanity checks"),
        Paragraph(
            "Rule (fixed before measuring): a method passes a test when the upper end of the "
            f"95% interval of its mean similarity is below {threshold:g} — Spearman rank "
            "correlation of |maps| and SSIM after randomising every unit from the top "
            "(cascading), SSIM of the map of a random other class (random logit). Units: "
            + ", ".join(f"`{u}`" for u in sanity.layers)
            + "."
        ),
        Table(("method", "test", "similarity", "mean [95% CI]", "result"), rows),
        Bullets(summary),
    ]


def write_metrics_report(folder: str | os.PathLike[str]) -> Path:
    """``metrics.md`` of an output folder of ``causalcam evaluate --metrics`` (from its
    ``metrics.json``)."""
    root = Path(folder)
    report = MetricsReport.from_json(json.loads((root / "metrics.json").read_text("utf-8")))
    return atomic_write_text(root / "metrics.md", render_markdown(metrics_blocks(report, 1)))
