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
from ..evaluate import TRANSFER_THRESHOLDS, EvaluationSettings, transference_table
from ..explain import CausalOptions
from ..method_names import CAUSAL, GRADCAM
from .context import checkpoint_name, load_network, load_test_set, path_or_none, source_curves


def transfer_checkpoints(
    source: str | os.PathLike[str],
    targets: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    settings: EvaluationSettings | None = None,
    data_root: str | os.PathLike[str] | None = None,
    limit: int | None = None,
    device: torch.device | None = None,
    causal: str = CAUSAL,
) -> tuple[Path, ...]:
    """A Table 1/2 for ``source``'s masks fed to ``targets``: CSV, JSON and Markdown.

    Args:
        source: the checkpoint whose maps make the masks.
        targets: the checkpoints fed the masked images.
        out_dir: the tables go here (the curves to its ``eval`` store).
        settings: thresholds (default :data:`~causalcam.evaluate.TRANSFER_THRESHOLDS`),
            progress and the precision the masked images are classified in; deletion only,
            targets and store are set here.
        data_root: the COVID-CT folder (or pack).
        limit: the first ``limit`` test images per class.
        device: where the networks run (default: the CPU).
        causal: the causal variant set against Grad-CAM (``causal`` = the default variant,
            or a name such as ``causal[mse,none,literal]``).

    Returns:
        The CSV, JSON and Markdown files of the table.

    Raises:
        InputError: an unknown variant, checkpoints of the same name or of different input
            sizes.
    """
    CausalOptions.parse(causal)  # an unknown variant fails before any work
    settings = settings or EvaluationSettings(thresholds=TRANSFER_THRESHOLDS)
    where = device or torch.device("cpu")
    named = {checkpoint_name(p): load_network(Path(p), where) for p in [source, *targets]}
    if len(named) != 1 + len(targets):
        raise InputError("name each checkpoint once; their file (or folder) names must differ")
    source_name = checkpoint_name(source)
    sizes = {net.preprocessing.size for net in named.values()}
    if len(sizes) != 1:
        raise InputError(f"the checkpoints expect different input sizes: {sorted(sizes)}")
    test = load_test_set(sizes.pop(), limit, path_or_none(data_root))
    target_names = [n for n in named if n != source_name]
    settings = settings.replace(
        targets=tuple(target_names), modes=("deletion",), out_dir=Path(out_dir) / "eval"
    )
    curves = source_curves(named, test, source_name, (GRADCAM, causal), settings)
    table = transference_table(
        curves,
        source=source_name,
        thresholds=settings.thresholds,
        targets=target_names,
        methods=(GRADCAM, causal),
    )
    suffix = "" if causal == CAUSAL else "_" + re.sub(r"[^A-Za-z0-9]+", "_", causal).strip("_")
    stem = Path(out_dir) / f"transfer_{source_name}{suffix}"
    if not current().is_main:
        return tuple(stem.with_suffix(ext) for ext in (".csv", ".json", ".md"))
    return table.write(stem)
