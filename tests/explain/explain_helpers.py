"""Helpers of the explanation-engine tests: seeded models, inputs, real scans and the slow
reference (one explicit backward pass per target, as the paper does)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from pytorch_grad_cam.utils.image import scale_cam_image
from torch import Tensor, nn

from causalcam.preprocess import Preprocessing, to_model_input

REPO = Path(__file__).resolve().parents[2]


class TinyCNN(nn.Module):
    """A small seeded CNN: conv-relu-conv-relu (target ``features.3``), pool, linear."""

    def __init__(self, num_classes: int = 2, channels: int = 3) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, 8, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(8, 16, 3, stride=2, padding=1),
            nn.ReLU(),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.pool(self.features(x)).flatten(1))


def tiny_cnn(num_classes: int = 2, seed: int = 0) -> TinyCNN:
    torch.manual_seed(seed)
    return TinyCNN(num_classes).eval()


def torchvision_model(name: str, num_classes: int = 2, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return getattr(torchvision.models, name)(weights=None, num_classes=num_classes).eval()


def data_root() -> Path:
    return Path(os.environ.get("CAUSALCAM_DATA", REPO.parent / "shared" / "covid-ct"))


def real_scans(count: int, size: int = 64) -> Tensor:
    """``count`` real COVID-CT scans as normalised (B, 3, size, size) inputs; skip if absent."""
    folder = data_root() / "CT_COVID"
    if not folder.is_dir():
        pytest.skip(f"COVID-CT data not found at {folder}")
    files = sorted(folder.iterdir())[:count]
    grey = [np.asarray(Image.open(f).convert("L").resize((size, size))) for f in files]
    return to_model_input(torch.from_numpy(np.stack(grey)), Preprocessing(size=size))


def random_inputs(count: int, size: int = 64, seed: int = 1) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(count, 3, size, size, generator=generator)


def to_maps(raw: Tensor, size: tuple[int, int]) -> Tensor:
    """The grad-cam package's own rendering: normalise, cv2 resize, normalise (twice)."""
    once = scale_cam_image(raw.clamp_min(0).detach().cpu().numpy(), (size[1], size[0]))
    return torch.from_numpy(scale_cam_image(once))


def unshrunk(maps: np.ndarray) -> np.ndarray:
    """grad-cam divides by ``max + 1e-7``: its maps peak at ``1 - ~2e-7 / max(raw)``;
    divide that out (docs/method.md, "Degenerate maps")."""
    peak = maps.max(axis=(1, 2), keepdims=True)
    return np.where(peak > 0, maps / np.where(peak > 0, peak, 1), maps)


Loss = Callable[[Tensor, Tensor], Tensor]


def slow_gradients(
    model: nn.Module, layer: nn.Module, x: Tensor, losses: dict[str, Callable[[Tensor], Tensor]]
) -> tuple[Tensor, dict[str, Tensor], Tensor]:
    """The paper's way: a full forward pass with a graph, then one ``backward`` per loss,
    reading the layer-output gradient with a tensor hook (as grad-cam does).
    Returns logits, {name: dL/dA (B, K, h, w)} and the activations A."""
    store: dict[str, Tensor] = {}

    def hook(_m: nn.Module, _i: object, out: Tensor) -> None:
        store["out"] = out
        out.register_hook(lambda g: store.__setitem__("grad", g))

    handle = layer.register_forward_hook(hook)
    try:
        z = model(x)
    finally:
        handle.remove()
    grads = {}
    for name, loss in losses.items():
        model.zero_grad()
        loss(z).backward(retain_graph=True)
        grads[name] = store["grad"].detach().clone()
    return z.detach(), grads, store["out"].detach()
