"""The ablation study of the causal map's open choices (docs/method.md).

The paper leaves open the loss behind ``L(y, [1, 1])``, what its "normalized importance
scores" are and the sign convention. :func:`run_ablation` measures every variant
(``CausalOptions``: loss x normalisation x sign) against Grad-CAM and Grad-CAM++ with the
paper's threshold deletion and insertion on one network:

1. every map of every variant comes from ONE ``Explainer.explain`` call per batch (one
   forward pass, one batched VJP); variants whose maps are identical are evaluated once;
2. each distinct map set goes through :func:`causalcam.evaluate.run_deletion_insertion`
   (cached and resumable under ``out_dir/eval``);
3. per (mode, method), paired with Grad-CAM on the same bootstrap resamples of the test
   images: accuracy at matched Huffman budgets ``H``, its difference to Grad-CAM,
   the mean difference over the budgets, the bits saved at Grad-CAM's accuracy
   (``1 - H_m(a) / H_gradcam(a)``), and the area under accuracy-versus-H, each with a
   percentile bootstrap interval;
4. ``ablation.csv``, ``ablation.json`` and ``ablation.md`` (+ curves and plots) in ``out_dir``.

Directions: for deletion (the explanation is kept) higher accuracy at the same ``H`` and a
positive bits saving are better; for insertion (the explanation is removed) lower accuracy
at the same ``H`` and a negative saving are better.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ._io import atomic_write_json, atomic_write_text
from .data import load_split
from .errors import InputError
from .evaluate import (
    DEFAULT_H_VALUES,
    DEFAULT_THRESHOLDS,
    Curve,
    Network,
    as_network,
    curve_rows,
    rows_to_csv,
    run_deletion_insertion,
    summarize,
    write_rows,
)
from .evaluate.store import model_fingerprint
from .evaluate.summary import (
    accuracy_at_h,
    bootstrap_replicates,
    bootstrap_weights,
    h_at_accuracy,
)
from .evaluate.tables import jsonable
from .explain import CausalOptions, Explainer
from .method_names import CAUSAL, GRADCAM, GRADCAM_PP
from .models import load_checkpoint
from .preprocess import to_model_input
from .viz.curves import save_accuracy_curves

REFERENCE = GRADCAM
BASELINES: tuple[str, ...] = (GRADCAM, GRADCAM_PP)
#: 0.1, 0.2, ..., 0.6: the CPU budget (18 methods x 203 scans x 2 modes in ~40 min on a
#: shared 2-core CPU); they cover the matched budgets H = 0.3 ... 0.7 of both modes.
CPU_THRESHOLDS: tuple[float, ...] = tuple(round(0.1 * k, 2) for k in range(1, 7))
SANITY_TAU = 0.5


def explain_all(
    network: Network,
    images: Tensor,
    variants: Sequence[CausalOptions],
    *,
    target_layer: str | None = None,
    batch_size: int = 32,
) -> tuple[dict[str, Tensor], str]:
    """Maps (B, H, W) in [0, 1] of Grad-CAM, Grad-CAM++ and every variant (keyed by
    ``variant.name``), from one ``Explainer.explain`` call per batch of ``batch_size``,
    and the explained layer's name."""
    names = [*BASELINES, *(v.name for v in variants)]
    parts: dict[str, list[Tensor]] = {name: [] for name in names}
    with Explainer(network.model, target_layer=target_layer, chunk_size=batch_size) as explainer:
        for start in range(0, images.shape[0], batch_size):
            batch = images[start : start + batch_size].to(network.device)
            inputs = to_model_input(batch, network.preprocessing)
            result = explainer.explain(inputs, methods=(*BASELINES, CAUSAL), causal=variants)
            for name in names:
                parts[name].append(result.maps[name].detach().float().cpu())
        layer = str(explainer.layer_name)
    return {name: torch.cat(chunks) for name, chunks in parts.items()}, layer


