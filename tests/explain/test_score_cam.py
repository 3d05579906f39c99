"""Score-CAM equals grad-cam 1.5.7's to 1e-4 (its masks: ``align_corners=True`` upsampling,
min-max with 1e-8; softmax of the masked scores), with predicted and explicit targets; the
masked forward passes are batched across channels and images, the batch size changes no
value."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import pytorch_grad_cam as gc
import torch
import torchvision
from explain_helpers import tiny_cnn
from pytorch_grad_cam.utils import model_targets as mt
from torch import Tensor, nn

import causalcam
from causalcam.explain import Explainer
from causalcam.explain.score_cam import channel_masks


@functools.cache
def resnet() -> nn.Module:
    torch.manual_seed(0)
    net = torchvision.models.resnet18(weights=None, num_classes=4).train()
    with torch.no_grad():
        for _ in range(3):
            net(torch.randn(8, 3, 32, 32))
    return net.eval()


def inputs(batch: int, size: int, dtype: torch.dtype = torch.float32) -> Tensor:
    generator = torch.Generator().manual_seed(3)
    return torch.randn(batch, 3, size, size, generator=generator, dtype=dtype)


def test_masks_are_grad_cams() -> None:
    maps = torch.rand(5, 3, 4, generator=torch.Generator().manual_seed(0))
    upsampled = torch.nn.UpsamplingBilinear2d(size=(12, 16))(maps[:, None])
    low = upsampled.flatten(1).amin(1).view(-1, 1, 1, 1)
    high = upsampled.flatten(1).amax(1).view(-1, 1, 1, 1)
    expected = (upsampled - low) / (high - low + 1e-8)
    torch.testing.assert_close(channel_masks(maps, (12, 16)), expected, atol=1e-7, rtol=0)


@pytest.mark.parametrize(
    "targets", [None, [mt.ClassifierOutputTarget(0), mt.ClassifierOutputSoftmaxTarget(1)]]
)
def test_matches_grad_cam_on_a_small_cnn(targets: list[object] | None) -> None:
    net, x = tiny_cnn().double(), inputs(2, 24, torch.float64)
    with gc.ScoreCAM(model=net, target_layers=[net.features[3]]) as cam:
        expected = cam(input_tensor=x, targets=targets)
    with causalcam.ScoreCAM(model=net, target_layers=[net.features[3]], batch_size=5) as cam:
        got = cam(input_tensor=x, targets=targets)
    assert got.shape == expected.shape == (2, 24, 24)
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)


def test_matches_grad_cam_on_resnet18_layer4() -> None:
    net, x = resnet(), inputs(1, 32)
    with gc.ScoreCAM(model=net, target_layers=[net.layer4]) as cam:
        expected = cam(input_tensor=x, targets=None)
    explainer = Explainer(net, chunk_size=128)
    result = explainer.explain(x, methods=("scorecam", "gradcam"), return_raw=True)
    np.testing.assert_allclose(result.maps["scorecam"].numpy(), expected, atol=1e-4, rtol=0)
    assert result.weights is not None
    weights = result.weights["scorecam"]
    assert weights.shape == (1, 512)
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(1), atol=1e-5, rtol=0)


def test_batch_size_changes_nothing() -> None:
    net, x = tiny_cnn(), inputs(3, 16)
    one = Explainer(net, chunk_size=64).explain(x, methods=("scorecam",)).maps["scorecam"]
    many = Explainer(net, chunk_size=2).explain(x, methods=("scorecam",)).maps["scorecam"]
    torch.testing.assert_close(one, many, atol=1e-6, rtol=0)
