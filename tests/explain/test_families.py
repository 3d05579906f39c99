"""Grad-CAM and Grad-CAM++ equal grad-cam's (pytorch-grad-cam 1.5.7) to 1e-5 on every
torchvision classification family and a few timm ones, with realistic activation scales
(batch-norm statistics set by a few train-mode forward passes): the default suite runs one
non-square case per family; ``-m slow`` adds tiny and larger inputs, 1-channel inputs and two
target layers."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import timm
import torch
import torchvision
from pytorch_grad_cam import GradCAM as PackageGradCAM
from pytorch_grad_cam import GradCAMPlusPlus as PackageGradCAMPlusPlus
from torch import Tensor, nn

import causalcam
from causalcam.explain import Explainer

#: family -> (model name, source, target layer or None for causalcam's automatic choice)
FAMILIES: dict[str, tuple[str, str, str | None]] = {
    "ResNet": ("resnet18", "torchvision", None),
    "ResNeXt": ("resnext50_32x4d", "torchvision", None),
    "Wide ResNet": ("wide_resnet50_2", "torchvision", None),
    "DenseNet": ("densenet121", "torchvision", None),
    "VGG": ("vgg11", "torchvision", None),
    "MobileNet V2": ("mobilenet_v2", "torchvision", None),
    "MobileNet V3": ("mobilenet_v3_small", "torchvision", None),
    "EfficientNet": ("efficientnet_b0", "torchvision", None),
    "EfficientNet V2": ("efficientnet_v2_s", "torchvision", None),
    "RegNet": ("regnet_y_400mf", "torchvision", None),
    "ConvNeXt": ("convnext_tiny", "torchvision", None),
    "ShuffleNet": ("shufflenet_v2_x0_5", "torchvision", None),
    "SqueezeNet": ("squeezenet1_1", "torchvision", "features.12"),
    "MnasNet": ("mnasnet0_5", "torchvision", None),
    "GoogLeNet": ("googlenet", "torchvision", None),
    "Inception V3": ("inception_v3", "torchvision", None),
    "timm ResNet": ("resnet10t", "timm", None),
    "timm EfficientNet": ("efficientnet_b0", "timm", None),
    "timm ConvNeXt": ("convnext_atto", "timm", None),
    "timm RegNet": ("regnetx_002", "timm", None),
}
#: Inception V3 needs inputs of at least 75 x 75.
MIN_SIDE = {"Inception V3": 80}


def build(family: str, channels: int) -> nn.Module:
    name, source, _ = FAMILIES[family]
    torch.manual_seed(0)
    if source == "timm":
        net = timm.create_model(name, pretrained=False, num_classes=5, in_chans=channels)
    else:
        options = (
            {"aux_logits": False, "init_weights": False}
            if "goog" in name or "incep" in name
            else {}
        )
        net = torchvision.models.get_model(name, weights=None, num_classes=5, **options)
        if channels != 3:
            first_conv_to(net, channels)
    net.train()
    with torch.no_grad():
        for _ in range(2):
            net(torch.randn(4, channels, 96, 96))
    return net.eval()


def first_conv_to(net: nn.Module, channels: int) -> None:
    """Replace the first convolution by one reading ``channels`` input channels."""
    name, conv = next((n, m) for n, m in net.named_modules() if isinstance(m, nn.Conv2d))
    parent = net.get_submodule(name.rpartition(".")[0]) if "." in name else net
    new = nn.Conv2d(
        channels,
        conv.out_channels,
        conv.kernel_size,
        conv.stride,
        conv.padding,
        bias=conv.bias is not None,
    )
    setattr(parent, name.rpartition(".")[2], new)


@functools.lru_cache(maxsize=1)  # one model at a time: all of them hold several GB
def model(family: str, channels: int = 3) -> nn.Module:
    return build(family, channels)


def inputs(batch: int, channels: int, size: tuple[int, int], seed: int = 1) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, channels, *size, generator=generator)


def middle_layer(net: nn.Module, x: Tensor) -> str:
    """A convolution in the second half of the network whose Grad-CAM map is not tiny: grad-cam
    averages layers after dividing each by ``max + 1e-7``, which shrinks maps below ~1e-1 by
    more than 1e-6 and so reweights the layers (docs/method.md, "Degenerate maps")."""
    convs = [n for n, m in net.named_modules() if isinstance(m, nn.Conv2d)]
    for name in convs[len(convs) // 2 :]:
        result = Explainer(net, target_layer=name).explain(x, methods=("gradcam",), return_raw=True)
        assert result.raw is not None
        if float(result.raw["gradcam"].amax(dim=(1, 2)).min()) > 0.1:
            return name
    pytest.skip("no convolution in the second half has a Grad-CAM map above 0.1")


def check(
    family: str, size: tuple[int, int], channels: int = 3, layers: int = 1, double: bool = True
) -> None:
    """In float64 both implementations agree to 1e-5 wherever the formulas agree. In float32
    each rounds its weighted sums differently (~1e-7 relative) and min-max normalisation of a
    map that varies little around its level (2 x 3 maps of small inputs) amplifies that; the
    explainer's channels-last forward rounds differently again, so float32 maps are compared
    to 5e-4 (largest measured: 2.0e-4, MnasNet Grad-CAM++)."""
    net = model(family, channels)
    side = MIN_SIDE.get(family, 0)
    size = (max(size[0], side), max(size[1], side))
    x = inputs(2, channels, size)
    if double:
        net, x = net.double(), x.double()
    chosen = FAMILIES[family][2]
    explainer = Explainer(net, target_layer=chosen)
    explainer.explain(x[:1], methods=("gradcam",))
    assert explainer.layer_name is not None
    names = [explainer.layer_name]
    if layers == 2:
        names.insert(0, middle_layer(net, x))
    target_layers = [net.get_submodule(n) for n in names]
    for ours, theirs in [
        (causalcam.GradCAM, PackageGradCAM),
        (causalcam.GradCAMPlusPlus, PackageGradCAMPlusPlus),
    ]:
        with theirs(model=net, target_layers=target_layers) as cam:
            expected = cam(input_tensor=x, targets=None)
        with ours(model=net, target_layers=target_layers) as cam:
            got = cam(input_tensor=x, targets=None)
        assert got.shape == expected.shape == (2, *size)
        # grad-cam divides by max + 1e-7 twice: its maps peak at 1 - ~2e-7/max(raw), which
        # is visible (> 1e-5) for raw maps below ~2e-2 (small inputs); divide that out
        peak = expected.max(axis=(1, 2), keepdims=True)
        expected = np.where(peak > 0, expected / np.where(peak > 0, peak, 1), expected)
        tolerance = 1e-5 if double else 5e-4
        message = f"{family} {ours.__name__}"
        np.testing.assert_allclose(got, expected, atol=tolerance, rtol=0, err_msg=message)
    net.float()


@pytest.mark.parametrize("family", list(FAMILIES))
def test_family_matches_grad_cam(family: str) -> None:
    check(family, (48, 72))


SLOW_CASES = [(family, size) for family in FAMILIES for size in [(32, 32), (64, 40), (112, 112)]]


@pytest.mark.slow
@pytest.mark.parametrize(("family", "size"), SLOW_CASES)
def test_family_matches_grad_cam_at_more_sizes(family: str, size: tuple[int, int]) -> None:
    check(family, size)


@pytest.mark.slow
@pytest.mark.parametrize("family", list(FAMILIES))
def test_family_float32_one_channel_and_two_layers(family: str) -> None:
    check(family, (48, 72), double=False)
    check(family, (64, 48), channels=1)
    check(family, (64, 48), layers=2)
