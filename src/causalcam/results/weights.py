"""The record of a committed network (``weights/NAME.json``): what it is, how it scores on
its fp16 file and how it was trained (:mod:`causalcam.reproduce.weights` writes and reads it)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from ..errors import CheckpointError
from ._json import JsonForm, check_format

#: the sidecar format; a record of another version is refused with the file's name
WEIGHTS_FORMAT = 1


@dataclass(frozen=True)
class WeightsRecord(JsonForm):
    """What a committed network is, how it scores (on the fp16 file) and how it was trained."""

    name: str  # the file stem: ``resnet34``, ``resnet18-seed1``
    arch: str
    sha256: str  # of NAME.pt
    size: int  # input side (pixels)
    seed: int
    epochs: int
    best_epoch: int  # the selected epoch, counted from 1
    recipe: dict[str, Any]  # every field of causalcam.training.Recipe
    precision: str  # what training computed in
    val_accuracy: float
    test_accuracy: float
    test_auc: float | None  # None where the test split holds one class
    train_seconds: float
    command: str  # trains the network again into runs/retrain/NAME
    format: int = WEIGHTS_FORMAT

    @classmethod
    def from_json(cls, payload: Mapping[str, Any], source: Path | str = "record") -> Self:
        """The record of a sidecar file (``source`` names it in errors).

        Raises:
            CheckpointError: the record is of another :data:`WEIGHTS_FORMAT` or lacks a
                field.
        """
        check_format(
            payload.get("format"), WEIGHTS_FORMAT, source, "weights record", CheckpointError
        )
        missing = {f.name for f in dataclasses.fields(cls)} - set(payload)
        if missing:
            raise CheckpointError(f"{source}: weights record lacks {', '.join(sorted(missing))}")
        return super().from_json(payload)
