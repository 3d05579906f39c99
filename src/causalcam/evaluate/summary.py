"""Summaries of accuracy-versus-H curves that answer the paper's question
("same accuracy with fewer bits?"), with paired bootstrap confidence intervals.

A curve is the piecewise-linear interpolation of (mean H, accuracy) over thresholds,
points sorted by H (points with equal H averaged). From it:

- ``accuracy_at_h``: accuracy at a matched bit budget ``H = h`` (NaN outside the curve);
- ``h_at_accuracy``: the smallest ``H`` at which the curve reaches accuracy ``a``
  (first crossing from the left; NaN if never reached);
- ``bits saving`` vs the reference (Grad-CAM): ``1 - H_m(a) / H_ref(a)`` where ``a`` is the
  reference's accuracy at each matched ``h`` (positive: the method needs fewer bits, the
  ideal direction for deletion; for insertion the ideal is negative);
- ``auc``: mean accuracy over the H range shared by all methods of a comparison,
  ``(1 / (hi - lo)) * integral_lo^hi acc(H) dH`` (trapezoid rule).

Confidence intervals: test images are resampled with replacement (the same resamples for
every method, so differences are paired) and the percentile interval is reported.

The ablation's statistics are defined here too (:func:`compare`): accuracy at each matched
budget and its difference to Grad-CAM, the mean difference over the budgets both curves
reach, the mean bits saving there where Grad-CAM is above chance (at chance any mask, even
an all-black one, "matches" it with almost no bits), the same pooled over training seeds
(:func:`budget_estimates`, :func:`spread`) and the rule that picks a causal variant
(:func:`choose_variant`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError
from ..method_names import CAUSAL, GRADCAM
from ..results import AblationRow, Choice, Estimate, SeedRow, Spread, SummaryRow
from .threshold import Curve

DEFAULT_H_VALUES: tuple[float, ...] = (0.3, 0.4, 0.5, 0.6, 0.7)


def _sorted_points(h: np.ndarray, accuracy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points sorted by ``h``, accuracies averaged over equal ``h``."""
    h = np.asarray(h, dtype=np.float64)
    accuracy = np.asarray(accuracy, dtype=np.float64)
    order = np.argsort(h, kind="stable")
    xs, ys = h[order], accuracy[order]
    if xs.size < 2 or np.all(np.diff(xs) > 0):
        return xs, ys
    unique, inverse = np.unique(xs, return_inverse=True)
    return unique, np.bincount(inverse, weights=ys) / np.bincount(inverse)


def accuracy_at_h(
    h: np.ndarray, accuracy: np.ndarray, h_values: Sequence[float] | np.ndarray
) -> np.ndarray:
    """Accuracy of a curve interpolated linearly at matched Huffman budgets.

    Args:
        h: the curve's mean Huffman ratios, one per threshold.
        accuracy: its accuracies at the same thresholds.
        h_values: the budgets to read the accuracy at.

    Returns:
        The accuracy at each budget, float64 ``(len(h_values),)``; NaN outside the curve.
    """
    xs, ys = _sorted_points(h, accuracy)
    query = np.asarray(h_values, dtype=np.float64)
    return np.interp(query, xs, ys, left=np.nan, right=np.nan)


