"""RISE deletion/insertion AUC against torchcam's DeletionInsertionMetric."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
import torch
from torch import nn
from torchcam.metrics import DeletionInsertionMetric

from causalcam.errors import InputError
from causalcam.evaluate import Network, RiseSettings, rise_auc, rise_baseline, rise_curves
from causalcam.evaluate.rise import rise_counts
from causalcam.preprocess import Preprocessing, to_model_input

SIZE = 12


class FixedCams:
    """A torchcam CAM extractor that returns given maps (torchcam's extractor protocol)."""

    def __init__(self, model: nn.Module, maps: torch.Tensor) -> None:
        self.model = model
        self.maps = maps

    def __call__(self, class_idx: object = None, scores: object = None, **_: object) -> list:
        return [self.maps]

    def fuse_cams(self, cams: list[torch.Tensor]) -> torch.Tensor:
        return cams[0]

    @contextmanager
    def _hooks_off(self) -> Iterator[None]:
        yield


def small_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(6, 4, 3, stride=2),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 3),
    ).eval()


def scans_and_maps(count: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (count, SIZE, SIZE), dtype=torch.uint8, generator=generator)
    maps = torch.rand(count, SIZE, SIZE, generator=generator)
    maps[0, :4] = 0.5  # ties: ranked in raster order by both implementations
    return images, maps


@pytest.mark.parametrize(("baseline", "steps"), [("black", 7), ("blur", 20), ("mean", 72)])
def test_agrees_with_torchcam(baseline: str, steps: int) -> None:
    model = small_cnn()
    network = Network(model, Preprocessing(size=SIZE))
    images, maps = scans_and_maps(3)
    base = rise_baseline(images, baseline, network)
    ours = rise_auc(
        network,
        images,
        maps,
        settings=RiseSettings(
            steps=steps,
            deletion_baseline=baseline,
            insertion_baseline=baseline,
            batch_size=13,
            progress=False,
        ),
    )
    inputs = to_model_input(images, network.preprocessing)
    per_image = []
    for index in range(len(images)):
        metric = DeletionInsertionMetric(
            FixedCams(model, maps[index : index + 1]),
            functools.partial(torch.softmax, dim=-1),
            steps=steps,
            baseline=base[index : index + 1],
        )
        metric.update(inputs[index : index + 1])
        per_image.append(metric.summary())
    np.testing.assert_allclose(ours.deletion_auc, [s["deletion_auc"] for s in per_image], atol=1e-6)
    np.testing.assert_allclose(
        ours.insertion_auc, [s["insertion_auc"] for s in per_image], atol=1e-6
    )
    batch = DeletionInsertionMetric(
        FixedCams(model, maps), functools.partial(torch.softmax, dim=-1), steps=steps, baseline=base
    )
    batch.update(inputs)
    for key, value in batch.summary().items():
        assert ours.summary()[key] == pytest.approx(value, abs=1e-6)


class ConstantModel(nn.Module):
    """Softmax (0.25, 0.75) whatever the input."""

    def __init__(self) -> None:
        super().__init__()
        self.logits = nn.Parameter(torch.tensor([0.0, float(np.log(3.0))]))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.logits.expand(inputs.shape[0], 2)


def test_constant_model_and_curve_endpoints() -> None:
    images, maps = scans_and_maps(3)
    result = rise_auc(ConstantModel(), images, maps, settings=RiseSettings(steps=4, progress=False))
    np.testing.assert_allclose(result.fractions, [0, 36 / 144, 72 / 144, 108 / 144, 1])
    np.testing.assert_allclose(result.deletion_auc, 0.75, atol=1e-6)
    np.testing.assert_allclose(result.insertion_auc, 0.75, atol=1e-6)


def test_deletion_of_the_deciding_pixel() -> None:
    """A model deciding on one pixel: deleting it first flips the class at the first step."""

    class OnePixel(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = nn.Parameter(torch.tensor(20.0))

        def forward(self, inputs: torch.Tensor) -> torch.Tensor:
            value = inputs[:, 0, 0, 0]
            return torch.stack([-self.scale * value, self.scale * value], dim=1)

    identity = Preprocessing(size=SIZE, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
    images = torch.full((1, SIZE, SIZE), 255, dtype=torch.uint8)
    maps = torch.zeros(1, SIZE, SIZE)
    maps[0, 0, 0] = 1.0
    result = rise_curves(
        OnePixel(),
        to_model_input(images, identity),
        maps,
        deletion_baseline=torch.zeros(1, 3, SIZE, SIZE),
        insertion_baseline=torch.zeros(1, 3, SIZE, SIZE),
        settings=RiseSettings(steps=4, progress=False),
    )
    high = float(torch.sigmoid(torch.tensor(40.0)))
    np.testing.assert_allclose(result.deletion[0], [high, 0.5, 0.5, 0.5, 0.5], atol=1e-6)
    np.testing.assert_allclose(result.insertion[0], [0.5, high, high, high, high], atol=1e-6)


QUIET = RiseSettings(progress=False)


def test_bad_settings() -> None:
    images, maps = scans_and_maps(2)
    with pytest.raises(InputError, match="steps"):
        rise_counts(144, 0)
    with pytest.raises(InputError, match="baseline"):
        rise_auc(
            small_cnn(),
            images,
            maps,
            settings=RiseSettings(deletion_baseline="grey", progress=False),
        )
    with pytest.raises(InputError, match="NaN"):
        rise_auc(small_cnn(), images, maps * float("nan"), settings=QUIET)
    with pytest.raises(InputError, match="shape"):
        rise_auc(small_cnn(), images, maps[:, :5], settings=QUIET)
