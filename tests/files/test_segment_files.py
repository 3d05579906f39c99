"""Segmentation networks from files: ``causalcam explain --segment CLASS`` explains the region
a network assigns to the class, in images (a 2-D network of your own code, --factory) and in
volumes (a 3-D network, maps as NIfTI); images without the class are skipped and listed;
--segment with a classifier, and a segmentation network without it, are clear errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn
from typer.testing import CliRunner

from causalcam import models
from causalcam.cli import app
from causalcam.errors import InputError
from causalcam.files import ExplainSettings, ModelSource, explain_files
from causalcam.method_names import CAUSAL, GRADCAM
from causalcam.preprocess import Preprocessing
from medical_files import write_nifti

runner = CliRunner()

#: A segmentation network of the user's own code: per pixel, background, red or blue.
COLOUR_SEG = """
import torch
from torch import nn


class ColourSeg(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 3, 1), nn.ReLU())
        self.head = nn.Conv2d(3, 3, 1)
        with torch.no_grad():
            self.features[0].weight.copy_(
                torch.tensor([[1.0, 0, -1], [-1, 0, 1], [0, 0, 0]])[:, :, None, None]
            )
            self.features[0].bias.copy_(torch.tensor([0.0, 0.0, 0.5]))
            self.head.weight.copy_(
                torch.tensor([[0, 0, 1.0], [4, 0, 0], [0, 4, 0]])[:, :, None, None]
            )
            self.head.bias.zero_()

    def forward(self, x):
        return {"out": self.head(self.features(x))}


def build():
    return ColourSeg()
"""


@pytest.fixture
def seg_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with ``colour_seg.py``, ``labels.txt`` and three photos: red left
    and blue right, all red, all blue."""
    (tmp_path / "colour_seg.py").write_text(COLOUR_SEG)
    (tmp_path / "labels.txt").write_text("background\nred\nblue\n")
    photos = tmp_path / "photos"
    photos.mkdir()
    halves = np.zeros((64, 64, 3), np.uint8)
    halves[:, :32], halves[:, 32:] = (230, 20, 20), (20, 20, 230)
    Image.fromarray(halves).save(photos / "halves.png")
    Image.new("RGB", (64, 64), (230, 20, 20)).save(photos / "red.png")
    Image.new("RGB", (64, 64), (20, 20, 230)).save(photos / "blue.png")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    monkeypatch.delitem(sys.modules, "colour_seg", raising=False)
    return tmp_path


COMMON = ["--factory", "colour_seg:build", "--labels", "labels.txt", "--size", "32", "--quiet"]


def test_segment_explains_the_region_and_skips_images_without_it(seg_dir: Path) -> None:
    args = ["explain", "photos", *COMMON, "--segment", "red", "--save-npy", "--out", "out"]
    result = runner.invoke(app, [*args, "--methods", "gradcam,gradcam++,causal,contrast_pq"])
    assert result.exit_code == 1, result.output  # a file was skipped
    summary = json.loads((seg_dir / "out" / "explanations.json").read_text())
    records = {Path(r["file"]).name: r for r in summary["images"]}
    assert set(records) == {"halves.png", "red.png"}
    (skipped,) = summary["skipped"]
    assert (
        skipped["file"].endswith("blue.png")
        and "no pixel is predicted as red" in (skipped["reason"])
    )
    halves = records["halves.png"]
    assert halves["predicted_class"] == "red" and halves["region"]["class"] == 1
    assert halves["region"]["share"] == pytest.approx(0.5, abs=0.07)
    assert records["red.png"]["region"]["share"] == pytest.approx(1.0)
    assert set(halves["probabilities"]) == {"background", "red", "blue"}
    grad = np.load(seg_dir / "out" / "halves" / "gradcam.npy")
    assert grad[:, :12].mean() > 0.5 and grad[:, 20:].max() < 0.05  # mass on the red half
    for method in ("gradcam++", "causal", "contrast_pq"):
        assert np.isfinite(np.load(seg_dir / "out" / "halves" / f"{method}.npy")).all()


