"""The README's Python quickstart runs as written (on a smaller network of the same family)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.models import resnet18

REPO = Path(__file__).resolve().parents[2]
if not (REPO / "README.md").is_file():
    pytest.skip("a source checkout's README.md is needed", allow_module_level=True)


def _python_blocks() -> list[str]:
    return re.findall(
        r"```python\n(.*?)```", (REPO / "README.md").read_text(encoding="utf-8"), re.S
    )


def test_quickstart_explains_a_photo_into_an_overlay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    own_model, drop_in = _python_blocks()[:2]
    assert "save_overlay(" in own_model and "CausalCAM(" in drop_in
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)
    torch.save(resnet18(num_classes=10).state_dict(), tmp_path / "my_weights.pth")
    photo = np.random.default_rng(0).integers(0, 256, (180, 240, 3), dtype=np.uint8)
    Image.fromarray(photo).save(tmp_path / "photo.jpg")
    scope: dict[str, object] = {}
    exec(own_model.replace("resnet50", "resnet18"), scope)
    overlay = Image.open(tmp_path / "photo-causal.png")
    assert overlay.size == (224, 224) and overlay.mode == "RGB"
    scope["x"] = torch.rand(2, 3, 64, 64)
    exec(drop_in, scope)
    maps = scope["maps"]
    assert isinstance(maps, np.ndarray) and maps.shape == (2, 64, 64)
