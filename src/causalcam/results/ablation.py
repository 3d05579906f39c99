"""The ablation's typed results: estimates with intervals, one row per (mode, method) of one
network (:class:`AblationRow`) or of several seeds (:class:`SeedRow`), the chosen variant
(:class:`Choice`) and the tables (:class:`AblationTable`, :class:`SeedTable`).

How each number is computed lives in :mod:`causalcam.evaluate.summary`; how it is shown, in
:mod:`causalcam.report.ablation`. Every class has the JSON form of its fields
(:class:`~causalcam.results._json.JsonForm`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ._json import JsonForm, json_codec

#: The threshold at which the sanity check counts the pixels a deletion mask keeps.
SANITY_TAU = 0.5


@dataclass(frozen=True)
class Estimate(JsonForm):
    """A point value and its percentile bootstrap interval ``[low, high]`` (NaN: none)."""

    value: float = math.nan
    low: float = math.nan
    high: float = math.nan

    @property
    def finite(self) -> bool:
        return math.isfinite(self.value)


@dataclass(frozen=True)
class AblationRow(JsonForm):
    """One (mode, method) of one network's ablation, against Grad-CAM.

    ``accuracy[k]``/``accuracy_diff[k]``: accuracy at the matched budget ``h_values[k]`` and
    its paired difference to Grad-CAM (empty for Grad-CAM itself); ``budgets``: how many of
    the budgets both curves reach; ``auc``/``auc_diff``: mean accuracy over the H range
    shared with Grad-CAM; ``mean_diff``/``mean_saving``: mean accuracy difference and mean
    bits saving over the budgets (saving only where Grad-CAM is above chance).
    ``kept_at_tau``/``zero_maps``: the share of pixels a deletion mask keeps at
    :data:`SANITY_TAU` and of all-zero maps. ``same_maps_as``: the earlier method whose
    maps are identical ("" if none).
    """

    mode: str
    method: str
    options: dict[str, str] = field(default_factory=dict)
    same_maps_as: str = ""
    kept_at_tau: float = math.nan
    zero_maps: float = math.nan
    budgets: int = 0
    accuracy: tuple[Estimate, ...] = ()
    accuracy_diff: tuple[Estimate, ...] = ()
    auc: Estimate = Estimate()
    auc_diff: Estimate = Estimate()
    mean_diff: Estimate = Estimate()
    mean_saving: Estimate = Estimate()

    def flat(self, h_values: Sequence[float]) -> dict[str, Any]:
        """One CSV row: options, sanity, ``acc@H=h``/``diff@H=h`` and the paired estimates,
        each with ``_lo``/``_hi`` columns."""
        row: dict[str, Any] = {"mode": self.mode, "method": self.method, **self.options}
        row |= {"same_maps_as": self.same_maps_as, f"kept@tau={SANITY_TAU:g}": self.kept_at_tau}
        row |= {"zero_maps": self.zero_maps, "budgets": self.budgets}
        for h, acc in zip(h_values, self.accuracy, strict=False):
            row |= _columns(f"acc@H={h:g}", acc)
        for h, diff in zip(h_values, self.accuracy_diff, strict=False):
            row |= _columns(f"diff@H={h:g}", diff)
        for name in _PAIRED:
            row |= _columns(name, getattr(self, name))
        return row


_PAIRED: tuple[str, ...] = ("auc", "auc_diff", "mean_diff", "mean_saving")


def _columns(name: str, estimate: Estimate) -> dict[str, float]:
    return {name: estimate.value, f"{name}_lo": estimate.low, f"{name}_hi": estimate.high}


@dataclass(frozen=True)
class Spread(JsonForm):
    """One statistic over training seeds: each seed's value, their standard deviation,
    minimum and maximum, and in how many seeds the method beats Grad-CAM."""

    per_seed: tuple[float, ...] = ()
    sd: float = math.nan
    low: float = field(default=math.nan, metadata=json_codec(key="min"))
    high: float = field(default=math.nan, metadata=json_codec(key="max"))
    better: int = 0


@dataclass(frozen=True)
class SeedRow(JsonForm):
    """One (mode, method) over training seeds: ``mean_diff``/``mean_saving`` are the means
    over seeds with a paired bootstrap interval over the shared test images; ``budgets``:
    the fewest matched budgets any seed reaches."""

    mode: str
    method: str
    options: dict[str, str]
    seeds: int
    budgets: int
    mean_diff: Estimate
    mean_saving: Estimate
    diff_over_seeds: Spread
    saving_over_seeds: Spread

    def flat(self) -> dict[str, Any]:
        """One CSV row (per-seed values joined by " / ")."""
        row: dict[str, Any] = {"mode": self.mode, "method": self.method, **self.options}
        row |= {"seeds": self.seeds, "budgets": self.budgets}
        for name, estimate, spread in (
            ("mean_diff", self.mean_diff, self.diff_over_seeds),
            ("mean_saving", self.mean_saving, self.saving_over_seeds),
        ):
            row |= _columns(name, estimate)
            row |= {
                f"{name}_per_seed": " / ".join(f"{v:.4f}" for v in spread.per_seed),
                f"{name}_sd": spread.sd,
                f"{name}_min": spread.low,
                f"{name}_max": spread.high,
                f"{name}_seeds_better": spread.better,
            }
        return row


@dataclass(frozen=True)
class Choice(JsonForm):
    """The chosen causal variant (:func:`causalcam.evaluate.summary.choose_variant`).

    ``beats_gradcam``: the interval of its deletion mean difference lies above zero;
    ``insertion_agrees``: its insertion mean difference is negative (better) too;
    ``seeds``/``seeds_better``: over a seed study, in how many seeds its deletion mean
    difference is positive.
    """

    method: str
    options: dict[str, str]
    deletion_mean_diff: Estimate
    deletion_mean_saving: Estimate
    insertion_mean_diff: Estimate
    beats_gradcam: bool
    insertion_agrees: bool
    seeds: int | None = None
    seeds_better: int | None = None


@dataclass(frozen=True)
class AblationTable(JsonForm):
    """One network's ablation: every causal variant and Grad-CAM++ against Grad-CAM.

    ``chance``: the majority-class rate of the test labels (no bits saving is taken where
    Grad-CAM is at or below it); ``h_values``: the matched Huffman budgets.
    """

    model: str
    layer: str
    n_images: int
    chance: float
    thresholds: tuple[float, ...]
    h_values: tuple[float, ...]
    rows: tuple[AblationRow, ...]
    choice: Choice

    def row(self, mode: str, method: str) -> AblationRow:
        """The row of ``method`` in ``mode`` (KeyError if absent)."""
        return _row_of(self.rows, mode, method, self.model)


@dataclass(frozen=True)
class SeedTable(JsonForm):
    """The ablation over several training seeds of one network."""

    models: tuple[str, ...]
    n_images: int
    chance: float
    thresholds: tuple[float, ...]
    h_values: tuple[float, ...]
    rows: tuple[SeedRow, ...]
    choice: Choice

    def row(self, mode: str, method: str) -> SeedRow:
        """The row of ``method`` in ``mode`` (KeyError if absent)."""
        return _row_of(self.rows, mode, method, f"the seed study of {len(self.models)} networks")


_Row = TypeVar("_Row", "AblationRow", "SeedRow")


def _row_of(rows: Sequence[_Row], mode: str, method: str, owner: str) -> _Row:
    """The row of ``method`` in ``mode`` among ``rows`` of ``owner`` (KeyError if absent)."""
    for row in rows:
        if (row.mode, row.method) == (mode, method):
            return row
    raise KeyError(f"{owner} has no {mode} row for {method!r}")
