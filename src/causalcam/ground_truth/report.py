"""The report of the ground-truth benchmark: ``report.md``, ``results.json`` (written by the
run), ``manifest.json`` and PNG figures (example images with the planted features outlined
and each method's map; the separation gain of every causal reading with its interval)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure

from .._io import atomic_write_json, atomic_write_text
from ..evaluate.store import safe_name
from ..results.ablation import Estimate
from ..synthetic import INTERVENTIONS
from ..synthetic.phantom import (
    GLYPH_LEVEL,
    LESION_FLOOR,
    LESION_GAIN,
    NOISE_SD,
    RIM_LEVEL,
    RING_GAIN,
)
from ..viz.overlay import overlay
from ..viz.panels import save_figure
from .layout import unit_folder
from .verdicts import (
    CONTEXT_CHANGE,
    DEFAULT_READING,
    DELTA,
    EPSILON,
    GAIN,
    HOLDS,
    SEPARATION,
    BenchmarkResult,
    ConfigResult,
    deciding,
    is_reading,
)

_INTERVENTION_TITLES = {
    "clean": "clean",
    "context_removed": "cause alone",
    "context_alone": "context alone",
    "context_swapped": "context swapped",
}


def _e(value: Estimate, digits: int = 3) -> str:
    if not math.isfinite(value.value):
        return "n/a"
    if not (math.isfinite(value.low) and math.isfinite(value.high)):
        return f"{value.value:+.{digits}f}"
    return f"{value.value:+.{digits}f} [{value.low:+.{digits}f}, {value.high:+.{digits}f}]"


def _networks_table(config: ConfigResult) -> list[str]:
    head = ["seed", *(_INTERVENTION_TITLES[k] for k in INTERVENTIONS), "confidence"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for n in config.networks:
        cells = [
            str(n.seed),
            *(f"{n.accuracy[k]:.3f}" for k in INTERVENTIONS),
            f"{n.confidence:.3f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _maps_table(config: ConfigResult) -> list[str]:
    lines = [
        "| map | share cause | share context | S | S - S(Grad-CAM) | context - Grad-CAM's "
        "| points at cause / context | empty |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in config.rows:
        lines.append(
            f"| `{r.method}` | {r.cause.value:.3f} | {r.context.value:.3f} | {_e(r.separation)} "
            f"| {_e(r.gain)} | {_e(r.context_change)} "
            f"| {r.point_cause:.2f} / {r.point_context:.2f} | {r.empty:.2f} |"
        )
    return lines


def _verdict_table(config: ConfigResult) -> list[str]:
    lines = ["| map | prediction | estimate | outcome |", "|---|---|---|---|"]
    for v in config.verdicts:
        lines.append(
            f"| `{v.prediction.method}` | {v.prediction.text} | {_e(v.estimate)} | {v.outcome} |"
        )
    return lines


def _curve_table(config: ConfigResult) -> list[str]:
    if not config.curves:
        return []
    lines = [
        "",
        "Threshold deletion/insertion (paper Sec. 4.1) on these test images, maps of the "
        "predicted class: mean accuracy difference to Grad-CAM at matched Huffman budgets "
        "(deletion: higher is better; insertion: lower is better).",
        "",
        "| mode | map | mean accuracy difference |",
        "|---|---|---|",
    ]
    lines += [f"| {c.mode} | `{c.method}` | {_e(c.mean_diff)} |" for c in config.curves]
    return lines


def _readings_table(result: BenchmarkResult, smoothing: float) -> list[str]:
    rows = [r for r in result.readings if r.smoothing == smoothing]
    if not rows:
        return []
    configs = [c for c in result.configs if c.smoothing == smoothing]
    designs = list(rows[0].outcomes)
    tests = {c.design.label: deciding(c, rows[0].reading).prediction.text for c in configs}
    head = ["reading", *(f"{d}<br>{tests[d]}" for d in designs), "separates"]
    head += ["own S > delta (reported)", "empty maps"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        name = f"**`{r.reading}`** (default)" if r.reading == DEFAULT_READING else f"`{r.reading}`"
        own = [
            v.outcome
            for c in configs
            for v in c.verdicts
            if v.prediction.method == r.reading and v.prediction.quantity == SEPARATION
        ]
        held = f"{sum(o == HOLDS for o in own)} of {len(own)}"
        empty = np.mean([c.row(r.reading).empty for c in configs])
        cells = [name, *(r.outcomes[d] for d in designs), "yes" if r.separates else "no"]
        lines.append("| " + " | ".join([*cells, held, f"{empty:.2f}"]) + " |")
    return lines


def _answers(result: BenchmarkResult) -> list[str]:
    lines = []
    for smoothing, separates in sorted(result.default_separates.items()):
        chosen = [r.reading for r in result.separating if r.smoothing == smoothing]
        which = ", ".join(f"`{r}`" for r in chosen) if chosen else "none"
        lines.append(
            f"- Label smoothing {smoothing:g}: readings that separate cause from context: "
            f"{which}. The default reading `{DEFAULT_READING}` (the one COVID-CT's deletion "
            f"study chose) {'does' if separates else 'does not'}"
            + (
                "; the choices agree."
                if separates
                else ("; the choices disagree." if chosen else "; neither does any other reading.")
            )
        )
    return lines


def _contrast_note() -> list[str]:
    low = LESION_FLOOR * LESION_GAIN
    return [
        f"The lesion is faint by design: it raises the lung field by {low:g} to "
        f"{LESION_GAIN:g} grey levels (of 255) against noise of SD {NOISE_SD:g}, the ring by "
        f"{RING_GAIN:g}, while the context is bright (glyph {GLYPH_LEVEL:g}, rim "
        f"{RIM_LEVEL:g}), so a network that can read the cause still has a reason to take "
        "the more salient context. These levels are part of the designs, fixed with them "
        'before any network was trained (docs/ground-truth.md, "The images").'
    ]


def markdown(result: BenchmarkResult, manifest: dict[str, Any]) -> str:
    """The report as markdown."""
    s = result.settings
    lines = [
        "# Ground truth: does the causal map separate cause from context?",
        "",
        'Designs, predictions and margins: docs/method.md, "Ground truth: planted cause and '
        'context". Margins: delta = '
        f"{DELTA:g}, epsilon = {EPSILON:g}. Intervals: 95% two-stage bootstrap (networks, then "
        f"images), {s['n_boot']} resamples.",
        "",
        f"Settings: {s['arch']} at {s['size']} px, {s['seeds']} seed(s) per configuration, "
        f"label smoothing {', '.join(f'{v:g}' for v in s['smoothing'])}, {s['n_train']} "
        f"training and {s['n_test']} test images per design, {s['epochs']} epochs; designs "
        f"{', '.join(s['designs'])}. This invocation: {manifest.get('seconds', math.nan):.0f} s "
        f"with {manifest.get('threads', '?')} thread(s), "
        f"{manifest.get('networks_computed', '?')} network(s) computed, "
        f"{manifest.get('networks_reused', '?')} reused from an earlier run of the same "
        "settings (manifest.json: CPU seconds of the units, load).",
        "",
        *_contrast_note(),
        "",
        "## Verdicts",
        "",
        "A reading separates cause from context when its deciding comparison with Grad-CAM "
        f"holds on every design: `{GAIN}` above delta (shortcut, shared), above -epsilon "
        f"(contrast, non-inferiority), `{CONTEXT_CHANGE}` inside (-epsilon, epsilon) (null "
        "case, rho = 0.5).",
        "",
        *_answers(result),
    ]
    for smoothing in sorted({r.smoothing for r in result.readings}):
        lines += ["", f"### Label smoothing {smoothing:g}", "", *_readings_table(result, smoothing)]
    lines += ["", "![separation gain of each reading](gains.png)", ""]
    for config in result.configs:
        holds = sum(v.outcome == HOLDS for v in config.verdicts)
        lines += [
            f"## {config.label}",
            "",
            f"{config.n_images} explained test images per network. What the networks use "
            "(accuracy per intervention, mean confidence):",
            "",
            *_networks_table(config),
            "",
            f"Predictions of docs/method.md ({holds} of {len(config.verdicts)} hold):",
            "",
            *_verdict_table(config),
            "",
            "Every map:",
            "",
            *_maps_table(config),
            *_curve_table(config),
            "",
            f"![examples]({_example_name(config)})",
            "",
        ]
    skipped = manifest.get("skipped_methods") or {}
    if skipped:
        lines += ["## Methods left out", ""]
        lines += [f"- `{name}`: {reason}" for name, reason in skipped.items()]
    return "\n".join(lines) + "\n"


def _example_name(config: ConfigResult) -> str:
    return f"examples-{safe_name(config.design.label)}-smoothing{config.smoothing:g}.png"


def _outline(image: np.ndarray, region: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    inside = region.astype(bool)
    padded = np.pad(inside, 1)
    interior = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:] & inside
    image = image.copy()
    image[inside & ~interior] = colour
    return image


def example_figure(examples: dict[str, torch.Tensor], title: str) -> Figure:
    """Rows: example images (cause outlined green, context red) and each method's map."""
    methods = [k for k in examples if k not in ("image", "cause", "context")]
    rows = int(examples["image"].shape[0])
    figure = Figure(figsize=(1.5 * (len(methods) + 1), 1.6 * rows + 0.5), layout="constrained")
    figure.suptitle(title, fontsize=10, fontweight="bold")
    axes = figure.subplots(rows, len(methods) + 1, squeeze=False)
    for i in range(rows):
        grey = examples["image"][i].numpy()
        rgb = np.repeat(grey[..., None], 3, axis=2)
        rgb = _outline(rgb, examples["cause"][i].numpy(), (0, 220, 0))
        rgb = _outline(rgb, examples["context"][i].numpy(), (255, 40, 40))
        pictures = [("image (cause green, context red)", rgb)]
        pictures += [(m, overlay(grey, examples[m][i].numpy())) for m in methods]
        for axis, (name, picture) in zip(axes[i], pictures, strict=True):
            axis.imshow(picture)
            axis.set_axis_off()
            if i == 0:
                axis.set_title(name.replace(",", ",\n", 1) if len(name) > 18 else name, fontsize=7)
    return figure


