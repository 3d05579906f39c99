"""The back end of ``causalcam evaluate``: within-network deletion/insertion of checkpoints
the user names (rows, summary and Fig. 2a-b plots).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch

from ..distributed import current
from ..evaluate import (
    DEFAULT_THRESHOLDS,
    summarize,
    write_rows,
)
from ..evaluate.tables import curve_rows
from ..method_names import CURVE_METHODS
from ..viz.curves import save_accuracy_curves
from .context import _checkpoint_name, _curves, _path_or_none, load_network, load_test_set


def evaluate_checkpoints(
    checkpoints: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    methods: Sequence[str] = CURVE_METHODS,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    data_root: str | os.PathLike[str] | None = None,
    limit: int | None = None,
    n_boot: int = 1000,
    device: torch.device | None = None,
    progress: bool = True,
    precision: str = "fp32",
) -> list[Path]:
    """Within-network deletion/insertion of each checkpoint on the test split: tidy rows,
    summary (CSV + JSON) and the Fig. 2a-b plots under ``out_dir``; masked images
    classified in ``precision``. Returns the files."""
    out = Path(out_dir)
    written: list[Path] = []
    for checkpoint in checkpoints:
        name = _checkpoint_name(checkpoint)
        network = load_network(Path(checkpoint), device or torch.device("cpu"))
        test = load_test_set(network.preprocessing.size, limit, _path_or_none(data_root))
        curves = _curves(
            out,
            {name: network},
            test,
            name,
            methods,
            thresholds=thresholds,
            progress=progress,
            precision=precision,
        )
        if not current().is_main:
            continue
        written += write_rows(curve_rows(curves), out / f"{name}_curves")
        written += write_rows(summarize(curves, n_boot=n_boot), out / f"{name}_summary")
        for mode in ("deletion", "insertion"):
            chosen = [c for c in curves if c.mode == mode]
            written.append(save_accuracy_curves(chosen, out / f"{name}_{mode}.png"))
    return written
