"""The settings of a threshold deletion/insertion sweep: set once, passed to every call of
the evaluation chain (settings at construction, data at the call, in the manner of Quantus).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError

MODES: tuple[str, ...] = ("deletion", "insertion")
DEFAULT_THRESHOLDS: tuple[float, ...] = tuple(round(0.10 + 0.01 * step, 2) for step in range(71))


def validate_thresholds(thresholds: Sequence[float] | np.ndarray) -> np.ndarray:
    """Thresholds checked and sorted.

    Args:
        thresholds: the thresholds; each a finite number in [0, 1].

    Returns:
        The distinct thresholds, sorted, as float64.

    Raises:
        InputError: no threshold, or one outside [0, 1] or not finite.
    """
    values = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    if values.size == 0:
        raise InputError("thresholds: at least one threshold is needed")
    bad = values[~np.isfinite(values) | (values < 0.0) | (values > 1.0)]
    if bad.size:
        raise InputError(f"thresholds must lie in [0, 1]; got {bad.tolist()}")
    return np.unique(values)


def validate_modes(modes: Sequence[str]) -> tuple[str, ...]:
    """Modes, each 'deletion' or 'insertion'."""
    unknown = [mode for mode in modes if mode not in MODES]
    if unknown or not modes:
        raise InputError(f"modes must be a non-empty subset of {MODES}; got {list(modes)}")
    return tuple(dict.fromkeys(modes))


@dataclass(frozen=True)
class EvaluationSettings:
    """How a threshold deletion/insertion sweep runs: set once, passed to every call
    (:func:`evaluate_maps`, :func:`run_deletion_insertion`, their sharded forms, the
    ablation and the reproduction's stages), in the manner of Quantus.

    Attributes:
        thresholds: the thresholds ``tau`` in [0, 1] (kept sorted and unique).
        modes: ``deletion``, ``insertion`` or both.
        targets: the models that classify the masked images (``None``: the source only,
            i.e. within-network evaluation).
        out_dir: the store of maps and curves (``None``: nothing kept); a rerun resumes.
        batch_size: masked images per forward pass.
        map_batch_size: images per call of a map function.
        progress: show progress bars.
        precision: ``fp32``, ``bf16``, ``fp16`` or ``auto``: how the targets classify the
            masked images (the maps' precision is the map functions' own).
        channels_last: the memory layout of those passes (``None``: the device's default).

    Raises:
        InputError: a threshold outside [0, 1], an unknown mode or a batch size below 1.
    """

    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS
    modes: tuple[str, ...] = MODES
    targets: tuple[str, ...] | None = None
    out_dir: Path | None = None
    batch_size: int = 64
    map_batch_size: int = 32
    progress: bool = True
    precision: str = "fp32"
    channels_last: bool | None = None

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "thresholds", tuple(float(t) for t in validate_thresholds(self.thresholds))
        )
        object.__setattr__(self, "modes", validate_modes(self.modes))
        if self.targets is not None:
            object.__setattr__(self, "targets", tuple(self.targets))
        if self.out_dir is not None:
            object.__setattr__(self, "out_dir", Path(self.out_dir))
        if min(self.batch_size, self.map_batch_size) < 1:
            raise InputError(
                f"batch sizes must be >= 1, got {self.batch_size} and {self.map_batch_size}"
            )

    def replace(self, **changes: Any) -> EvaluationSettings:
        """A copy with ``changes`` (validated again)."""
        return dataclasses.replace(self, **changes)

    def identity(self) -> dict[str, Any]:
        """What identifies the results these settings give (JSON): not where they are kept,
        nor whether progress shows."""
        return {
            "thresholds": list(self.thresholds),
            "modes": list(self.modes),
            "targets": list(self.targets) if self.targets is not None else None,
            "batch_size": self.batch_size,
            "map_batch_size": self.map_batch_size,
            "precision": self.precision,
            "channels_last": self.channels_last,
        }
