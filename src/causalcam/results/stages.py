"""The typed results of the reproduction's stages, as ``results/<stage>.json`` stores them
and the report reads them back: training, Fig. 2a-b curves, Tables 1-2 transference, RISE
and the qualitative panels (the ablation stage stores an
:class:`~causalcam.results.ablation.AblationTable`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataError
from ._json import JsonForm, check_format
from .ablation import AblationTable, Estimate
from .localisation import LocalisationStageResult

#: Version of the stage files' layout: recorded in every stage file and part of every
#: stage's fingerprint, so files written in another layout are recomputed rather than
#: misread (and refused by :func:`read_stage`).
STAGE_FORMAT = 3
#: Stages whose results gained content that older files lack, by version (0 when absent):
#: part of that stage's fingerprint only, so a rerun recomputes it (from its cached curves)
#: and nothing else. Reset whenever :data:`STAGE_FORMAT` changes.
STAGE_VERSIONS: dict[str, int] = {}


@dataclass(frozen=True)
class NetworkRow(JsonForm):
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
class SummaryRow(JsonForm):
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


@dataclass(frozen=True)
class CurvesResult(JsonForm):
    """Fig. 2a-b: the curves of ``source``'s maps, their summary and the figures' paths
    (relative to the run folder, by mode)."""

    source: str
    n_images: int
    curves: tuple[CurvePoints, ...]
    summary: tuple[SummaryRow, ...]
    figures: dict[str, str] = field(default_factory=dict)


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
class TransferRecord(JsonForm):
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


@dataclass(frozen=True)
class TransferResult(JsonForm):
    """The transfer stage: Tables 1-2."""

    tables: tuple[TransferRecord, ...]


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


def read_stage(path: str | Path) -> Any:
    """The typed result of a stage file ``results/<stage>.json`` (its class from
    :data:`STAGE_RESULTS` by the file's stem).

    Raises:
        DataError: the file was written with another :data:`STAGE_FORMAT` (the message
            names the file and both versions) or is not a stage file.
    """
    path = Path(path)
    if path.stem not in STAGE_RESULTS:
        raise DataError(f"{path}: not a stage file (stages: {', '.join(STAGE_RESULTS)})")
    stored = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(stored, dict) or "result" not in stored:
        raise DataError(f"{path}: not a stage file (no 'result')")
    check_format(stored.get("format"), STAGE_FORMAT, path, "stage result", DataError)
    return STAGE_RESULTS[path.stem].from_json(stored["result"])
