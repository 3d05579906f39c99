"""Helpers of the volume (3-D) tests: a small seeded Conv3d network, 3-D networks of
MONAI and torchvision with calibrated batch norms, and seeded volumes."""

from __future__ import annotations

import numpy as np
import torch
from monai.networks.nets import resnet18
from torch import Tensor, nn


class TinyCNN3d(nn.Module):
    """A small seeded 3-D CNN: conv-bn-relu (target ``features.2``, input resolution),
    strided conv-bn-relu (target ``features.5``), pool, linear."""

    def __init__(self, num_classes: int = 3, channels: int = 1) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv3d(channels, 8, 3, padding=1),
            nn.BatchNorm3d(8),
            nn.ReLU(),
            nn.Conv3d(8, 16, 3, stride=2, padding=1),
            nn.BatchNorm3d(16),
            nn.ReLU(),
        )
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.fc = nn.Linear(16, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.pool(self.features(x)).flatten(1))


def random_volumes(shape: tuple[int, ...], seed: int = 1) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=generator)


def calibrated(model: nn.Module, shape: tuple[int, ...], passes: int = 3) -> nn.Module:
    """``model`` in eval mode after ``passes`` train-mode forward passes on random volumes of
    ``shape`` (batch norms get realistic running statistics: untrained ones leave maps
    near 1e-13)."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.momentum = None  # cumulative average of the passes
    model.train()
    with torch.no_grad():
        for index in range(passes):
            model(random_volumes(shape, seed=100 + index))
    return model.eval()


def tiny_cnn3d(num_classes: int = 3, channels: int = 1, seed: int = 0) -> TinyCNN3d:
    torch.manual_seed(seed)
    model = TinyCNN3d(num_classes, channels)
    return calibrated(model, (4, channels, 8, 16, 16))  # type: ignore[return-value]


def monai_resnet18(channels: int = 1, num_classes: int = 3, seed: int = 0) -> nn.Module:
    """MONAI's 3-D ResNet-18, seeded, with calibrated batch norms."""
    torch.manual_seed(seed)
    model = resnet18(spatial_dims=3, n_input_channels=channels, num_classes=num_classes)
    return calibrated(model, (2, channels, 8, 32, 32))


def package_maps(
    cls: type, model: nn.Module, layer: str, x: Tensor, **call: object
) -> tuple[Tensor, Tensor]:
    """The grad-cam package's 3-D maps at ``layer``: before resizing (after its ReLU) and
    final; ``call``: ``targets``, ``eigen_smooth`` (default: the predicted class)."""
    raw: list[np.ndarray] = []
    with cls(model=model, target_layers=[model.get_submodule(layer)]) as cam:
        compute = cam.get_cam_image

        def spy(*args: object, **kwargs: object) -> np.ndarray:
            out = compute(*args, **kwargs)
            raw.append(np.maximum(out, 0))
            return out

        cam.get_cam_image = spy
        final = cam(input_tensor=x, **{"targets": None, **call})
    return torch.from_numpy(raw[0]), torch.from_numpy(final)


def assert_raw_close(got: Tensor, expected: Tensor) -> None:
    """Equal to 1e-5 of the map's scale (the maps are compared before normalisation)."""
    scale = float(expected.abs().max())
    assert scale > 1e-6, "a map this small compares nothing"
    torch.testing.assert_close(got, expected.to(got.dtype), rtol=0, atol=1e-5 * scale)
