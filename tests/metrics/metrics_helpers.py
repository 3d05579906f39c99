"""A tiny seeded CNN and the case the metric tests share (maps of a few tiny images)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from causalcam.explain import Explainer

#: The methods of the shared maps (the paper's six).
METHODS = ("gradcam", "gradcam++", "causal")


class TinyNet(nn.Module):
    def __init__(self, classes: int = 3) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.features = nn.Sequential(
            nn.Conv2d(8, 12, 3, padding=1, stride=2),
            nn.ReLU(),
            nn.Conv2d(12, 16, 3, padding=1),
            nn.ReLU(),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.pool(self.features(self.stem(x))).flatten(1))


@dataclass(frozen=True)
class Case:
    model: TinyNet
    inputs: Tensor
    maps: dict[str, Tensor]
    predicted: Tensor


def make_case() -> Case:
    torch.manual_seed(0)
    model = TinyNet().eval()
    with torch.no_grad():  # batch-norm statistics with a realistic scale
        model.train()
        model(torch.randn(8, 3, 24, 24))
        model.eval()
    inputs = torch.randn(4, 3, 24, 24)
    with Explainer(model, target_layer="features") as explainer:
        result = explainer.explain(inputs, methods=METHODS)
    return Case(model, inputs, {m: result.maps[m] for m in METHODS}, result.predicted)


class ForwardCount:
    """Counts the images a model's forward passes see (a forward hook), as a context."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.images = 0

    def __enter__(self) -> ForwardCount:
        def count(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
            self.images += inputs[0].shape[0]

        self.handle = self.model.register_forward_hook(count)
        return self

    def __exit__(self, *exc: object) -> None:
        self.handle.remove()
