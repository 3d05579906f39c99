"""``causalcam demo``: the bundled sample scans explained by the bundled trained ResNet-18.

The library that explains files lives in :mod:`causalcam.explain_files`; its names are still
reachable here (``causalcam.demo.load_images`` ...) with a :class:`DeprecationWarning`.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import torch

from . import core
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


#: Names that moved out of this module: name -> (module, new home for the warning).
_MOVED: dict[str, tuple[Any, str]] = {
    **{
        name: (files, f"causalcam.explain_files.{name}")
        for name in (
            "IMAGE_SUFFIXES",
            "DEFAULT_METHODS",
            "ModelSource",
            "ExplainRun",
            "load_model_source",
            "collect_images",
            "load_images",
            "parse_contrast_class",
            "check_methods",
            "explain_files",
            "map_statistics",
        )
    },
    "resolve_device": (core, "causalcam.core.resolve_device"),
}


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        module, new = _MOVED[name]
        warnings.warn(
            f"causalcam.demo.{name} moved to {new}; import it from there",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
