"""``causalcam demo``: the bundled sample scans explained by the bundled trained ResNet-18;
``causalcam demo --volumes``: a generated volume with a planted lesion explained by the
bundled 3-D network ``small3d-lesion``."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from ..data import sample_scans
from ..medical.nifti import save_nifti
from ..medical.window import DEFAULT_WINDOW
from ..models.checkpoint import bundled_model
from ..synthetic import LESION
from ..training.volumes import VolumeTrainConfig, generate_volumes
from .explain import explain_files
from .outputs import ExplainRun
from .settings import ExplainSettings
from .source import ModelSource, load_model_source

DEFAULT_DEMO_OUT = Path("causalcam-out") / "demo"
#: the bundled 3-D network of ``causalcam demo --volumes``
VOLUME_DEMO_MODEL = "small3d-lesion"
#: voxel axes (D, H, W) of a generated volume in the patient's frame at 1 mm: inferior to
#: superior, anterior to posterior, right to left (the axial viewing order), as a RAS affine
_VIEWING_AFFINE = np.array(
    [[0.0, 0.0, -1.0, 0.0], [0.0, -1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
)


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


def generated_volume(folder: Path, seed: int = 0) -> Path:
    """The first volume with a planted lesion among held-out volumes of the 3-D generator
    (the design and grid ``small3d-lesion`` was trained on; the generator's test split,
    ``seed``), written as ``folder/generated-lesion.nii.gz``: 1 mm voxels, grey levels
    turned into Hounsfield units that the default lung window maps back to them."""
    meta = bundled_model(VOLUME_DEMO_MODEL).meta
    config = VolumeTrainConfig.of_network(meta, VOLUME_DEMO_MODEL)
    data = generate_volumes(config.volume_design(), 8, seed, "test")
    grey = data.images[data.present[LESION]][0].numpy().astype(np.float64)
    width, level = DEFAULT_WINDOW.width, DEFAULT_WINDOW.level
    assert width is not None and level is not None  # the lung window is a fixed preset
    hounsfield = level - width / 2 + grey / 255.0 * width
    return save_nifti(folder / "generated-lesion.nii.gz", hounsfield, _VIEWING_AFFINE)


def run_volume_demo(
    out_dir: str | os.PathLike[str] = DEFAULT_DEMO_OUT / "volumes",
    device: torch.device | None = None,
    progress: bool = True,
) -> ExplainRun:
    """Explain a generated volume with a planted lesion (:func:`generated_volume`, written
    in ``out_dir/input``) with the bundled 3-D network: ``out_dir/generated-lesion/`` gets
    each map as NIfTI on the volume's grid and ``planes.png``."""
    out = Path(out_dir)
    scan = generated_volume(out / "input")
    model = load_model_source(VOLUME_DEMO_MODEL, device or torch.device("cpu"))
    return explain_files([scan], model, out, ExplainSettings(device=device, progress=progress))