def h_at_accuracy(
    h: np.ndarray, accuracy: np.ndarray, levels: Sequence[float] | np.ndarray
) -> np.ndarray:
    """Smallest ``H`` where the piecewise-linear curve reaches each accuracy level: the first
    point ``k`` with ``acc_k >= a``, interpolated on the segment before it.

    Args:
        h: the curve's mean Huffman ratios, one per threshold.
        accuracy: its accuracies at the same thresholds.
        levels: the accuracy levels.

    Returns:
        ``H`` at each level, float64 ``(len(levels),)``; NaN where the curve never reaches it.
    """
    xs, ys = _sorted_points(h, accuracy)
    wanted = np.asarray(levels, dtype=np.float64)
    first = np.searchsorted(np.maximum.accumulate(ys), wanted, side="left")
    reached = np.isfinite(wanted) & (first < xs.size)
    k = np.clip(first, 1, max(xs.size - 1, 1))
    if xs.size < 2:
        return np.where(reached, xs[0] if xs.size else np.nan, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = (wanted - ys[k - 1]) / (ys[k] - ys[k - 1])
    crossing = xs[k - 1] + fraction * (xs[k] - xs[k - 1])
    out = np.where(first == 0, xs[0], crossing)
    return np.where(reached, out, np.nan)


def mean_accuracy_over(h: np.ndarray, accuracy: np.ndarray, low: float, high: float) -> float:
    """``(1 / (high - low)) * integral_low^high acc(H) dH`` of the interpolated curve
    (ends clamped to the curve's end values); the area under accuracy-versus-H."""
    xs, ys = _sorted_points(h, accuracy)
    if high <= low:
        return float(np.interp(low, xs, ys))
    inner = xs[(xs > low) & (xs < high)]
    grid = np.concatenate([[low], inner, [high]])
    return float(np.trapezoid(np.interp(grid, xs, ys), grid) / (high - low))


def bootstrap_weights(n_images: int, n_boot: int, seed: int) -> np.ndarray:
    """``(n_boot, n_images)`` resampling counts (each row sums to ``n_images``)."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(n_images, np.full(n_images, 1.0 / n_images), size=n_boot).astype(
        np.float64
    )


def bootstrap_replicates(curve: Curve, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap (mean H, accuracy) per replicate and threshold, each ``(R, T)``."""
    n = curve.correct.shape[1]
    return weights @ curve.ratios.T / n, weights @ curve.correct.T.astype(np.float64) / n


def percentile_interval(samples: np.ndarray, ci: float) -> tuple[float, float]:
    """The central ``ci`` percentile interval of bootstrap ``samples`` (NaN when fewer than
    half of them are finite)."""
    finite = samples[np.isfinite(samples)]
    if finite.size < max(1, samples.size // 2):
        return float("nan"), float("nan")
    tail = 100 * (1 - ci) / 2
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_mean(
    values: np.ndarray, n_boot: int, seed: int, ci: float = 0.95
) -> tuple[Estimate, float]:
    """The mean of the finite ``values`` with its percentile bootstrap interval, and the
    two-sided bootstrap p-value of a zero mean (NaN without resamples or with one value).
    Of paired differences ``a - b`` it is the paired comparison of ``a`` with ``b``."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return Estimate(), float("nan")
    point = float(finite.mean())
    if n_boot <= 0 or finite.size < 2:
        return Estimate(point), float("nan")
    replicates = bootstrap_weights(finite.size, n_boot, seed) @ finite / finite.size
    low, high = percentile_interval(replicates, ci)
    tail = min(float(np.mean(replicates <= 0)), float(np.mean(replicates >= 0)))
    return Estimate(point, low, high), min(1.0, 2 * tail)


def _group(curves: Iterable[Curve]) -> dict[tuple[str, str, str], dict[str, Curve]]:
    groups: dict[tuple[str, str, str], dict[str, Curve]] = {}
    for curve in curves:
        groups.setdefault((curve.source, curve.target, curve.mode), {})[curve.method] = curve
    return groups


@dataclass(frozen=True)
class _Context:
    """What every curve of one (source, target, mode) comparison is evaluated at."""

    h_values: np.ndarray
    levels: np.ndarray | None
    low: float
    high: float


Stats = dict[str, np.ndarray]


def _statistics(h: np.ndarray, acc: np.ndarray, ctx: _Context, ref: Stats | None) -> Stats:
    """All statistics of one curve; differences to ``ref`` when given."""
    out = {
        "accuracy_at_h": accuracy_at_h(h, acc, ctx.h_values),
        "auc": np.array([mean_accuracy_over(h, acc, ctx.low, ctx.high)]),
    }
    if ctx.levels is not None:
        out["h_at_accuracy"] = h_at_accuracy(h, acc, ctx.levels)
    if ref is not None:
        out["accuracy_diff_at_h"] = out["accuracy_at_h"] - ref["accuracy_at_h"]
        out["auc_diff"] = out["auc"] - ref["auc"]
        if ctx.levels is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                out["bits_saving"] = 1 - out["h_at_accuracy"] / ref["h_at_accuracy"]
    return out


def _bootstrap(
    curve: Curve, weights: np.ndarray, ctx: _Context, ref: list[Stats] | None
) -> list[Stats]:
    boot_h, boot_acc = bootstrap_replicates(curve, weights)
    return [
        _statistics(boot_h[r], boot_acc[r], ctx, ref[r] if ref is not None else None)
        for r in range(weights.shape[0])
    ]


def summarize(
    curves: Iterable[Curve],
    *,
    reference: str = GRADCAM,
    h_values: Sequence[float] = DEFAULT_H_VALUES,
    accuracy_levels: Sequence[float] | None = None,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
) -> list[SummaryRow]:
    """Tidy summary rows, one per (source, target, mode, method, statistic, at).

    Statistics: ``accuracy_at_h`` (at each matched ``h``), ``auc`` (mean accuracy over the
    H range shared by the group's methods), ``h_at_accuracy`` at ``accuracy_levels``
    (default: the reference's accuracy at each ``h``); for methods other than
    ``reference`` also the paired ``accuracy_diff_at_h``, ``auc_diff`` and ``bits_saving``
    (``1 - H_m / H_ref``, positive = fewer bits than the reference). Each
    :class:`~causalcam.results.SummaryRow` has ``value``, ``ci_low`` and ``ci_high``
    (percentile bootstrap over test images with ``n_boot`` resamples shared by all methods;
    ``n_boot=0``: no intervals, NaN).

    Args:
        curves: the curves of one or several (source, target, mode) groups.
        reference: the method the others are compared with.
        h_values: the matched Huffman budgets.
        accuracy_levels: the levels of ``h_at_accuracy`` (default: the reference's accuracy
            at each of ``h_values``).
        n_boot: bootstrap resamples of the test images (0: no intervals).
        ci: the intervals' coverage.
        seed: the resampling's seed.

    Returns:
        One :class:`~causalcam.results.SummaryRow` per (source, target, mode, method,
        statistic, at).

    Raises:
        InputError: ``ci`` outside (0, 1) or a negative ``n_boot``.
    """
    if not 0 < ci < 1:
        raise InputError(f"ci must lie in (0, 1), got {ci}")
    if n_boot < 0:
        raise InputError(f"n_boot must be >= 0, got {n_boot}")
    rows: list[SummaryRow] = []
    for group, methods in _group(curves).items():
        rows.extend(
            _summarize_group(group, methods, reference, h_values, accuracy_levels, n_boot, ci, seed)
        )
    return rows


def _summarize_group(
    group: tuple[str, str, str],
    methods: dict[str, Curve],
    reference: str,
    h_values: Sequence[float],
    accuracy_levels: Sequence[float] | None,
    n_boot: int,
    ci: float,
    seed: int,
) -> list[SummaryRow]:
    sizes = {curve.correct.shape[1] for curve in methods.values()}
    if len(sizes) != 1:
        raise InputError(f"curves of {group} were computed on test sets of sizes {sorted(sizes)}")
    ref = methods.get(reference)
    query = np.asarray(h_values, dtype=np.float64)
    if accuracy_levels is not None:
        levels: np.ndarray | None = np.asarray(accuracy_levels, dtype=np.float64)
    else:
        levels = accuracy_at_h(ref.mean_h, ref.accuracy, query) if ref is not None else None
    ctx = _Context(
        query,
        levels,
        max(float(curve.mean_h.min()) for curve in methods.values()),
        min(float(curve.mean_h.max()) for curve in methods.values()),
    )
    weights = bootstrap_weights(sizes.pop(), n_boot, seed) if n_boot > 0 else None
    ref_point = _statistics(ref.mean_h, ref.accuracy, ctx, None) if ref is not None else None
    ref_boot = (
        _bootstrap(ref, weights, ctx, None) if ref is not None and weights is not None else None
    )
    rows: list[SummaryRow] = []
    for method, curve in methods.items():
        paired = method != reference
        point = _statistics(curve.mean_h, curve.accuracy, ctx, ref_point if paired else None)
        boot = (
            _bootstrap(curve, weights, ctx, ref_boot if paired else None)
            if weights is not None
            else None
        )
        rows.extend(_rows(group, method, point, boot, ctx, ci))
    return rows


def _rows(
    group: tuple[str, str, str],
    method: str,
    point: Stats,
    boot: list[Stats] | None,
    ctx: _Context,
    ci: float,
) -> list[SummaryRow]:
    levels = list(ctx.levels) if ctx.levels is not None else []
    at_values: dict[str, list[float | None]] = {
        "accuracy_at_h": list(ctx.h_values),
        "accuracy_diff_at_h": list(ctx.h_values),
        "auc": [None],
        "auc_diff": [None],
        "h_at_accuracy": levels,
        "bits_saving": levels,
    }
    source, target, mode = group
    rows = []
    for statistic, values in point.items():
        for slot, value in enumerate(values):
            if boot:
                low, high = percentile_interval(np.array([b[statistic][slot] for b in boot]), ci)
            else:
                low, high = float("nan"), float("nan")
            rows.append(
                SummaryRow(
                    source=source,
                    target=target,
                    mode=mode,
                    method=method,
                    statistic=statistic,
                    at=_optional_float(at_values[statistic][slot]),
                    value=float(value),
                    ci_low=float(low),
                    ci_high=float(high),
                )
            )
    return rows


def _optional_float(value: float | None) -> float | None:
    return None if value is None else float(value)


# ----------------------------------------------------------------------------- the ablation


def majority_rate(labels: Any) -> float:
    """Chance for a test set: the accuracy of always answering its most common class
    (``labels``: class indices, a tensor or array)."""
    flat = np.asarray(labels, dtype=np.int64).reshape(-1)
    return float(np.bincount(flat).max()) / flat.size if flat.size else 0.0


def budget_stats(
    h: np.ndarray,
    acc: np.ndarray,
    ref_h: np.ndarray,
    ref_acc: np.ndarray,
    budgets: np.ndarray,
    chance: float = 0.0,
) -> tuple[float, float]:
    """Mean accuracy difference and mean bits saving of a curve against a reference.

    That is (mean accuracy difference at the budgets both curves reach, mean bits saving at
    the reference's accuracy there) of one curve ``(h, acc)`` against a reference; NaN when no
    budget is shared. The saving is only taken where the reference's accuracy exceeds
    ``chance`` (the majority-class rate)::

        mean_diff   = mean_h [acc_m(h) - acc_ref(h)]
        mean_saving = mean_h [1 - H_m(acc_ref(h)) / H_ref(acc_ref(h))]  (acc_ref(h) > chance)
    """
    ref_at = accuracy_at_h(ref_h, ref_acc, budgets)
    diff = accuracy_at_h(h, acc, budgets) - ref_at
    above = np.where(ref_at > chance + 1e-9, ref_at, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        saving = 1 - h_at_accuracy(h, acc, above) / h_at_accuracy(ref_h, ref_acc, above)
    return _nanmean(diff), _nanmean(saving)


def _nanmean(values: np.ndarray, axis: int | None = None) -> Any:
    """Mean of the finite values (NaN where there are none), without a warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = np.nanmean(np.where(np.isfinite(values), values, np.nan), axis=axis)
    return float(result) if axis is None else result


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
        [budget_stats(h_m[r], a_m[r], h_r[r], a_r[r], grid, chance) for r in range(len(weights))]
    ).reshape(len(weights), 2)


def budget_estimates(
    pairs: Sequence[tuple[Curve, Curve]],
    budgets: Sequence[float],
    *,
    n_boot: int,
    ci: float = 0.95,
    seed: int = 0,
    chance: float = 0.0,
) -> tuple[Estimate, Estimate]:
    """(mean_diff, mean_saving) of :func:`budget_stats` for ``(curve, reference)`` pairs on
    the same test images (one pair: one network; several: its training seeds), averaged
    over the pairs, each with a percentile interval over paired bootstrap resamples of the
    test images (one set of resampling counts for every pair; each replicate averaged over
    the pairs)."""
    grid = np.asarray(budgets, dtype=np.float64)
    sizes = {c.correct.shape[1] for pair in pairs for c in pair}
    if len(sizes) != 1:
        raise InputError(f"the curves were computed on test sets of sizes {sorted(sizes)}")
    points = np.array(
        [budget_stats(c.mean_h, c.accuracy, r.mean_h, r.accuracy, grid, chance) for c, r in pairs]
    ).reshape(len(pairs), 2)
    point = _nanmean(points, axis=0)
    if n_boot <= 0:
        return Estimate(float(point[0])), Estimate(float(point[1]))
    weights = bootstrap_weights(sizes.pop(), n_boot, seed)
    samples = np.stack([budget_samples(c, r, grid, weights, chance) for c, r in pairs])
    pooled = _nanmean(samples, axis=0)
    diff, saving = (
        Estimate(float(point[k]), *percentile_interval(pooled[:, k], ci)) for k in range(2)
    )
    return diff, saving


def paired_budget_stats(
    curve: Curve,
    reference: Curve,
    budgets: Sequence[float],
    *,
    n_boot: int,
    ci: float = 0.95,
    seed: int = 0,
    chance: float = 0.0,
) -> tuple[Estimate, Estimate]:
    """:func:`budget_estimates` of one network: (mean_diff, mean_saving) of ``curve``
    versus ``reference`` with paired bootstrap intervals."""
    pair = [(curve, reference)]
    return budget_estimates(pair, budgets, n_boot=n_boot, ci=ci, seed=seed, chance=chance)


def compare(
    curve: Curve,
    reference: Curve,
    h_values: Sequence[float] = DEFAULT_H_VALUES,
    *,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
    chance: float = 0.0,
) -> AblationRow:
    """The ablation row of ``curve`` against ``reference`` (Grad-CAM): accuracy at each
    matched budget and its paired difference, the AUC over the H range both share and its
    difference, how many budgets both reach, mean difference and mean bits saving over them
    (:func:`budget_stats`), each with a paired bootstrap interval. For the reference itself:
    its accuracy at each budget and its AUC."""
    own = curve.method == reference.method
    pair = [reference] if own else [reference, curve]
    rows = summarize(
        pair, reference=reference.method, h_values=h_values, n_boot=n_boot, ci=ci, seed=seed
    )

    def pick(statistic: str) -> tuple[Estimate, ...]:
        return tuple(
            Estimate(r.value, r.ci_low, r.ci_high)
            for r in rows
            if r.method == curve.method and r.statistic == statistic
        )

    accuracy, auc = pick("accuracy_at_h"), pick("auc")[0]
    if own:
        reached = sum(e.finite for e in accuracy)
        return AblationRow(curve.mode, curve.method, budgets=reached, accuracy=accuracy, auc=auc)
    diff = pick("accuracy_diff_at_h")
    mean_diff, mean_saving = paired_budget_stats(
        curve, reference, h_values, n_boot=n_boot, ci=ci, seed=seed, chance=chance
    )
    return AblationRow(
        curve.mode,
        curve.method,
        budgets=sum(e.finite for e in diff),
        accuracy=accuracy,
        accuracy_diff=diff,
        auc=auc,
        auc_diff=pick("auc_diff")[0],
        mean_diff=mean_diff,
        mean_saving=mean_saving,
    )


def better_than_reference(mode: str, value: float) -> bool:
    """Deletion: more accuracy or bits saved than Grad-CAM is better; insertion: less."""
    return value > 0 if mode == "deletion" else value < 0


def spread(values: Sequence[float], mode: str) -> Spread:
    """One statistic over training seeds: the values, their sd, min, max (finite values)
    and in how many seeds the method is better than Grad-CAM."""
    array = np.asarray(values, dtype=np.float64)
    finite = array[np.isfinite(array)]
    if not finite.size:
        return Spread(per_seed=tuple(array.tolist()))
    return Spread(
        per_seed=tuple(array.tolist()),
        sd=float(finite.std(ddof=1)) if finite.size > 1 else math.nan,
        low=float(finite.min()),
        high=float(finite.max()),
        better=sum(better_than_reference(mode, float(v)) for v in finite),
    )


def finite_or(value: float, fallback: float = -math.inf) -> float:
    """``value`` when it is a finite number, else ``fallback``."""
    return float(value) if math.isfinite(value) else fallback


def choose_variant(rows: Sequence[AblationRow] | Sequence[SeedRow]) -> Choice:
    """The causal variant with the best deletion accuracy at matched budgets: most budgets
    reached, then the highest mean difference to Grad-CAM, then the most bits saved.
    ``beats_gradcam``: its interval of the mean difference lies above zero;
    ``insertion_agrees``: its insertion mean difference is negative (better) too."""
    deletion = [r for r in rows if r.mode == "deletion" and r.method.startswith(CAUSAL)]
    if not deletion:
        raise InputError("no causal variant in the ablation")

    def key(row: AblationRow | SeedRow) -> tuple[float, float, float]:
        return (row.budgets, finite_or(row.mean_diff.value), finite_or(row.mean_saving.value))

    best = max(deletion, key=key)
    insertion = next(
        (r.mean_diff for r in rows if r.mode == "insertion" and r.method == best.method),
        Estimate(),
    )
    over_seeds = best if isinstance(best, SeedRow) else None
    return Choice(
        method=best.method,
        options=dict(best.options),
        deletion_mean_diff=best.mean_diff,
        deletion_mean_saving=best.mean_saving,
        insertion_mean_diff=insertion,
        beats_gradcam=finite_or(best.mean_diff.low) > 0,
        insertion_agrees=finite_or(insertion.value, math.inf) < 0,
        seeds=over_seeds.seeds if over_seeds else None,
        seeds_better=over_seeds.diff_over_seeds.better if over_seeds else None,
    )
