"""The ablation study of the causal map's open choices (docs/method.md).

The paper leaves open the loss behind ``L(y, [1, 1])``, what its "normalized importance
scores" are and the sign convention. :func:`measure_ablation` measures every variant
(``CausalOptions``: loss x normalisation x sign, and the further readings) against Grad-CAM
and Grad-CAM++ with the paper's threshold deletion and insertion on one network:

1. every map of every variant comes from ONE ``Explainer.explain`` call per batch (one
   forward pass, one batched VJP); variants whose maps are identical are evaluated once;
2. the maps go to :func:`causalcam.evaluate.evaluate_maps` (cached and resumable under a
   store folder, keyed by the model, the layer and each variant's options);
3. each (mode, method) is compared with Grad-CAM by :func:`causalcam.evaluate.summary.compare`
   (accuracy at matched budgets, mean difference, bits saved above chance, AUC, paired
   bootstrap intervals) and a variant is chosen by
   :func:`~causalcam.evaluate.summary.choose_variant`;
4. :func:`run_ablation` also writes ``ablation.csv``, ``ablation.json`` and ``ablation.md``
   (+ curves and plots); ``causalcam reproduce`` stores the same
   :class:`~causalcam.results.AblationTable` as its ablation stage.

Directions: for deletion (the explanation is kept) higher accuracy at the same ``H`` and a
positive bits saving are better; for insertion (the explanation is removed) lower accuracy
at the same ``H`` and a negative saving are better.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from .._io import atomic_write_json, atomic_write_text
from ..data import load_split
from ..errors import InputError
from ..evaluate import (
    DEFAULT_H_VALUES,
    Curve,
    EvaluateMaps,
    EvaluationSettings,
    Network,
    as_network,
    curve_rows,
    evaluate_maps,
    rows_to_csv,
    write_rows,
)
from ..evaluate.store import model_fingerprint
from ..evaluate.summary import choose_variant, compare, majority_rate
from ..evaluate.tables import jsonable
from ..explain import CausalOptions
from ..method_names import GRADCAM
from ..models import load_checkpoint
from ..report import Heading, render_markdown
from ..report.ablation import ablation_blocks
from ..results import AblationRow, AblationTable
from ..viz.curves import save_accuracy_curves
from .maps import BASELINES, MapSanity, cache_keys, explain_all, identical_groups, map_sanity

REFERENCE = GRADCAM
#: 0.1, 0.2, ..., 0.6: the CPU budget (18 methods x 203 scans x 2 modes in ~40 min on a
#: shared 2-core CPU); they cover the matched budgets H = 0.3 ... 0.7 of both modes.
CPU_THRESHOLDS: tuple[float, ...] = tuple(round(0.1 * k, 2) for k in range(1, 7))


def ablation_rows(
    curves: Sequence[Curve],
    *,
    options: Mapping[str, Mapping[str, str]],
    sanity: Mapping[str, MapSanity],
    same_as: Mapping[str, str],
    h_values: Sequence[float] = DEFAULT_H_VALUES,
    n_boot: int = 1000,
    seed: int = 0,
    chance: float = 0.0,
) -> list[AblationRow]:
    """One row per (mode, method): :func:`~causalcam.evaluate.summary.compare` against
    Grad-CAM's curve of the same mode, with the method's options, map sanity and the
    method whose maps it shares."""
    by_mode: dict[str, dict[str, Curve]] = {}
    for curve in curves:
        by_mode.setdefault(curve.mode, {})[curve.method] = curve
    rows = []
    for mode, methods in by_mode.items():
        if REFERENCE not in methods:
            raise InputError(f"the ablation needs Grad-CAM's {mode} curve as its reference")
        for method, curve in methods.items():
            row = compare(
                curve, methods[REFERENCE], h_values, n_boot=n_boot, seed=seed, chance=chance
            )
            checks = sanity.get(method, MapSanity(float("nan"), float("nan")))
            representative = same_as.get(method, method)
            rows.append(
                dataclasses.replace(
                    row,
                    options=dict(options.get(method, {})),
                    same_maps_as=representative if representative != method else "",
                    kept_at_tau=checks.kept_at_tau,
                    zero_maps=checks.zero_maps,
                )
            )
    return rows


@dataclass(frozen=True)
class AblationSettings:
    """How the ablation runs: set once, passed to :func:`measure_ablation`,
    :func:`run_ablation` and :func:`~causalcam.ablation.seeds.run_seed_study`.

    Attributes:
        variants: the causal variants (``None``: :meth:`CausalOptions.ablation_variants`).
        h_values: the matched Huffman budgets of the comparison.
        n_boot: bootstrap resamples of the intervals.
        seed: of the bootstrap.
        target_layer: the explained layer (``None``: the model's default).
        evaluation: thresholds, batch sizes, progress, precision and the curve store
            (``out_dir``) of the threshold evaluation.
    """

    variants: tuple[CausalOptions, ...] | None = None
    h_values: tuple[float, ...] = DEFAULT_H_VALUES
    n_boot: int = 1000
    seed: int = 0
    target_layer: str | None = None
    evaluation: EvaluationSettings = field(default_factory=EvaluationSettings)

    def __post_init__(self) -> None:
        if self.variants is not None:
            object.__setattr__(self, "variants", tuple(self.variants))
        object.__setattr__(self, "h_values", tuple(float(h) for h in self.h_values))


@dataclass(frozen=True)
class Ablation:
    """One network's ablation: the table and the curves it was computed from."""

    table: AblationTable
    curves: list[Curve]


def measure_ablation(
    network: Network,
    images: Tensor,
    labels: Tensor,
    *,
    label: str,
    settings: AblationSettings | None = None,
    evaluate: EvaluateMaps = evaluate_maps,
) -> Ablation:
    """Every causal variant and Grad-CAM++ against Grad-CAM on ``network`` from one explain
    pass.

    Curves are cached under ``settings.evaluation.out_dir`` in a folder of the network's
    weights, so several networks share one store (``None``: not kept).

    Args:
        network: the network explained and evaluated.
        images: uint8 grey test scans ``(B, H, W)``.
        labels: their labels ``(B,)``.
        label: names the network in the table.
        settings: variants, budgets, bootstrap and evaluation settings
            (default :class:`AblationSettings`).
        evaluate: scores the maps (same call as :func:`~causalcam.evaluate.evaluate_maps`),
            e.g. with the images shared among processes.

    Returns:
        The table and the curves it was computed from.

    Raises:
        InputError: bad images, labels or maps.
    """
    settings = settings or AblationSettings()
    chosen = settings.variants or CausalOptions.ablation_variants()
    evaluation = settings.evaluation
    maps, layer = explain_all(
        network,
        images,
        chosen,
        target_layer=settings.target_layer,
        batch_size=evaluation.map_batch_size,
    )
    same_as = identical_groups(maps)
    options = {v.name: v.to_dict() for v in chosen}
    unique = {name: maps[name] for name in maps if same_as[name] == name}
    curves = evaluate(
        {"model": network},
        unique,
        images,
        labels,
        source="model",
        settings=evaluation.replace(
            targets=None, out_dir=_network_store(evaluation.out_dir, network)
        ),
        cache_keys=cache_keys(network, layer, list(unique)),
    )
    curves = _with_duplicates(curves, same_as)
    chance = majority_rate(labels)
    rows = ablation_rows(
        curves,
        options=options,
        sanity=map_sanity(maps),
        same_as=same_as,
        h_values=settings.h_values,
        n_boot=settings.n_boot,
        seed=settings.seed,
        chance=chance,
    )
    table = AblationTable(
        model=label,
        layer=layer,
        n_images=int(labels.numel()),
        chance=chance,
        thresholds=tuple(float(t) for t in curves[0].thresholds),
        h_values=settings.h_values,
        rows=tuple(rows),
        choice=choose_variant(rows),
    )
    return Ablation(table, curves)


def _network_store(store_dir: str | Path | None, network: Network) -> Path | None:
    """``store_dir/ablation/<weights>``: the store keeps one curve per method and mode, so
    each network gets its own folder."""
    if store_dir is None:
        return None
    return Path(store_dir) / "ablation" / model_fingerprint(network.model)[:16]


@dataclass(frozen=True)
class AblationResult:
    """What :func:`run_ablation` measured and wrote."""

    out_dir: Path
    table: AblationTable
    curves: list[Curve]
    paths: list[Path]


def _load_network(model: Any, device: str | torch.device | None) -> tuple[Network, str]:
    if isinstance(model, str | Path):
        path = Path(model)
        network, label = as_network(load_checkpoint(path)), path.name
    else:
        network, label = as_network(model), type(getattr(model, "model", model)).__name__
    if device is not None:
        network.model.to(device)
    return network, f"{label} ({model_fingerprint(network.model)})"


def run_ablation(
    model: Any,
    out_dir: str | Path,
    *,
    images: Tensor | None = None,
    labels: Tensor | None = None,
    data_root: str | Path | None = None,
    device: str | torch.device | None = None,
    plots: bool = True,
    settings: AblationSettings | None = None,
) -> AblationResult:
    """Run the ablation of causal variants against Grad-CAM and Grad-CAM++ on one network
    and write its tables to ``out_dir/ablation.*``.

    Curves are cached under ``settings.evaluation.out_dir`` (default ``out_dir/eval``; an
    interrupted run resumes; keyed by the network's weights, so networks may share one, and
    the ``eval`` folder of a ``causalcam reproduce`` run gives its ablation stage's curves
    back).

    Args:
        model: a checkpoint path, a loaded checkpoint, a :class:`Network` or an
            ``nn.Module``.
        out_dir: the folder of the tables (and of the curve store by default).
        images: uint8 test scans ``(B, S, S)`` (default: the COVID-CT test split at the
            model's own input size).
        labels: their labels.
        data_root: the COVID-CT folder when the images are not given.
        device: where the model runs (default: where it is).
        plots: also write accuracy-vs-H plots.
        settings: as for :func:`measure_ablation`.

    Returns:
        The table, the curves and the files written.

    Raises:
        InputError: bad images, labels or maps.
    """
    settings = settings or AblationSettings()
    network, label = _load_network(model, device)
    if images is None or labels is None:
        images, labels = load_split("test", size=network.preprocessing.size, root=data_root)
    out = Path(out_dir)
    if settings.evaluation.out_dir is None:
        evaluation = settings.evaluation.replace(out_dir=out / "eval")
        settings = dataclasses.replace(settings, evaluation=evaluation)
    measured = measure_ablation(network, images, labels, label=label, settings=settings)
    result = AblationResult(out, measured.table, measured.curves, [])
    return dataclasses.replace(result, paths=write_ablation(result, plots=plots))


def _with_duplicates(curves: list[Curve], same_as: Mapping[str, str]) -> list[Curve]:
    """Curves of every method, copying a representative's curve for identical maps."""
    by_key = {(c.method, c.mode): c for c in curves}
    modes = list(dict.fromkeys(c.mode for c in curves))
    return [
        dataclasses.replace(by_key[(rep, mode)], method=name)
        for mode in modes
        for name, rep in same_as.items()
    ]


def ablation_csv(table: AblationTable) -> str:
    """The table's rows as CSV (one column per statistic, ``_lo``/``_hi`` for intervals)."""
    return rows_to_csv([row.flat(table.h_values) for row in table.rows])


def write_ablation(result: AblationResult, *, plots: bool = True) -> list[Path]:
    """Write ``ablation.{csv,json,md}``, ``curves.{csv,json}`` and accuracy-vs-H plots."""
    out, table = result.out_dir, result.table
    blocks = [Heading(1, "Ablation of the causal map's open choices"), *ablation_blocks(table)]
    paths = [
        atomic_write_text(out / "ablation.csv", ablation_csv(table)),
        atomic_write_json(out / "ablation.json", jsonable(table.to_json())),
        atomic_write_text(out / "ablation.md", render_markdown(blocks)),
    ]
    paths += write_rows(curve_rows(result.curves), out / "curves")
    if plots:
        focus = [*BASELINES, CausalOptions().name, table.choice.method]
        present = {c.method for c in result.curves}
        for mode in dict.fromkeys(c.mode for c in result.curves):
            members = [c for c in result.curves if c.mode == mode]
            title = f"{mode.capitalize()}: {table.model}"
            paths.append(save_accuracy_curves(members, out / f"{mode}_all.png", title=title))
            paths.append(
                save_accuracy_curves(
                    members,
                    out / f"{mode}.png",
                    title=title,
                    methods=[m for m in dict.fromkeys(focus) if m in present],
                )
            )
    return list(dict.fromkeys(paths))
