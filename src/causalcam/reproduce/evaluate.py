"""The back end of ``causalcam evaluate``: within-network deletion/insertion of checkpoints
the user names (rows, summary and Fig. 2a-b plots).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch

from ..distributed import current
from ..evaluate import EvaluationSettings, summarize, write_rows
from ..evaluate.tables import curve_rows
from ..method_names import CURVE_METHODS
from ..viz.curves import save_accuracy_curves
from .context import checkpoint_name, load_network, load_test_set, path_or_none, source_curves


def evaluate_checkpoints(
    checkpoints: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    methods: Sequence[str] = CURVE_METHODS,
    settings: EvaluationSettings | None = None,
    data_root: str | os.PathLike[str] | None = None,
    limit: int | None = None,
    n_boot: int = 1000,
    device: torch.device | None = None,
) -> list[Path]:
    """Within-network deletion/insertion of each checkpoint on the test split.

    Args:
        checkpoints: checkpoints written by ``causalcam train``.
        out_dir: tidy rows, summary (CSV + JSON) and the Fig. 2a-b plots go here.
        methods: the methods evaluated (``causal[...]`` names a causal variant).
        settings: thresholds, progress and the precision the masked images are classified
            in (default :class:`~causalcam.evaluate.EvaluationSettings`); the curves are
            kept in ``out_dir/eval`` whatever its ``out_dir`` and ``targets``.
        data_root: the COVID-CT folder (or pack).
        limit: the first ``limit`` test images per class.
        n_boot: bootstrap resamples of the summary's intervals.
        device: where the networks run (default: the CPU).

    Returns:
        The files written.
    """
    out = Path(out_dir)
    settings = (settings or EvaluationSettings()).replace(out_dir=out / "eval", targets=None)
    written: list[Path] = []
    for checkpoint in checkpoints:
        name = checkpoint_name(checkpoint)
        network = load_network(Path(checkpoint), device or torch.device("cpu"))
        test = load_test_set(network.preprocessing.size, limit, path_or_none(data_root))
        curves = source_curves({name: network}, test, name, methods, settings)
        if not current().is_main:
            continue
        written += write_rows(curve_rows(curves), out / f"{name}_curves")
        written += write_rows(summarize(curves, n_boot=n_boot), out / f"{name}_summary")
        for mode in ("deletion", "insertion"):
            chosen = [c for c in curves if c.mode == mode]
            written.append(save_accuracy_curves(chosen, out / f"{name}_{mode}.png"))
    return written