def test_segment_errors_name_what_is_wrong(seg_dir: Path) -> None:
    result = runner.invoke(app, ["explain", "photos", *COMMON, "--out", "a"])
    assert result.exit_code != 0 and "--segment CLASS" in result.output
    result = runner.invoke(app, ["explain", "photos", *COMMON, "--segment", "green"])
    assert result.exit_code != 0 and "--segment 'green'" in result.output
    assert "1=red" in result.output
    classifier = ["explain", "photos/red.png", "--model", "resnet18", "--segment", "0"]
    result = runner.invoke(app, [*classifier, "--quiet", "--out", "b"])
    assert result.exit_code != 0 and "--segment is for segmentation networks" in result.output


class BrightSeg3d(nn.Module):
    """A 3-D segmentation network: a voxel is ``tissue`` where the windowed grey value is
    over 0.5, else ``air``."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv3d(1, 2, 1), nn.ReLU())
        self.head = nn.Conv3d(2, 2, 1)
        with torch.no_grad():
            self.features[0].weight.copy_(torch.tensor([-1.0, 1.0])[:, None, None, None, None])
            self.features[0].bias.copy_(torch.tensor([0.5, -0.5]))
            self.head.weight.copy_(4 * torch.eye(2)[:, :, None, None, None])
            self.head.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def test_a_3d_segmentation_network_explains_a_region_of_a_volume(tmp_path: Path) -> None:
    pytest.importorskip("nibabel", reason="the medical extra is not installed")
    data = np.full((24, 24, 24), -1000.0, dtype=np.float32)
    data[4:12, 6:14, 8:16] = 40.0
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    scan = write_nifti(tmp_path / "scan.nii.gz", data, affine)
    empty = write_nifti(tmp_path / "empty.nii.gz", np.full_like(data, -1000.0), affine)
    grid = models.VolumeGrid((16, 16, 16), (3.0, 3.0, 3.0))
    source = ModelSource(
        BrightSeg3d().eval(), "bright3d", ["air", "tissue"], Preprocessing(size=16),
        "a 3-D segmentation network", volume=grid,
    )  # fmt: skip
    settings = ExplainSettings(methods=(GRADCAM, CAUSAL), segment="tissue", progress=False)
    run = explain_files([scan, empty], source, tmp_path / "out", settings)
    (record,) = run.records
    assert record["predicted_class"] == "tissue" and 0 < record["region"]["share"] < 0.2
    (skipped,) = run.skipped
    assert (
        skipped["file"] == str(empty) and "no pixel is predicted as class 1" in (skipped["reason"])
    )
    import nibabel as nib

    saved = np.asarray(nib.load(tmp_path / "out" / "scan" / f"{GRADCAM}.nii.gz").dataobj)
    assert saved.shape == data.shape
    inside = saved[4:12, 6:14, 8:16].sum()
    assert inside / saved.sum() > 0.6  # the map's mass is on the segmented box
    with pytest.raises(InputError, match="--segment CLASS"):
        explain_files([scan], source, tmp_path / "bad", ExplainSettings(progress=False))


def test_torchvision_segmentation_weights_with_their_auxiliary_head(
    seg_dir: Path,
) -> None:
    """``--arch deeplabv3_mobilenet_v3_large --weights`` of a network trained with torchvision's
    auxiliary head (``aux_loss=True``): the head, unused in inference, is dropped; the maps are
    read at the backbone's last stage."""
    import torchvision

    torch.manual_seed(0)
    trained = torchvision.models.segmentation.deeplabv3_mobilenet_v3_large(
        weights=None, weights_backbone=None, num_classes=3, aux_loss=True
    )
    state = trained.state_dict()
    state["classifier.4.bias"] = torch.tensor([0.0, 1e3, 0.0])  # every pixel "red"
    torch.save(state, seg_dir / "deeplab.pth")
    args = ["explain", "photos/halves.png", "--arch", "deeplabv3_mobilenet_v3_large"]
    args += ["--weights", "deeplab.pth", "--labels", "labels.txt", "--size", "64"]
    result = runner.invoke(app, [*args, "--segment", "1", "--quiet", "--out", "tv"])
    assert result.exit_code == 0, result.output
    summary = json.loads((seg_dir / "tv" / "explanations.json").read_text())
    assert summary["model"]["target_layer"] == "backbone.16"
    (record,) = summary["images"]
    assert record["region"] == {"class": 1, "pixels": 64 * 64, "share": 1.0}
