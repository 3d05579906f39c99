"""The ablation over training seeds: is a variant's edge over Grad-CAM a property of the
method or of one trained network?

One network's ablation (:func:`causalcam.study.run_ablation`) gives intervals over test
images only; a difference that comes from one training run's quirks would pass it.
:func:`run_seed_study` runs that ablation on every checkpoint (independently trained copies
of one architecture: same test images, same thresholds, each cached under
``out_dir/<model>``) and reports, per (mode, method) versus Grad-CAM:

* each seed's mean accuracy difference at matched Huffman budgets (``mean_diff``) and mean
  bits saving (``mean_saving``);
* their mean over seeds, with a paired bootstrap interval over the test images: one set of
  resampling counts is applied to every seed's curves (the test images are the same), and
  each replicate's statistic is averaged over the seeds;
* their spread over seeds (standard deviation, minimum, maximum) and in how many seeds the
  variant is better than Grad-CAM (deletion: ``mean_diff > 0``; insertion: ``< 0``).

Writes ``seeds.csv``, ``seeds.json`` and ``seeds.md`` in ``out_dir``.
"""

from __future__ import annotations

import dataclasses
import math
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._io import atomic_write_json, atomic_write_text
from .errors import InputError
from .evaluate import DEFAULT_H_VALUES, Curve, rows_to_csv
from .evaluate.summary import bootstrap_weights
from .evaluate.tables import jsonable
from .explain import CausalOptions
from .method_names import CAUSAL
from .study import (
    CPU_THRESHOLDS,
    REFERENCE,
    AblationResult,
    budget_intervals,
    budget_samples,
    finite_or,
    format_cell,
    run_ablation,
)

STATISTICS: tuple[str, ...] = ("mean_diff", "mean_saving")


@dataclass(frozen=True)
class SeedStudy:
    """What :func:`run_seed_study` measured and wrote."""

    out_dir: Path
    models: list[str]
    ablations: list[AblationResult]
    rows: list[dict[str, Any]]
    choice: dict[str, Any]
    paths: list[Path]

    def to_json(self) -> dict[str, Any]:
        first = self.ablations[0]
        return {
            "models": self.models,
            "n_images": first.n_images,
            "thresholds": list(first.thresholds),
            "h_values": list(first.h_values),
            "choice": self.choice,
            "rows": self.rows,
        }


def _folder_name(index: int, model: Any) -> str:
    """``<index>-<parent>-<stem>`` for a checkpoint path, ``<index>`` for a loaded model."""
    if not isinstance(model, str | Path):
        return str(index)
    path = Path(model)
    label = f"{path.parent.name}-{path.stem}" if path.parent.name else path.stem
    return f"{index}-" + re.sub(r"[^A-Za-z0-9_.-]+", "_", label)


def run_seed_study(models: Sequence[Any], out_dir: str | Path, **options: Any) -> SeedStudy:
    """Run :func:`~causalcam.study.run_ablation` on each model (at least two copies of one
    network trained with different seeds: checkpoint paths or anything ``run_ablation``
    takes) and summarise each variant over the seeds (module docstring). ``options`` go to
    ``run_ablation`` (``variants``, ``thresholds``, ``h_values``, ``n_boot``, ``seed``,
    ``images``/``labels``, ``data_root``, ``device``, ...); the thresholds default to the
    CPU profile's :data:`~causalcam.study.CPU_THRESHOLDS`."""
    if len(models) < 2:
        raise InputError(f"a seed study needs at least two trained models, got {len(models)}")
    out = Path(out_dir)
    options = {"thresholds": CPU_THRESHOLDS} | options
    ablations = [
        run_ablation(model, out / _folder_name(index, model), **options)
        for index, model in enumerate(models)
    ]
    rows = seed_rows(
        ablations,
        h_values=options.get("h_values", DEFAULT_H_VALUES),
        n_boot=options.get("n_boot", 1000),
        seed=options.get("seed", 0),
    )
    study = SeedStudy(out, [a.model for a in ablations], ablations, rows, choose(rows), [])
    return dataclasses.replace(study, paths=write_seed_study(study))


