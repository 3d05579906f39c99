"""The networks the ground-truth benchmark explains, and what they really use.

``small``: a four-block CNN whose last feature map is a quarter of the input (16x16 at 64 px),
so a map can tell the cause from the context; target layer ``block4``. ``resnet18``:
torchvision's ResNet-18 (no pretrained weights) with target layer ``layer3``. Both read the
three-channel input of :func:`causalcam.preprocess.to_model_input`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from ..errors import InputError
from ..network import Network, eval_mode
from ..preprocess import Preprocessing, to_model_input
from ..results import JsonForm
from ..synthetic import INTERVENTIONS, SyntheticSet, intervene

ARCHS: tuple[str, ...] = ("small", "resnet18")
TARGET_LAYERS: dict[str, str] = {"small": "block4", "resnet18": "layer3"}
#: Grey levels of the synthetic images are centred and scaled like this.
PREPROCESSING_MEAN: tuple[float, float, float] = (0.3, 0.3, 0.3)
PREPROCESSING_STD: tuple[float, float, float] = (0.3, 0.3, 0.3)


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()
    )


class SmallCNN(nn.Module):
    """Four 3x3 conv blocks (``width``, 2x, 4x, 4x channels), 2x2 max pooling after the first
    two, global average pooling and a linear head."""

    def __init__(self, n_classes: int, width: int = 16) -> None:
        super().__init__()
        self.block1 = _block(3, width)
        self.block2 = _block(width, 2 * width)
        self.block3 = _block(2 * width, 4 * width)
        self.block4 = _block(4 * width, 4 * width)
        self.head = nn.Linear(4 * width, n_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = F.max_pool2d(self.block1(x), 2)
        x = F.max_pool2d(self.block2(x), 2)
        x = self.block4(self.block3(x))
        return self.head(x.mean(dim=(2, 3)))


def build_network(arch: str, n_classes: int) -> nn.Module:
    """A freshly initialised network (``ARCHS``); nothing is downloaded."""
    if arch == "small":
        return SmallCNN(n_classes)
    if arch == "resnet18":
        from torchvision.models import resnet18

        return resnet18(weights=None, num_classes=n_classes)
    raise InputError(f"unknown architecture {arch!r}; known: {', '.join(ARCHS)}")


@dataclass(frozen=True)
class TrainSettings:
    """How one network is trained: architecture, epochs, batch size, learning rate (Adam,
    cosine schedule), label smoothing and the seed of initialisation and shuffling."""

    arch: str = "small"
    epochs: int = 6
    batch_size: int = 64
    lr: float = 3e-3
    smoothing: float = 0.0
    seed: int = 0

    def to_dict(self) -> dict[str, object]:
        return {
            "arch": self.arch,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "lr": self.lr,
            "smoothing": self.smoothing,
            "seed": self.seed,
        }


def preprocessing(size: int) -> Preprocessing:
    """The benchmark networks' input preprocessing at ``size`` pixels."""
    return Preprocessing(size=size, mean=PREPROCESSING_MEAN, std=PREPROCESSING_STD)


def as_network(model: nn.Module, data: SyntheticSet) -> Network:
    """The model with its preprocessing and class names (for ``causalcam.evaluate``)."""
    return Network(model, preprocessing(data.design.size), data.design.classes)


def _batches(n: int, size: int, gen: torch.Generator) -> Iterator[Tensor]:
    order = torch.randperm(n, generator=gen)
    yield from order.split(size)


def train_network(
    data: SyntheticSet, settings: TrainSettings, *, progress: bool = False
) -> nn.Module:
    """Train a network on ``data`` (2-D images) with ``settings``; returns it in eval mode."""
    if data.images.ndim != 3:
        raise InputError("networks train on 2-D images (n, H, W)")
    torch.manual_seed(settings.seed)
    model = build_network(settings.arch, len(data.design.classes))
    prep = preprocessing(data.design.size)
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.lr)
    steps = settings.epochs * -(-len(data) // settings.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, settings.lr, total_steps=steps)
    gen = torch.Generator().manual_seed(settings.seed)
    model.train()
    with tqdm(total=steps, desc=f"train seed {settings.seed}", disable=not progress) as bar:
        for _ in range(settings.epochs):
            for index in _batches(len(data), settings.batch_size, gen):
                inputs = to_model_input(data.images[index], prep)
                loss = F.cross_entropy(
                    model(inputs), data.labels[index], label_smoothing=settings.smoothing
                )
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                schedule.step()
                bar.update(1)
    return model.eval()


def predict(model: nn.Module, data: SyntheticSet, batch_size: int = 256) -> Tensor:
    """Softmax probabilities (n, classes) of ``model`` on ``data``."""
    prep = preprocessing(data.design.size)
    parts = []
    with eval_mode(model), torch.inference_mode():
        for start in range(0, len(data), batch_size):
            inputs = to_model_input(data.images[start : start + batch_size], prep)
            parts.append(model(inputs).softmax(dim=1))
    return torch.cat(parts)


@dataclass(frozen=True)
class Reliance(JsonForm):
    """What a network uses, by intervention on its test images: accuracy per intervention
    (``causalcam.synthetic.INTERVENTIONS``: clean, cause alone = context removed, context
    alone, context swapped) and the mean confidence (top softmax probability) on clean ones."""

    accuracy: dict[str, float]
    confidence: float


def reliance(model: nn.Module, test: SyntheticSet) -> Reliance:
    """Accuracy of ``model`` on ``test`` under every intervention, and its mean confidence."""
    accuracy = {}
    confidence = 0.0
    for kind in INTERVENTIONS:
        changed = intervene(test, kind)
        probabilities = predict(model, changed)
        accuracy[kind] = (probabilities.argmax(1) == changed.labels).float().mean().item()
        if kind == "clean":
            confidence = probabilities.amax(1).mean().item()
    return Reliance(accuracy, confidence)
