"""``causalcam demo --volumes``: a generated volume explained by the bundled 3-D network."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from causalcam.cli import app
from causalcam.files.demo import generated_volume
from causalcam.files.volume_inputs import read_nifti_whole
from causalcam.medical.window import DEFAULT_WINDOW
from causalcam.training.volumes import VolumeTrainConfig, generate_volumes

runner = CliRunner()


def test_the_volume_demo_writes_nifti_maps_and_the_planes_figure(tmp_path: Path) -> None:
    nibabel = pytest.importorskip("nibabel")
    result = runner.invoke(app, ["demo", "--volumes", "--out", str(tmp_path), "-q"])
    assert result.exit_code == 0, result.output
    folder = tmp_path / "generated-lesion"
    assert (folder / "planes.png").read_bytes().startswith(b"\x89PNG")
    scan = nibabel.load(tmp_path / "input" / "generated-lesion.nii.gz")
    causal = nibabel.load(folder / "causal.nii.gz")
    assert causal.shape == scan.shape == (32, 32, 32)
    assert np.allclose(causal.affine, scan.affine)
    record = json.loads((tmp_path / "explanations.json").read_text())["images"][0]
    assert record["predicted_class"] == "lesion"  # the bundled network finds the lesion


def test_the_generated_volume_reads_back_as_the_generator_drew_it(tmp_path: Path) -> None:
    """The lung window maps the written Hounsfield units back to the generator's grey levels
    and the affine puts the voxels back in the axial viewing order the generator uses."""
    pytest.importorskip("nibabel")
    design = VolumeTrainConfig(size=32, design="shortcut-0.5").volume_design()
    data = generate_volumes(design, 8, 0, "test")
    drawn = data.images[data.present["lesion"]][0].numpy().astype(int)
    volume = read_nifti_whole(generated_volume(tmp_path), DEFAULT_WINDOW)
    assert volume.spacing == pytest.approx((1.0, 1.0, 1.0))
    assert np.abs(volume.grey.astype(int) - drawn).max() <= 1
