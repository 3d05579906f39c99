"""``causalcam demo``: the bundled sample scans explained by the bundled trained ResNet-18.

The library that explains files lives in :mod:`causalcam.explain_files`.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from . import explain_files as files
from .data import sample_scans

DEFAULT_DEMO_OUT = Path("causalcam-out") / "demo"


def run_demo(
    out_dir: str | os.PathLike[str] = DEFAULT_DEMO_OUT,
    device: torch.device | None = None,
    progress: bool = True,
    source: files.ModelSource | None = None,
) -> files.ExplainRun:
    """Explain the bundled sample scans with the bundled trained ResNet-18.

    ``source`` replaces the bundled model (tests use it); without it a missing embedded
    checkpoint is reported as a :class:`CheckpointError`, never replaced silently.
    """
    model = source or files.load_model_source("default", device or torch.device("cpu"))
    scans = sample_scans()
    return files.explain_files(
        [scan.path for scan in scans],
        model,
        out_dir,
        device=device,
        progress=progress,
        true_classes={scan.path: scan.class_name for scan in scans},
    )
