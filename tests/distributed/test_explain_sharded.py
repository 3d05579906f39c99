"""The sharded explain path in one process: colour images reach an RGB model as colour and the
outputs equal those of causalcam.files.explain_files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image
from torch import nn

from causalcam.distributed.explain import explain_files_sharded
from causalcam.files import ExplainSettings, explain_files
from causalcam.network import Network
from causalcam.preprocess import Preprocessing


def _colour_network() -> Network:
    """Logit 0 grows with red minus blue, logit 1 with blue minus red."""
    conv = nn.Conv2d(3, 2, 1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[1.0, 0.0, -1.0], [-1.0, 0.0, 1.0]]).view(2, 3, 1, 1))
    model = nn.Sequential(conv, nn.AdaptiveAvgPool2d(1), nn.Flatten())
    return Network(model, Preprocessing(size=16, rgb=True), ("red", "blue"))


def test_sharded_run_keeps_colour_like_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAUSALCAM_WORKERS", "0")  # decode in this process: no worker start-up
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.new("RGB", (20, 24), (220, 30, 30)).save(photos / "a_red.png")
    Image.new("RGB", (24, 20), (30, 30, 220)).save(photos / "b_blue.png")
    network = _colour_network()
    settings = ExplainSettings(methods=["gradcam"], progress=False)
    one = explain_files([photos], network, tmp_path / "one", settings)
    sharded = explain_files_sharded([photos], network, tmp_path / "sharded", settings)
    assert [r["predicted_class"] for r in sharded.records] == ["red", "blue"]
    for mine, theirs in zip(sharded.records, one.records, strict=True):
        assert mine["probabilities"] == theirs["probabilities"]
        with Image.open(mine["outputs"]["overlays"]["gradcam"]) as overlay:
            assert overlay.mode == "RGB" and overlay.size == (16, 16)
    summary = json.loads(sharded.summary.read_text())
    assert summary["model"]["preprocessing"]["rgb"] is True
