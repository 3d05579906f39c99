"""Grad-CAM and Grad-CAM++ equal the grad-cam package (pytorch-grad-cam 1.5.7) to 1e-5, and
to 5e-5 in causalcam's default channels-last layout (its kernels sum in another order)."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from explain_helpers import random_inputs, real_scans, tiny_cnn, torchvision_model
from pytorch_grad_cam import GradCAM as PackageGradCAM
from pytorch_grad_cam import GradCAMPlusPlus as PackageGradCAMPlusPlus
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget as PackageTarget
from torch import Tensor, nn

import causalcam
from causalcam.explain import Explainer

LAYERS = {"tiny": "features.3", "resnet18": "layer4", "resnet50": "layer4"}
LAYERS["densenet121"] = "features.norm5"


@functools.cache
def model(name: str) -> nn.Module:
    return tiny_cnn() if name == "tiny" else torchvision_model(name)


def inputs(kind: str, batch: int) -> Tensor:
    return real_scans(batch) if kind == "real" else random_inputs(batch)


PAIRS = [
    (causalcam.GradCAM, PackageGradCAM, "gradcam"),
    (causalcam.GradCAMPlusPlus, PackageGradCAMPlusPlus, "gradcam++"),
]


CASES = [(name, batch, kind) for name in LAYERS for batch in (1, 5) for kind in ("real", "random")]


@pytest.mark.parametrize(("name", "batch", "kind"), CASES)
def test_matches_grad_cam_package(name: str, batch: int, kind: str) -> None:
    net, x = model(name), inputs(kind, batch)
    layer = net.get_submodule(LAYERS[name])
    with Explainer(net, channels_last=False) as explainer:
        ours = explainer.explain(x, methods=("gradcam", "gradcam++"))
    with Explainer(net) as explainer:
        fast = explainer.explain(x, methods=("gradcam", "gradcam++"))
    assert ours.layer == LAYERS[name]
    for adapter, package, method in PAIRS:
        with package(model=net, target_layers=[layer]) as cam:
            expected = cam(input_tensor=x, targets=None)
        with adapter(model=net, target_layers=[layer]) as cam:
            got = cam(input_tensor=x, targets=None)
        assert got.dtype == np.float32 and got.shape == expected.shape == (batch, 64, 64)
        np.testing.assert_allclose(got, expected, atol=5e-5, rtol=0)
        np.testing.assert_allclose(ours.maps[method].numpy(), expected, atol=1e-5, rtol=0)
        np.testing.assert_allclose(fast.maps[method].numpy(), expected, atol=5e-5, rtol=0)


@pytest.mark.parametrize("target", [0, 1])
def test_explicit_targets_match_package(target: int) -> None:
    net, x = model("resnet18"), random_inputs(3)
    layer4 = net.get_submodule("layer4")
    for adapter, package, _ in PAIRS:
        with package(model=net, target_layers=[layer4]) as cam:
            expected = cam(input_tensor=x, targets=[PackageTarget(target)] * 3)
        with adapter(model=net, target_layers=[layer4]) as cam:
            theirs_target = cam(input_tensor=x, targets=[PackageTarget(target)] * 3)
            own_target = cam(input_tensor=x, targets=[causalcam.ClassifierOutputTarget(target)] * 3)
        np.testing.assert_allclose(theirs_target, expected, atol=1e-5, rtol=0)
        np.testing.assert_allclose(own_target, theirs_target, atol=1e-6, rtol=0)


def test_two_target_layers_average_like_package() -> None:
    net, x = model("resnet18"), random_inputs(2)
    layers = [net.get_submodule("layer3"), net.get_submodule("layer4")]
    with PackageGradCAM(model=net, target_layers=layers) as cam:
        expected = cam(input_tensor=x, targets=None)
    with causalcam.GradCAM(model=net, target_layers=layers) as cam:
        got = cam(input_tensor=x, targets=None)
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