def gains_figure(configs: Sequence[ConfigResult]) -> Figure:
    """Per configuration, ``S - S(Grad-CAM)`` of every causal reading with its interval."""
    figure = Figure(figsize=(3.2 * len(configs), 6.5), layout="constrained")
    axes = figure.subplots(1, len(configs), sharey=True, squeeze=False)[0]
    for axis, config in zip(axes, configs, strict=True):
        rows = [r for r in config.rows if is_reading(r.method)]
        verdicts = [deciding(config, r.method) for r in rows]
        test, quantity = verdicts[0].prediction, [v.estimate for v in verdicts]
        y = np.arange(len(rows))
        values = np.array([q.value for q in quantity])
        errors = np.array([[q.value - q.low, q.high - q.value] for q in quantity]).T
        colours = ["tab:red" if r.method == DEFAULT_READING else "tab:blue" for r in rows]
        axis.errorbar(values, y, xerr=np.nan_to_num(errors), fmt="none", ecolor=colours)
        axis.scatter(values, y, c=colours, s=12)
        for bound in sorted({test.bound, -test.bound}):
            axis.axvline(bound, color="grey", linestyle="--", linewidth=0.8)
        axis.axvline(0, color="black", linewidth=0.6)
        axis.set_title(f"{config.label}\n{test.quantity}", fontsize=8)
        axis.set_yticks(y, [r.method for r in rows], fontsize=6)
        axis.tick_params(axis="x", labelsize=7)
    axes[0].invert_yaxis()
    return figure


def write_report(result: BenchmarkResult, out: Path, manifest: dict[str, Any]) -> list[Path]:
    """``report.md``, ``manifest.json``, ``gains.png`` and one example figure per
    configuration into ``out`` (examples from the units under ``out/networks``)."""
    written = [atomic_write_json(out / "manifest.json", manifest)]
    written.append(save_figure(out / "gains.png", gains_figure(result.configs)))
    for config in result.configs:
        path = unit_folder(out, config.design, config.smoothing, 0) / "examples.pt"
        if path.exists():
            examples = torch.load(path, weights_only=True)
            figure = example_figure(examples, config.label)
            written.append(save_figure(out / _example_name(config), figure))
    written.append(atomic_write_text(out / "report.md", markdown(result, manifest)))
    return written
