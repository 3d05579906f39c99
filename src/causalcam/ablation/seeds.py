"""The ablation over training seeds: is a variant's edge over Grad-CAM a property of the
method or of one trained network?

One network's ablation (:func:`causalcam.ablation.measure.run_ablation`) gives intervals over test
images only; a difference that comes from one training run's quirks would pass it.
:func:`run_seed_study` runs that ablation on every checkpoint (independently trained copies
of one architecture: same test images, same thresholds, each cached under
``out_dir/<model>``) and reports, per (mode, method) versus Grad-CAM
(:class:`~causalcam.results.SeedRow`):

* each seed's mean accuracy difference at matched Huffman budgets and mean bits saving;
* their mean over seeds, with a paired bootstrap interval over the test images
  (:func:`causalcam.evaluate.summary.budget_estimates` over every seed's curves);
* their spread over seeds and in how many seeds the variant is better than Grad-CAM
  (:func:`causalcam.evaluate.summary.spread`).

The variant is chosen by the ablation's own rule
(:func:`causalcam.evaluate.summary.choose_variant`). Writes ``seeds.csv``, ``seeds.json``
and ``seeds.md`` in ``out_dir``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._io import atomic_write_json, atomic_write_text
from ..errors import InputError
from ..evaluate import DEFAULT_H_VALUES, Curve, EvaluationSettings, rows_to_csv
from ..evaluate.summary import budget_estimates, choose_variant, spread
from ..evaluate.tables import jsonable
from ..report import Heading, render_markdown
from ..report.ablation import seed_blocks
from ..results import SeedRow, SeedTable
from .measure import CPU_THRESHOLDS, REFERENCE, AblationResult, AblationSettings, run_ablation


@dataclass(frozen=True)
class SeedStudy:
    """What :func:`run_seed_study` measured and wrote."""

    out_dir: Path
    table: SeedTable
    ablations: list[AblationResult]
    paths: list[Path]


def _folder_name(index: int, model: Any) -> str:
    """``<index>-<parent>-<stem>`` for a checkpoint path, ``<index>`` for a loaded model."""
    if not isinstance(model, str | Path):
        return str(index)
    path = Path(model)
    label = f"{path.parent.name}-{path.stem}" if path.parent.name else path.stem
    return f"{index}-" + re.sub(r"[^A-Za-z0-9_.-]+", "_", label)


def run_seed_study(
    models: Sequence[Any],
    out_dir: str | Path,
    *,
    settings: AblationSettings | None = None,
    **options: Any,
) -> SeedStudy:
    """Run :func:`~causalcam.ablation.measure.run_ablation` on each model and summarise each variant
    over the seeds (module docstring).

    Args:
        models: at least two copies of one network trained with different seeds
            (checkpoint paths or anything ``run_ablation`` takes).
        out_dir: each model's ablation goes to a folder of it; ``seeds.*`` to it.
        settings: the ablation's settings (default: :class:`.measure.AblationSettings` with
            the CPU profile's :data:`.measure.CPU_THRESHOLDS`); a curve store in
            ``settings.evaluation.out_dir`` serves every model.
        **options: the data and device of ``run_ablation`` (``images``/``labels``,
            ``data_root``, ``device``, ``plots``).

    Returns:
        The seed table, each model's ablation and the files written.

    Raises:
        InputError: fewer than two models, or models tested on different images.
    """
    if len(models) < 2:
        raise InputError(f"a seed study needs at least two trained models, got {len(models)}")
    out = Path(out_dir)
    if settings is None:
        settings = AblationSettings(evaluation=EvaluationSettings(thresholds=CPU_THRESHOLDS))
    ablations = [
        run_ablation(model, out / _folder_name(index, model), settings=settings, **options)
        for index, model in enumerate(models)
    ]
    table = seed_table(
        ablations, h_values=settings.h_values, n_boot=settings.n_boot, seed=settings.seed
    )
    study = SeedStudy(out, table, ablations, [])
    return dataclasses.replace(study, paths=write_seed_study(study))


def _curve(result: AblationResult, method: str, mode: str) -> Curve:
    for curve in result.curves:
        if curve.method == method and curve.mode == mode:
            return curve
    raise InputError(f"{result.table.model} has no {mode} curve of {method!r}")


def seed_table(
    ablations: Sequence[AblationResult],
    *,
    h_values: Sequence[float] = DEFAULT_H_VALUES,
    n_boot: int = 1000,
    seed: int = 0,
) -> SeedTable:
    """One :class:`~causalcam.results.SeedRow` per (mode, method other than Grad-CAM) and
    the chosen variant, from each seed's ablation on the same test images."""
    tables = [a.table for a in ablations]
    sizes = {t.n_images for t in tables}
    if len(sizes) != 1:
        raise InputError(f"the seed study needs the same test images for every model: {sizes}")
    first = tables[0]
    rows = []
    for row in first.rows:
        if row.method == REFERENCE:
            continue
        per_seed = [t.row(row.mode, row.method) for t in tables]
        pairs = [
            (_curve(a, row.method, row.mode), _curve(a, REFERENCE, row.mode)) for a in ablations
        ]
        mean_diff, mean_saving = budget_estimates(
            pairs, h_values, n_boot=n_boot, seed=seed, chance=first.chance
        )
        rows.append(
            SeedRow(
                mode=row.mode,
                method=row.method,
                options=dict(row.options),
                seeds=len(tables),
                budgets=min(r.budgets for r in per_seed),
                mean_diff=mean_diff,
                mean_saving=mean_saving,
                diff_over_seeds=spread([r.mean_diff.value for r in per_seed], row.mode),
                saving_over_seeds=spread([r.mean_saving.value for r in per_seed], row.mode),
            )
        )
    return SeedTable(
        models=tuple(t.model for t in tables),
        n_images=first.n_images,
        chance=first.chance,
        thresholds=first.thresholds,
        h_values=first.h_values,
        rows=tuple(rows),
        choice=choose_variant(rows),
    )


def write_seed_study(study: SeedStudy) -> list[Path]:
    """Write ``seeds.csv``, ``seeds.json`` and ``seeds.md`` to ``study.out_dir``."""
    out, table = study.out_dir, study.table
    blocks = [Heading(1, "The ablation over training seeds"), *seed_blocks(table)]
    return [
        atomic_write_text(out / "seeds.csv", rows_to_csv([r.flat() for r in table.rows])),
        atomic_write_json(out / "seeds.json", jsonable(table.to_json())),
        atomic_write_text(out / "seeds.md", render_markdown(blocks)),
    ]