def _image_key(image: Tensor) -> str:
    return hashlib.sha256(image.detach().cpu().contiguous().numpy().tobytes()).hexdigest()


class PrecomputedMaps:
    """Looks maps up by the preprocessed input image they were computed from, so that
    :func:`run_deletion_insertion` can take maps that one explain pass produced."""

    def __init__(self, network: Network, images: Tensor, maps: Mapping[str, Tensor]) -> None:
        inputs = to_model_input(images, network.preprocessing)
        self._index = {_image_key(x): i for i, x in enumerate(inputs)}
        self._maps = dict(maps)

    def lookup(self, method: str, inputs: Tensor) -> Tensor:
        """The stored maps of ``method`` for ``inputs`` (B, C, H, W)."""
        try:
            rows = [self._index[_image_key(x)] for x in inputs]
        except KeyError as missing:
            raise InputError(f"no precomputed {method!r} map for an input image") from missing
        return self._maps[method][rows].to(inputs.device)


class LookupMapFn:
    """A ``MapFn`` returning one method's precomputed maps; ``fingerprint`` (the explained
    layer) enters the evaluation's cache key together with the method's options."""

    def __init__(self, store: PrecomputedMaps, method: str, fingerprint: str) -> None:
        self.store = store
        self.method = method
        self.fingerprint = fingerprint

    def __call__(self, inputs: Tensor) -> Tensor:
        return self.store.lookup(self.method, inputs)


def identical_groups(maps: Mapping[str, Tensor]) -> dict[str, str]:
    """``name -> representative``: the first earlier name whose maps are bit-identical."""
    representative: dict[str, str] = {}
    seen: list[str] = []
    for name, values in maps.items():
        same = next((s for s in seen if torch.equal(maps[s], values)), None)
        representative[name] = same or name
        if same is None:
            seen.append(name)
    return representative


def map_sanity(maps: Mapping[str, Tensor], tau: float = SANITY_TAU) -> dict[str, dict[str, float]]:
    """Per method: mean fraction of pixels a deletion mask keeps at ``tau`` (``m > tau``),
    and the fraction of images whose map is all zeros (nothing to keep at any threshold)."""
    return {
        name: {
            "kept_at_tau": float((values > tau).float().mean()),
            "zero_maps": float((values.flatten(1).amax(dim=1) == 0).float().mean()),
        }
        for name, values in maps.items()
    }


# ----------------------------------------------------------------------------- statistics