def _curve(result: AblationResult, method: str, mode: str) -> Curve:
    for curve in result.curves:
        if curve.method == method and curve.mode == mode:
            return curve
    raise InputError(f"{result.model} has no {mode} curve of {method!r}")


def _better(mode: str, value: float) -> bool:
    """Deletion: more accuracy / more bits saved than Grad-CAM; insertion: the opposite."""
    return value > 0 if mode == "deletion" else value < 0


def seed_rows(
    ablations: Sequence[AblationResult],
    *,
    h_values: Sequence[float] = DEFAULT_H_VALUES,
    n_boot: int = 1000,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """One row per (mode, method other than Grad-CAM): per-seed values, the mean over seeds
    with its paired image-bootstrap interval, the spread over seeds and the seeds in which
    the method is better than Grad-CAM."""
    sizes = {a.n_images for a in ablations}
    if len(sizes) != 1:
        raise InputError(f"the seed study needs the same test images for every model: {sizes}")
    weights = bootstrap_weights(sizes.pop(), n_boot, seed) if n_boot > 0 else None
    chance = ablations[0].chance
    rows = []
    for first in ablations[0].rows:
        mode, method = first["mode"], first["method"]
        if method == REFERENCE:
            continue
        per_seed = [_row(a, mode, method) for a in ablations]
        row: dict[str, Any] = {"mode": mode, "method": method, "seeds": len(ablations)}
        row |= {k: first[k] for k in CausalOptions().to_dict() if k in first}
        for statistic in STATISTICS:
            values = np.array([r.get(statistic, math.nan) for r in per_seed], dtype=np.float64)
            row |= _spread(statistic, values, mode)
        if weights is not None:
            samples = [
                budget_samples(
                    _curve(a, method, mode), _curve(a, REFERENCE, mode), h_values, weights, chance
                )
                for a in ablations
            ]
            with warnings.catch_warnings():  # a replicate with no shared budget is NaN
                warnings.simplefilter("ignore", RuntimeWarning)
                pooled = np.nanmean(np.stack(samples), axis=0)
            row |= budget_intervals(pooled)
        rows.append(row)
    return rows


def _row(result: AblationResult, mode: str, method: str) -> Mapping[str, Any]:
    for row in result.rows:
        if row["mode"] == mode and row["method"] == method:
            return row
    raise InputError(f"{result.model} has no {mode} row for {method!r}")


def _spread(statistic: str, values: np.ndarray, mode: str) -> dict[str, Any]:
    finite = values[np.isfinite(values)]
    if not finite.size:
        return {statistic: math.nan, f"{statistic}_per_seed": values.tolist()}
    better = sum(_better(mode, float(v)) for v in finite)
    return {
        statistic: float(finite.mean()),
        f"{statistic}_sd": float(finite.std(ddof=1)) if finite.size > 1 else math.nan,
        f"{statistic}_min": float(finite.min()),
        f"{statistic}_max": float(finite.max()),
        f"{statistic}_per_seed": values.tolist(),
        f"{statistic}_seeds_better": int(better),
    }


def choose(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The causal variant with the highest deletion mean difference over seeds; whether its
    pooled interval lies above zero and in how many seeds it beats Grad-CAM."""
    deletion = [r for r in rows if r["mode"] == "deletion" and r["method"].startswith(CAUSAL)]
    if not deletion:
        raise InputError("no causal variant in the seed study")
    best = max(deletion, key=lambda r: finite_or(r.get("mean_diff")))
    insertion = next(
        (r for r in rows if r["mode"] == "insertion" and r["method"] == best["method"]), {}
    )
    return {
        "method": best["method"],
        "seeds": best["seeds"],
        "deletion_mean_diff": best.get("mean_diff"),
        "deletion_mean_diff_ci": [best.get("mean_diff_lo"), best.get("mean_diff_hi")],
        "deletion_seeds_better": best.get("mean_diff_seeds_better"),
        "deletion_mean_saving": best.get("mean_saving"),
        "insertion_mean_diff": insertion.get("mean_diff"),
        "beats_gradcam": finite_or(best.get("mean_diff_lo")) > 0,
    }


def _signed(value: Any, scale: float = 1.0, digits: int = 3) -> str:
    scaled = value * scale if isinstance(value, int | float) else value
    return format_cell(scaled, digits, signed=True)


def _with_interval(row: Mapping[str, Any], key: str, scale: float, digits: int) -> str:
    text = _signed(row.get(key), scale, digits)
    low, high = row.get(f"{key}_lo"), row.get(f"{key}_hi")
    if text != "—" and isinstance(low, float) and math.isfinite(low):
        text += f" [{_signed(low, scale, digits)}, {_signed(high, scale, digits)}]"
    return text


def seed_markdown(study: SeedStudy) -> str:
    """The per-mode tables of the seed study and its choice, as Markdown."""
    first = study.ablations[0]
    lines = [
        "# The ablation over training seeds",
        "",
        f"{len(study.models)} networks: {', '.join(study.models)}; {first.n_images} test "
        f"images; thresholds {', '.join(f'{t:g}' for t in first.thresholds)}; matched "
        f"budgets H = {', '.join(f'{h:g}' for h in first.h_values)}.",
        "Mean Δacc (accuracy minus Grad-CAM's at matched H, averaged over the budgets) and "
        "bits saving per seed and averaged over seeds, with a 95% paired bootstrap interval "
        "over the test images; *better* counts the seeds in which the method beats Grad-CAM.",
        "",
    ]
    for mode in dict.fromkeys(r["mode"] for r in study.rows):
        lines += [
            f"## {mode.capitalize()}",
            "",
            "| method | Δacc per seed | mean Δacc [95% CI] | sd | better | bits saving "
            "[95% CI] | better |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in (r for r in study.rows if r["mode"] == mode):
            per_seed = " / ".join(_signed(v) for v in row.get("mean_diff_per_seed", []))
            cells = [
                f"`{row['method']}`",
                per_seed,
                _with_interval(row, "mean_diff", 1.0, 3),
                _signed(row.get("mean_diff_sd")).lstrip("+"),
                f"{row.get('mean_diff_seeds_better', '—')}/{row['seeds']}",
                _with_interval(row, "mean_saving", 100.0, 1) + "%",
                f"{row.get('mean_saving_seeds_better', '—')}/{row['seeds']}",
            ]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    choice = study.choice
    verdict = "beats" if choice["beats_gradcam"] else "does not beat"
    lines += [
        "## Choice",
        "",
        f"Best deletion variant over seeds: `{choice['method']}`; it {verdict} Grad-CAM "
        f"(mean Δacc {_signed(choice['deletion_mean_diff'])}, 95% CI "
        f"{_signed(choice['deletion_mean_diff_ci'][0])} to "
        f"{_signed(choice['deletion_mean_diff_ci'][1])}; better in "
        f"{choice['deletion_seeds_better']} of {choice['seeds']} seeds).",
        "",
    ]
    return "\n".join(lines)


def write_seed_study(study: SeedStudy) -> list[Path]:
    """Write ``seeds.csv``, ``seeds.json`` and ``seeds.md`` to ``study.out_dir``."""
    out = study.out_dir
    flat = [
        {k: (" / ".join(f"{x:.4f}" for x in v) if isinstance(v, list) else v) for k, v in r.items()}
        for r in study.rows
    ]
    return [
        atomic_write_text(out / "seeds.csv", rows_to_csv(flat)),
        atomic_write_json(out / "seeds.json", jsonable(study.to_json())),
        atomic_write_text(out / "seeds.md", seed_markdown(study)),
    ]
