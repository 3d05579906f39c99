"""The ablation's typed results: estimates with intervals, one row per (mode, method) of one
network (:class:`AblationRow`) or of several seeds (:class:`SeedRow`), the chosen variant
(:class:`Choice`) and the tables (:class:`AblationTable`, :class:`SeedTable`).

How each number is computed lives in :mod:`causalcam.evaluate.summary`; how it is shown, in
:mod:`causalcam.report.ablation`. Every class round-trips through ``to_json``/``from_json``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._json import number_in, number_out, optional_int

#: The threshold at which the sanity check counts the pixels a deletion mask keeps.
SANITY_TAU = 0.5


@dataclass(frozen=True)
class Estimate:
    """A point value and its percentile bootstrap interval ``[low, high]`` (NaN: none)."""

    value: float = math.nan
    low: float = math.nan
    high: float = math.nan

    @property
    def finite(self) -> bool:
        return math.isfinite(self.value)

    def to_json(self) -> dict[str, float | None]:
        return {
            "value": number_out(self.value),
            "low": number_out(self.low),
            "high": number_out(self.high),
        }

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> Estimate:
        return cls(*(number_in(payload.get(k)) for k in ("value", "low", "high")))


def _estimates(payload: Sequence[Mapping[str, Any]]) -> tuple[Estimate, ...]:
    return tuple(Estimate.from_json(item) for item in payload)


@dataclass(frozen=True)
class AblationRow:
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

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "method": self.method,
            "options": dict(self.options),
            "same_maps_as": self.same_maps_as,
            "kept_at_tau": number_out(self.kept_at_tau),
            "zero_maps": number_out(self.zero_maps),
            "budgets": self.budgets,
            "accuracy": [e.to_json() for e in self.accuracy],
            "accuracy_diff": [e.to_json() for e in self.accuracy_diff],
            **{k: getattr(self, k).to_json() for k in _PAIRED},
        }

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> AblationRow:
        return cls(
            mode=str(payload["mode"]),
            method=str(payload["method"]),
            options={str(k): str(v) for k, v in payload.get("options", {}).items()},
            same_maps_as=str(payload.get("same_maps_as", "")),
            kept_at_tau=number_in(payload.get("kept_at_tau")),
            zero_maps=number_in(payload.get("zero_maps")),
            budgets=int(payload["budgets"]),
            accuracy=_estimates(payload.get("accuracy", [])),
            accuracy_diff=_estimates(payload.get("accuracy_diff", [])),
            **{k: Estimate.from_json(payload.get(k, {})) for k in _PAIRED},
        )

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
class Spread:
    """One statistic over training seeds: each seed's value, their standard deviation,
    minimum and maximum, and in how many seeds the method beats Grad-CAM."""

    per_seed: tuple[float, ...] = ()
    sd: float = math.nan
    low: float = math.nan
    high: float = math.nan
    better: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "per_seed": [number_out(v) for v in self.per_seed],
            "sd": number_out(self.sd),
            "min": number_out(self.low),
            "max": number_out(self.high),
            "better": self.better,
        }

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> Spread:
        return cls(
            per_seed=tuple(number_in(v) for v in payload.get("per_seed", [])),
            sd=number_in(payload.get("sd")),
            low=number_in(payload.get("min")),
            high=number_in(payload.get("max")),
            better=int(payload.get("better", 0)),
        )


@dataclass(frozen=True)
class SeedRow:
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

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "method": self.method,
            "options": dict(self.options),
            "seeds": self.seeds,
            "budgets": self.budgets,
            "mean_diff": self.mean_diff.to_json(),
            "mean_saving": self.mean_saving.to_json(),
            "diff_over_seeds": self.diff_over_seeds.to_json(),
            "saving_over_seeds": self.saving_over_seeds.to_json(),
        }

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> SeedRow:
        return cls(
            mode=str(payload["mode"]),
            method=str(payload["method"]),
            options={str(k): str(v) for k, v in payload.get("options", {}).items()},
            seeds=int(payload["seeds"]),
            budgets=int(payload["budgets"]),
            mean_diff=Estimate.from_json(payload["mean_diff"]),
            mean_saving=Estimate.from_json(payload["mean_saving"]),
            diff_over_seeds=Spread.from_json(payload["diff_over_seeds"]),
            saving_over_seeds=Spread.from_json(payload["saving_over_seeds"]),
        )

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
class Choice:
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

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "options": dict(self.options),
            "deletion_mean_diff": self.deletion_mean_diff.to_json(),
            "deletion_mean_saving": self.deletion_mean_saving.to_json(),
            "insertion_mean_diff": self.insertion_mean_diff.to_json(),
            "beats_gradcam": self.beats_gradcam,
            "insertion_agrees": self.insertion_agrees,
            "seeds": self.seeds,
            "seeds_better": self.seeds_better,
        }

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> Choice:
        return cls(
            method=str(payload["method"]),
            options={str(k): str(v) for k, v in payload.get("options", {}).items()},
            deletion_mean_diff=Estimate.from_json(payload["deletion_mean_diff"]),
            deletion_mean_saving=Estimate.from_json(payload["deletion_mean_saving"]),
            insertion_mean_diff=Estimate.from_json(payload["insertion_mean_diff"]),
            beats_gradcam=bool(payload["beats_gradcam"]),
            insertion_agrees=bool(payload["insertion_agrees"]),
            seeds=optional_int(payload.get("seeds")),
            seeds_better=optional_int(payload.get("seeds_better")),
        )


@dataclass(frozen=True)
class AblationTable:
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
        for row in self.rows:
            if (row.mode, row.method) == (mode, method):
                return row
        raise KeyError(f"{self.model} has no {mode} row for {method!r}")

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "layer": self.layer, **_protocol_json(self)}

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> AblationTable:
        return cls(
            model=str(payload["model"]),
            layer=str(payload["layer"]),
            rows=tuple(AblationRow.from_json(r) for r in payload["rows"]),
            **_protocol_fields(payload),
        )


@dataclass(frozen=True)
class SeedTable:
    """The ablation over several training seeds of one network."""

    models: tuple[str, ...]
    n_images: int
    chance: float
    thresholds: tuple[float, ...]
    h_values: tuple[float, ...]
    rows: tuple[SeedRow, ...]
    choice: Choice

    def to_json(self) -> dict[str, Any]:
        return {"models": list(self.models), **_protocol_json(self)}

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> SeedTable:
        return cls(
            models=tuple(str(m) for m in payload["models"]),
            rows=tuple(SeedRow.from_json(r) for r in payload["rows"]),
            **_protocol_fields(payload),
        )


def _protocol_json(table: AblationTable | SeedTable) -> dict[str, Any]:
    """What both tables record of the protocol, their choice and rows."""
    return {
        "n_images": table.n_images,
        "chance": number_out(table.chance),
        "thresholds": list(table.thresholds),
        "h_values": list(table.h_values),
        "choice": table.choice.to_json(),
        "rows": [row.to_json() for row in table.rows],
    }


def _protocol_fields(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`_protocol_json` but for the rows (each table reads its own)."""
    return {
        "n_images": int(payload["n_images"]),
        "chance": number_in(payload.get("chance")),
        "thresholds": tuple(float(t) for t in payload["thresholds"]),
        "h_values": tuple(float(h) for h in payload["h_values"]),
        "choice": Choice.from_json(payload["choice"]),
    }