def _budget_stats(
    h: np.ndarray,
    acc: np.ndarray,
    ref_h: np.ndarray,
    ref_acc: np.ndarray,
    budgets: np.ndarray,
    chance: float = 0.0,
) -> tuple[float, float]:
    """(mean accuracy difference at the budgets both curves reach, mean bits saving at the
    reference's accuracy there); NaN when no budget is shared. The saving is only taken
    where the reference's accuracy exceeds ``chance`` (the majority-class rate): at chance
    any mask, even an all-black one, "matches" it with almost no bits."""
    ref_at = accuracy_at_h(ref_h, ref_acc, budgets)
    diff = accuracy_at_h(h, acc, budgets) - ref_at
    above = np.where(ref_at > chance + 1e-9, ref_at, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        saving = 1 - h_at_accuracy(h, acc, above) / h_at_accuracy(ref_h, ref_acc, above)
    return _nanmean(diff), _nanmean(saving)


def _nanmean(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")


def paired_budget_stats(
    curve: Curve,
    reference: Curve,
    budgets: Sequence[float],
    *,
    n_boot: int,
    ci: float = 0.95,
    seed: int = 0,
    chance: float = 0.0,
) -> dict[str, float]:
    """Mean accuracy difference and mean bits saving over ``budgets`` versus ``reference``,
    with percentile intervals over paired bootstrap resamples of the test images::

        mean_diff   = mean_h [acc_m(h) - acc_ref(h)]
        mean_saving = mean_h [1 - H_m(acc_ref(h)) / H_ref(acc_ref(h))]  (acc_ref(h) > chance)
    """
    grid = np.asarray(budgets, dtype=np.float64)
    point = _budget_stats(
        curve.mean_h, curve.accuracy, reference.mean_h, reference.accuracy, grid, chance
    )
    out = {"mean_diff": point[0], "mean_saving": point[1]}
    if n_boot <= 0:
        return out | {
            f"{k}_{e}": math.nan for k in ("mean_diff", "mean_saving") for e in ("lo", "hi")
        }
    weights = bootstrap_weights(curve.correct.shape[1], n_boot, seed)
    return out | budget_intervals(budget_samples(curve, reference, grid, weights, chance), ci)


def budget_samples(
    curve: Curve,
    reference: Curve,
    budgets: Sequence[float] | np.ndarray,
    weights: np.ndarray,
    chance: float = 0.0,
) -> np.ndarray:
    """Bootstrap replicates ``(R, 2)`` of (mean_diff, mean_saving) of ``curve`` versus
    ``reference`` for resampling counts ``weights`` ``(R, n_images)`` (paired: both curves
    see the same resampled images)."""
    grid = np.asarray(budgets, dtype=np.float64)
    (h_m, a_m), (h_r, a_r) = (bootstrap_replicates(c, weights) for c in (curve, reference))
    return np.array(
        [_budget_stats(h_m[r], a_m[r], h_r[r], a_r[r], grid, chance) for r in range(len(weights))]
    ).reshape(len(weights), 2)


def budget_intervals(samples: np.ndarray, ci: float = 0.95) -> dict[str, float]:
    """Percentile intervals ``mean_diff_lo/hi`` and ``mean_saving_lo/hi`` of ``(R, 2)``
    replicates (NaN replicates, where no budget is shared, are left out)."""
    tail = 100 * (1 - ci) / 2
    out = {}
    for column, key in enumerate(("mean_diff", "mean_saving")):
        finite = samples[:, column][np.isfinite(samples[:, column])]
        low, high = (
            np.percentile(finite, [tail, 100 - tail]) if finite.size else (math.nan, math.nan)
        )
        out[f"{key}_lo"], out[f"{key}_hi"] = float(low), float(high)
    return out


def _summary_columns(rows: Sequence[Mapping[str, Any]], method: str) -> dict[str, float]:
    """Flatten the summarize rows of one method into ``statistic@H=h`` columns (+ _lo/_hi)."""
    names = {
        "accuracy_at_h": "acc",
        "accuracy_diff_at_h": "diff",
        "auc": "auc",
        "auc_diff": "auc_diff",
    }
    out: dict[str, float] = {}
    for row in rows:
        short = names.get(row["statistic"]) if row["method"] == method else None
        if short is None:
            continue
        key = short if row["at"] is None else f"{short}@H={row['at']:g}"
        out[key], out[f"{key}_lo"], out[f"{key}_hi"] = row["value"], row["ci_low"], row["ci_high"]
    return out


def ablation_rows(
    curves: Sequence[Curve],
    *,
    options: Mapping[str, Mapping[str, Any]],
    sanity: Mapping[str, Mapping[str, float]],
    same_as: Mapping[str, str],
    h_values: Sequence[float] = DEFAULT_H_VALUES,
    n_boot: int = 1000,
    seed: int = 0,
    chance: float = 0.0,
) -> list[dict[str, Any]]:
    """One row per (mode, method): the method's options, map sanity, accuracy at each
    matched budget and its paired difference to Grad-CAM, the area under accuracy-vs-H
    over the H range shared with Grad-CAM, mean difference and mean bits saving over the
    budgets (:func:`paired_budget_stats`), each with a bootstrap interval."""
    by_mode: dict[str, dict[str, Curve]] = {}
    for curve in curves:
        by_mode.setdefault(curve.mode, {})[curve.method] = curve
    rows = []
    for mode, methods in by_mode.items():
        if REFERENCE not in methods:
            raise InputError(f"the ablation needs Grad-CAM's {mode} curve as its reference")
        reference = methods[REFERENCE]
        for method, curve in methods.items():
            pair = [reference] if method == REFERENCE else [reference, curve]
            summary = summarize(pair, h_values=h_values, n_boot=n_boot, seed=seed)
            row: dict[str, Any] = {"mode": mode, "method": method, **dict(options.get(method, {}))}
            row["same_maps_as"] = (
                same_as.get(method, method) if same_as.get(method) != method else ""
            )
            checks = sanity.get(method, {})
            row[f"kept@tau={SANITY_TAU:g}"] = checks.get("kept_at_tau", math.nan)
            row["zero_maps"] = checks.get("zero_maps", math.nan)
            row.update(_summary_columns(summary, method))
            column = "acc" if method == REFERENCE else "diff"
            reached = [row.get(f"{column}@H={h:g}", math.nan) for h in h_values]
            row["budgets"] = int(np.isfinite(np.asarray(reached, dtype=np.float64)).sum())
            if method != REFERENCE:
                row.update(
                    paired_budget_stats(
                        curve, reference, h_values, n_boot=n_boot, seed=seed, chance=chance
                    )
                )
            rows.append(row)
    return rows


def choose_default(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The causal variant with the best deletion accuracy at matched budgets: most budgets
    reached, then the highest mean difference to Grad-CAM, then the most bits saved.
    ``beats_gradcam``: its interval of the mean difference lies above zero;
    ``insertion_agrees``: its insertion mean difference is negative (better) too."""
    deletion = [r for r in rows if r["mode"] == "deletion" and r["method"].startswith(CAUSAL)]
    if not deletion:
        raise InputError("no causal variant in the ablation")

    def key(row: Mapping[str, Any]) -> tuple[float, float, float]:
        return (row["budgets"], finite_or(row.get("mean_diff")), finite_or(row.get("mean_saving")))

    best = max(deletion, key=key)
    insertion = next(
        (r for r in rows if r["mode"] == "insertion" and r["method"] == best["method"]), {}
    )
    return {
        "method": best["method"],
        "options": {k: best[k] for k in CausalOptions().to_dict() if k in best},
        "deletion_mean_diff": best.get("mean_diff"),
        "deletion_mean_diff_ci": [best.get("mean_diff_lo"), best.get("mean_diff_hi")],
        "deletion_mean_saving": best.get("mean_saving"),
        "deletion_mean_saving_ci": [best.get("mean_saving_lo"), best.get("mean_saving_hi")],
        "insertion_mean_diff": insertion.get("mean_diff"),
        "insertion_mean_diff_ci": [insertion.get("mean_diff_lo"), insertion.get("mean_diff_hi")],
        "beats_gradcam": finite_or(best.get("mean_diff_lo")) > 0,
        "insertion_agrees": finite_or(insertion.get("mean_diff"), math.inf) < 0,
    }


def finite_or(value: Any, fallback: float = -math.inf) -> float:
    """``value`` as a float when it is a finite number, else ``fallback``."""
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else fallback


@dataclass(frozen=True)
class AblationResult:
    """What :func:`run_ablation` measured and wrote."""

    out_dir: Path
    model: str
    n_images: int
    thresholds: tuple[float, ...]
    h_values: tuple[float, ...]
    layer: str
    curves: list[Curve]
    rows: list[dict[str, Any]]
    choice: dict[str, Any]
    paths: list[Path]
    chance: float = 0.0  # majority-class rate of the test labels (no bits saving at or below)

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "n_images": self.n_images,
            "chance": self.chance,
            "layer": self.layer,
            "thresholds": list(self.thresholds),
            "h_values": list(self.h_values),
            "choice": self.choice,
            "rows": self.rows,
        }


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
    variants: Sequence[CausalOptions] | None = None,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    h_values: Sequence[float] = DEFAULT_H_VALUES,
    n_boot: int = 1000,
    seed: int = 0,
    target_layer: str | None = None,
    device: str | torch.device | None = None,
    batch_size: int = 64,
    map_batch_size: int = 32,
    plots: bool = True,
    progress: bool = True,
) -> AblationResult:
    """Run the ablation of causal variants against Grad-CAM and Grad-CAM++ on one network.

    ``model``: a checkpoint path, a loaded checkpoint, a :class:`Network` or an
    ``nn.Module``; ``images``/``labels``: uint8 test scans (B, S, S) and labels, default
    the COVID-CT test split at the model's own input size. Curves are cached under
    ``out_dir/eval`` (an interrupted run resumes); tables go to ``out_dir/ablation.*``.
    """
    network, label = _load_network(model, device)
    if images is None or labels is None:
        images, labels = load_split("test", size=network.preprocessing.size, root=data_root)
    chosen = tuple(variants) if variants is not None else CausalOptions.ablation_variants()
    maps, layer = explain_all(
        network, images, chosen, target_layer=target_layer, batch_size=map_batch_size
    )
    same_as = identical_groups(maps)
    store = PrecomputedMaps(network, images, maps)
    options = {v.name: v.to_dict() for v in chosen}
    unique = [name for name in maps if same_as[name] == name]
    curves = run_deletion_insertion(
        {"model": network},
        {name: LookupMapFn(store, name, f"layer={layer}") for name in unique},
        images,
        labels,
        source="model",
        thresholds=thresholds,
        out_dir=Path(out_dir) / "eval",
        method_options={name: options.get(name, {}) for name in unique},
        batch_size=batch_size,
        progress=progress,
    )
    curves = _with_duplicates(curves, same_as)
    rows = ablation_rows(
        curves,
        options=options,
        sanity=map_sanity(maps),
        same_as=same_as,
        h_values=h_values,
        n_boot=n_boot,
        seed=seed,
        chance=majority_rate(labels),
    )
    result = AblationResult(
        chance=majority_rate(labels),
        out_dir=Path(out_dir),
        model=label,
        n_images=int(labels.numel()),
        thresholds=tuple(float(t) for t in curves[0].thresholds),
        h_values=tuple(float(h) for h in h_values),
        layer=layer,
        curves=curves,
        rows=rows,
        choice=choose_default(rows),
        paths=[],
    )
    return dataclasses.replace(result, paths=write_ablation(result, plots=plots))


def majority_rate(labels: Tensor) -> float:
    """The accuracy of always answering the most common class: chance for this test set."""
    flat = labels.reshape(-1).long()
    return float(flat.bincount().max()) / max(int(flat.numel()), 1)


def _with_duplicates(curves: list[Curve], same_as: Mapping[str, str]) -> list[Curve]:
    """Curves of every method, copying a representative's curve for identical maps."""
    by_key = {(c.method, c.mode): c for c in curves}
    modes = list(dict.fromkeys(c.mode for c in curves))
    return [
        dataclasses.replace(by_key[(rep, mode)], method=name)
        for mode in modes
        for name, rep in same_as.items()
    ]


def format_cell(value: Any, digits: int = 3, signed: bool = False) -> str:
    """A table cell: the number with ``digits`` decimals (``+`` sign if ``signed``), "—" if not
    a finite number."""
    if not isinstance(value, int | float) or not math.isfinite(value):
        return "—"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _with_ci(row: Mapping[str, Any], key: str, percent: bool = False) -> str:
    scale = 100.0 if percent else 1.0
    value, low, high = (row.get(k) for k in (key, f"{key}_lo", f"{key}_hi"))
    digits = 1 if percent else 3
    if not isinstance(value, int | float) or not math.isfinite(value):
        return "—"
    text = format_cell(value * scale, digits, signed=True)
    if isinstance(low, int | float) and isinstance(high, int | float) and math.isfinite(low):
        low_text, high_text = (format_cell(v * scale, digits, True) for v in (low, high))
        text += f" [{low_text}, {high_text}]"
    return text + ("%" if percent else "")


def ablation_markdown(result: AblationResult) -> str:
    """The ablation tables (one per mode) and the chosen default, as Markdown."""
    budgets = [f"{h:g}" for h in result.h_values]
    lines = [
        "# Ablation of the causal map's open choices",
        "",
        f"Model {result.model}, layer `{result.layer}`, {result.n_images} test images, "
        f"thresholds {', '.join(f'{t:g}' for t in result.thresholds)}.",
        "Accuracy at matched Huffman budgets H (difference to Grad-CAM in brackets); "
        "mean Δacc and bits saving over the budgets both curves reach, and ΔAUC of "
        "accuracy-vs-H over their shared H range, with 95% paired bootstrap intervals.",
        "",
    ]
    for mode, better in (
        ("deletion", "higher Δacc, positive saving"),
        ("insertion", "lower Δacc, negative saving"),
    ):
        rows = [r for r in result.rows if r["mode"] == mode]
        if not rows:
            continue
        lines += [f"## {mode.capitalize()} (better: {better})", ""]
        header = [
            "method",
            f"kept@τ={SANITY_TAU:g}",
            *(f"acc@H={b}" for b in budgets),
            "mean Δacc",
            "bits saving",
            "ΔAUC",
        ]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for row in rows:
            accs = [
                format_cell(row.get(f"acc@H={b}"))
                + (
                    f" ({format_cell(row.get(f'diff@H={b}'), signed=True)})"
                    if row["method"] != REFERENCE and f"diff@H={b}" in row
                    else ""
                )
                for b in budgets
            ]
            same = f" (= {row['same_maps_as']})" if row.get("same_maps_as") else ""
            lines.append(
                "| "
                + " | ".join(
                    [
                        f"`{row['method']}`{same}",
                        format_cell(row.get(f"kept@tau={SANITY_TAU:g}")),
                        *accs,
                        _with_ci(row, "mean_diff"),
                        _with_ci(row, "mean_saving", percent=True),
                        _with_ci(row, "auc_diff"),
                    ]
                )
                + " |"
            )
        lines.append("")
    choice = result.choice
    verdict = "beats" if choice["beats_gradcam"] else "does not beat"
    lines += [
        "## Choice",
        "",
        f"Best deletion variant: `{choice['method']}`; it {verdict} Grad-CAM at matched "
        f"budgets (mean Δacc {format_cell(choice['deletion_mean_diff'], signed=True)}, 95% CI "
        f"{format_cell(choice['deletion_mean_diff_ci'][0], signed=True)} to "
        f"{format_cell(choice['deletion_mean_diff_ci'][1], signed=True)}); insertion mean Δacc "
        f"{format_cell(choice['insertion_mean_diff'], signed=True)} "
        f"({'agrees' if choice['insertion_agrees'] else 'does not agree'}).",
        "",
    ]
    return "\n".join(lines)


def write_ablation(result: AblationResult, *, plots: bool = True) -> list[Path]:
    """Write ``ablation.{csv,json,md}``, ``curves.{csv,json}`` and accuracy-vs-H plots."""
    out = result.out_dir
    paths = [atomic_write_text(out / "ablation.csv", rows_to_csv(result.rows))]
    paths.append(atomic_write_json(out / "ablation.json", jsonable(result.to_json())))
    paths.append(atomic_write_text(out / "ablation.md", ablation_markdown(result)))
    paths += write_rows(curve_rows(result.curves), out / "curves")
    if plots:
        focus = [*BASELINES, CausalOptions().name, result.choice["method"]]
        present = {c.method for c in result.curves}
        for mode in dict.fromkeys(c.mode for c in result.curves):
            members = [c for c in result.curves if c.mode == mode]
            title = f"{mode.capitalize()}: {result.model}"
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
