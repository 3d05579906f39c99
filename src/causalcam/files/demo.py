"""``causalcam demo``: the bundled sample scans explained by the bundled trained ResNet-18."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ..data import sample_scans
from .explain import explain_files
from .outputs import ExplainRun
from .settings import ExplainSettings
from .source import ModelSource, load_model_source

DEFAULT_DEMO_OUT = Path("causalcam-out") / "demo"


def run_demo(
    out_dir: str | os.PathLike[str] = DEFAULT_DEMO_OUT,
    device: torch.device | None = None,
    progress: bool = True,
    source: ModelSource | None = None,
) -> ExplainRun:
    """Explain the bundled sample scans with the bundled trained ResNet-18.

    ``source`` replaces the bundled model (tests use it); without it a missing embedded
    checkpoint is reported as a :class:`CheckpointError`, never replaced silently.
    """
    model = source or load_model_source("default", device or torch.device("cpu"))
    scans = sample_scans()
    return explain_files(
        [scan.path for scan in scans],
        model,
        out_dir,
        ExplainSettings(device=device, progress=progress),
        true_classes={scan.path: scan.class_name for scan in scans},
    )
