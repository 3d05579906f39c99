"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from torch import Tensor

from causalcam import models
from causalcam.data import CLASSES
from causalcam.preprocess import Preprocessing

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def real_root() -> Path:
    """The real COVID-CT ($CAUSALCAM_DATA or ../shared/covid-ct); skip when absent."""
    root = Path(os.environ.get("CAUSALCAM_DATA") or REPO.parent / "shared" / "covid-ct")
    if not (root / "Data-split").is_dir():
        pytest.skip(f"real COVID-CT data not found at {root}")
    return root


@pytest.fixture
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Caches go to a temporary folder (autouse in tests/cli and tests/distributed)."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("CAUSALCAM_CACHE", str(cache))
    return cache


@pytest.fixture(scope="session")
def untrained_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Callable[[int], Path]:
    """``make(size)``: a saved, seeded, untrained ResNet-18 taking ``size`` px inputs."""

    def make(size: int) -> Path:
        torch.manual_seed(0)
        model = models.build("resnet18", num_classes=len(CLASSES))
        meta = models.CheckpointMeta(
            arch="resnet18", classes=list(CLASSES), preprocessing=Preprocessing(size=size)
        )
        folder = tmp_path_factory.mktemp("ckpt")
        return models.save_checkpoint(folder / "r18.pt", model, meta)

    return make


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread() -> Iterator[None]:
    """Small tensors run fastest on one thread, most of all on a shared, loaded CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def scans() -> tuple[Tensor, Tensor]:
    """Twelve random uint8 16 x 16 "scans" with alternating labels (the study tests)."""
    generator = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (12, 16, 16), dtype=torch.uint8, generator=generator)
    return images, torch.arange(12) % 2


class ModelState:
    """Everything a call must leave as it found: each parameter's and buffer's dtype, strides
    (memory format), values and ``requires_grad``; each module's training flag; the hooks."""

    def __init__(self, model: torch.nn.Module) -> None:
        named = [*model.named_parameters(), *model.named_buffers()]
        self.tensors = [
            (name, t.dtype, t.stride(), t.detach().clone(), t.requires_grad) for name, t in named
        ]
        self.flags = [module.training for module in model.modules()]
        self.hooks = sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())

    def assert_unchanged(self, model: torch.nn.Module) -> None:
        now = ModelState(model)
        assert now.flags == self.flags, "training flags changed"
        assert now.hooks == self.hooks, "hooks left behind"
        for before, after in zip(self.tensors, now.tensors, strict=True):
            assert before[1:3] + before[4:] == after[1:3] + after[4:], before[0]
            assert torch.equal(before[3], after[3]), before[0]


@pytest.fixture
def model_state() -> type[ModelState]:
    """``model_state(model)`` records a model's state; ``.assert_unchanged(model)`` checks it."""
    return ModelState


@pytest.fixture
def squares() -> tuple[Tensor, Tensor]:
    """Sixteen 16 x 16 scans of dim noise (0-119) with one bright 4 x 4 square (150-255):
    in the left half for label 0, in the right half for label 1 (the evidence that
    ``test_measure.Halves`` classifies by, so masks that keep it keep the accuracy)."""
    generator = torch.Generator().manual_seed(1)
    images = torch.randint(0, 120, (16, 16, 16), generator=generator)
    labels = torch.arange(16) % 2
    for i in range(16):
        row = int(torch.randint(0, 12, (1,), generator=generator))
        column = int(torch.randint(0, 4, (1,), generator=generator)) + 8 * int(labels[i])
        square = torch.randint(150, 256, (4, 4), generator=generator)
        images[i, row : row + 4, column : column + 4] = square
    return images.to(torch.uint8), labels
