"""A small random model source for the medical-input tests (64 px inputs, fast on a CPU)."""

from __future__ import annotations

import pytest
import torch

from causalcam import models
from causalcam.data import CLASSES
from causalcam.files import ModelSource
from causalcam.preprocess import Preprocessing

pytest.importorskip("pydicom", reason="the medical extra is not installed")
pytest.importorskip("nibabel", reason="the medical extra is not installed")


@pytest.fixture(scope="module")
def small_source() -> ModelSource:
    torch.manual_seed(0)
    model = models.build("resnet18", num_classes=2).eval()
    return ModelSource(model, "resnet18", list(CLASSES), Preprocessing(size=64), "random test")
