"""The typed results of the reproduction's stages, as ``results/<stage>.json`` stores them
and the report reads them back: training, Fig. 2a-b curves, Tables 1-2 transference, RISE
and the qualitative panels (the ablation stage stores an
:class:`~causalcam.results.ablation.AblationTable`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._json import JsonForm, number_in, number_out, optional_float, optional_int
from .ablation import AblationTable, Estimate
from .localisation import LocalisationStageResult

#: Version of the stage files' layout: part of every stage's fingerprint, so files written
#: in another layout are recomputed rather than misread.
STAGE_FORMAT = 3
#: Stages whose results gained content that older files lack, by version (0 when absent):
#: part of that stage's fingerprint only, so a rerun recomputes it (from its cached curves)
#: and nothing else. Reset whenever :data:`STAGE_FORMAT` changes.
STAGE_VERSIONS: dict[str, int] = {}


@dataclass(frozen=True)
class NetworkRow:
    """One trained (or bundled) network and its accuracy."""

    arch: str
    checkpoint: str  # a path, or "bundled" for the model shipped with causalcam
    test_accuracy: float | None = None
    val_accuracy: float | None = None
    best_epoch: int | None = None
    epochs: int | None = None
    recipe: str = ""
    size: int | None = None
    train_seconds: float | None = None

    @property
    def bundled(self) -> bool:
        return self.checkpoint == "bundled"

    def to_json(self) -> dict[str, Any]:
        return {
            "arch": self.arch,
            "checkpoint": self.checkpoint,
            "test_accuracy": self.test_accuracy,
            "val_accuracy": self.val_accuracy,
            "best_epoch": self.best_epoch,
            "epochs": self.epochs,
            "recipe": self.recipe,
            "size": self.size,
            "train_seconds": self.train_seconds,
        }

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> NetworkRow:
        return cls(
            arch=str(payload["arch"]),
            checkpoint=str(payload["checkpoint"]),
            test_accuracy=optional_float(payload.get("test_accuracy")),
            val_accuracy=optional_float(payload.get("val_accuracy")),
            best_epoch=optional_int(payload.get("best_epoch")),
            epochs=optional_int(payload.get("epochs")),
            recipe=str(payload.get("recipe") or ""),
            size=optional_int(payload.get("size")),
            train_seconds=optional_float(payload.get("train_seconds")),
        )


@dataclass(frozen=True)
class TrainResult(JsonForm):
    """The train stage: every network of the profile and its accuracy."""

    networks: tuple[NetworkRow, ...]


@dataclass(frozen=True)
class CurvePoints(JsonForm):
    """Accuracy and mean Huffman ratio per threshold of one (method, mode, target) curve."""

    method: str
    mode: str
    target: str
    thresholds: tuple[float, ...]
    accuracy: tuple[float, ...]
    huffman: tuple[float, ...]


@dataclass(frozen=True)
class SummaryRow:
    """One row of :func:`causalcam.evaluate.summarize`: a statistic of one method's curve
    (``at``: the matched H or accuracy level, ``None`` for AUCs) with its interval."""

    source: str
    target: str
    mode: str
    method: str
    statistic: str
    at: float | None
    value: float
    ci_low: float
    ci_high: float

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "mode": self.mode,
            "method": self.method,
            "statistic": self.statistic,
            "at": self.at,
            "value": number_out(self.value),
            "ci_low": number_out(self.ci_low),
            "ci_high": number_out(self.ci_high),
        }

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> SummaryRow:
        return cls(
            source=str(payload.get("source", "")),
            target=str(payload.get("target", "")),
            mode=str(payload["mode"]),
            method=str(payload["method"]),
            statistic=str(payload["statistic"]),
            at=optional_float(payload.get("at")),
            value=number_in(payload.get("value")),
            ci_low=number_in(payload.get("ci_low")),
            ci_high=number_in(payload.get("ci_high")),
        )


@dataclass(frozen=True)
class CurvesResult:
    """Fig. 2a-b: the curves of ``source``'s maps, their summary and the figures' paths
    (relative to the run folder, by mode)."""

    source: str
    n_images: int
    curves: tuple[CurvePoints, ...]
    summary: tuple[SummaryRow, ...]
    figures: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "n_images": self.n_images,
            "curves": [c.to_json() for c in self.curves],
            "summary": [r.to_json() for r in self.summary],
            "figures": dict(self.figures),
        }

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> CurvesResult:
        return cls(
            source=str(payload["source"]),
            n_images=int(payload["n_images"]),
            curves=tuple(CurvePoints.from_json(c) for c in payload.get("curves", [])),
            summary=tuple(SummaryRow.from_json(r) for r in payload["summary"]),
            figures={str(k): str(v) for k, v in payload.get("figures", {}).items()},
        )


def gain_text(gain: Estimate, wins: int | None, losses: int | None) -> str:
    """The gain of a transference table as text, e.g. ``; mean accuracy gain +1.2 points
    [-0.5, +2.9]; cells significantly better: 1, worse: 0`` (empty without a gain)."""
    if not gain.finite:
        return ""
    text = f"; mean accuracy gain {100 * gain.value:+.1f} points"
    if math.isfinite(gain.low):
        text += f" [{100 * gain.low:+.1f}, {100 * gain.high:+.1f}]"
    if wins is not None and losses is not None:
        text += f"; cells significantly better: {wins}, worse: {losses}"
    return text


@dataclass(frozen=True)
class TransferRecord:
    """One of Tables 1-2 (:class:`causalcam.evaluate.TransferenceTable` as stored):
    ``huffman[r] = (baseline, challenger)``, ``accuracy[r][t] = (baseline, challenger)``;
    ``gain``: the challenger's mean accuracy gain over the cells with its paired bootstrap
    interval; ``significant_wins`` / ``_losses``: cells whose interval excludes 0 (None: no
    bootstrap, or a table stored before they were computed)."""

    source: str
    baseline: str
    challenger: str
    mode: str
    n_images: int
    thresholds: tuple[float, ...]
    targets: tuple[str, ...]
    huffman: tuple[tuple[float, ...], ...]
    accuracy: tuple[tuple[tuple[float, ...], ...], ...]
    wins: int
    ties: int
    cells: int
    fewer_bits: int
    gain: Estimate = field(default_factory=Estimate)
    significant_wins: int | None = None
    significant_losses: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "baseline": self.baseline,
            "challenger": self.challenger,
            "mode": self.mode,
            "n_images": self.n_images,
            "thresholds": list(self.thresholds),
            "targets": list(self.targets),
            "huffman": [list(r) for r in self.huffman],
            "accuracy": [[list(pair) for pair in r] for r in self.accuracy],
            "wins": self.wins,
            "ties": self.ties,
            "cells": self.cells,
            "fewer_bits": self.fewer_bits,
            "gain": self.gain.to_json(),
            "significant_wins": self.significant_wins,
            "significant_losses": self.significant_losses,
        }

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> TransferRecord:
        return cls(
            source=str(payload["source"]),
            baseline=str(payload.get("baseline", "gradcam")),
            challenger=str(payload.get("challenger", "causal")),
            mode=str(payload.get("mode", "deletion")),
            n_images=int(payload["n_images"]),
            thresholds=tuple(float(t) for t in payload["thresholds"]),
            targets=tuple(str(t) for t in payload["targets"]),
            huffman=tuple(tuple(float(v) for v in r) for r in payload["huffman"]),
            accuracy=tuple(
                tuple(tuple(float(v) for v in pair) for pair in r) for r in payload["accuracy"]
            ),
            wins=int(payload["wins"]),
            ties=int(payload["ties"]),
            cells=int(payload["cells"]),
            fewer_bits=int(payload["fewer_bits"]),
            gain=Estimate.from_json(payload.get("gain") or {}),
            significant_wins=optional_int(payload.get("significant_wins")),
            significant_losses=optional_int(payload.get("significant_losses")),
        )


@dataclass(frozen=True)
class TransferResult:
    """The transfer stage: Tables 1-2."""

    tables: tuple[TransferRecord, ...]

    def to_json(self) -> dict[str, Any]:
        return {"tables": [t.to_json() for t in self.tables]}

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> TransferResult:
        return cls(tuple(TransferRecord.from_json(t) for t in payload["tables"]))


@dataclass(frozen=True)
class RiseRow(JsonForm):
    """Mean RISE deletion and insertion AUC of one method."""

    method: str
    deletion_auc: float
    insertion_auc: float


@dataclass(frozen=True)
class RiseStageResult(JsonForm):
    """The RISE stage: each method's mean deletion and insertion AUC on one network."""

    source: str
    steps: int
    rows: tuple[RiseRow, ...]


@dataclass(frozen=True)
class QualitativeResult(JsonForm):
    """Paths (relative to the run folder) of the Fig. 2c-h panel (``None`` when no scan
    qualified) and the Fig. 3 panels, and the threshold of Fig. 3's masks."""

    threshold: float
    fig2: str | None = None
    fig3: tuple[str, ...] = ()


#: The result class each stage of ``causalcam reproduce`` stores in ``results/<stage>.json``
#: (read back with its ``from_json``).
STAGE_RESULTS: dict[str, Any] = {
    "train": TrainResult,
    "curves": CurvesResult,
    "transfer": TransferResult,
    "ablation": AblationTable,
    "rise": RiseStageResult,
    "localisation": LocalisationStageResult,
    "qualitative": QualitativeResult,
}
