"""The back end of ``causalcam transfer``: a Table 1/2 for one source checkpoint's masks fed
to target checkpoints.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import torch

from ..distributed import current
from ..errors import InputError
from ..evaluate import (
    TRANSFER_THRESHOLDS,
    transference_table,
)
from ..explain import CausalOptions
from ..method_names import CAUSAL, GRADCAM
from .context import _checkpoint_name, _curves, _path_or_none, load_network, load_test_set


def transfer_checkpoints(
    source: str | os.PathLike[str],
    targets: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    thresholds: Sequence[float] = TRANSFER_THRESHOLDS,
    data_root: str | os.PathLike[str] | None = None,
    limit: int | None = None,
    device: torch.device | None = None,
    progress: bool = True,
    causal: str = CAUSAL,
    precision: str = "fp32",
) -> tuple[Path, ...]:
    """A Table 1/2 for ``source``'s masks fed to ``targets``: CSV, JSON and Markdown.
    ``causal``: the causal variant set against Grad-CAM (``causal`` = the default variant,
    or a name such as ``causal[mse,none,literal]``)."""
    CausalOptions.parse(causal)  # an unknown variant fails before any work
    where = device or torch.device("cpu")
    named = {_checkpoint_name(p): load_network(Path(p), where) for p in [source, *targets]}
    if len(named) != 1 + len(targets):
        raise InputError("name each checkpoint once; their file (or folder) names must differ")
    source_name = _checkpoint_name(source)
    sizes = {net.preprocessing.size for net in named.values()}
    if len(sizes) != 1:
        raise InputError(f"the checkpoints expect different input sizes: {sorted(sizes)}")
    test = load_test_set(sizes.pop(), limit, _path_or_none(data_root))
    target_names = [n for n in named if n != source_name]
    curves = _curves(
        Path(out_dir),
        named,
        test,
        source_name,
        (GRADCAM, causal),
        targets=target_names,
        thresholds=thresholds,
        modes=("deletion",),
        progress=progress,
        precision=precision,
    )
    table = transference_table(
        curves, source=source_name, thresholds=thresholds, targets=target_names, challenger=causal
    )
    suffix = "" if causal == CAUSAL else "_" + re.sub(r"[^A-Za-z0-9]+", "_", causal).strip("_")
    stem = Path(out_dir) / f"transfer_{source_name}{suffix}"
    if not current().is_main:
        return tuple(stem.with_suffix(ext) for ext in (".csv", ".json", ".md"))
    return table.write(stem)
