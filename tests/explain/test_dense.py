"""Dense outputs (segmentation networks; docs/method.md, "Dense outputs"): grad-cam's
``SemanticSegmentationTarget`` and any callable over a dense output; Grad-CAM and
Grad-CAM++ equal grad-cam 1.5.7's on torchvision's segmentation networks; contrast and
causal maps of a region equal the slow way (one backward pass per mask-weighted per-pixel
loss); bad masks and targets are refused clearly."""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from explain_helpers import slow_gradients, unshrunk
from monai.networks.nets import UNet
from pytorch_grad_cam import GradCAM as PackageGradCAM
from pytorch_grad_cam import GradCAMElementWise as PackageGradCAMElementWise
from pytorch_grad_cam import GradCAMPlusPlus as PackageGradCAMPlusPlus
from pytorch_grad_cam import HiResCAM as PackageHiResCAM
from pytorch_grad_cam import LayerCAM as PackageLayerCAM
from pytorch_grad_cam import XGradCAM as PackageXGradCAM
from pytorch_grad_cam.utils.model_targets import (
    SemanticSegmentationTarget as PackageSegmentationTarget,
)
from test_equivalence import TARGETS, slow_causal
from torch import Tensor, nn
from volume_helpers import assert_raw_close, package_maps, random_volumes

import causalcam
from causalcam.errors import InputError
from causalcam.explain import CausalOptions, Explainer

Target = causalcam.SemanticSegmentationTarget


class TinySegmenter(nn.Module):
    """conv-relu-conv(stride 2)-relu (target ``features.3``), a 1x1 classifier, bilinear
    upsampling back to the input; returns a dict, as torchvision's segmentation models do."""

    def __init__(self, num_classes: int = 4) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(8, 16, 3, stride=2, padding=1),
            nn.ReLU(),
        )
        self.classifier = nn.Conv2d(16, num_classes, 1)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        out = self.classifier(self.features(x))
        return {"out": F.interpolate(out, size=x.shape[-2:], mode="bilinear")}


class OutWrapper(nn.Module):
    """grad-cam's tutorial wrapper (``SegmentationModelOutputWrapper``): the ``out`` tensor."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)["out"]


def tiny_segmenter(num_classes: int = 4, seed: int = 0) -> TinySegmenter:
    torch.manual_seed(seed)
    return TinySegmenter(num_classes).eval().double()


def smooth_inputs(batch: int, size: int, seed: int = 1) -> Tensor:
    """Random images with structure at 1/8 of their size (float64): segmentation networks
    predict several classes on them."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.randn(batch, 3, size // 8, size // 8, generator=generator, dtype=torch.float64)
    return 2 * F.interpolate(coarse, size=(size, size), mode="bilinear")


def calibrated(name: str, size: int) -> nn.Module:
    """torchvision segmentation network ``name`` (weights=None, weights_backbone=None) with
    batch-norm statistics of a few train-mode forwards (untrained statistics leave maps near
    1e-13), in float64."""
    torch.manual_seed(0)
    net = getattr(torchvision.models.segmentation, name)(weights=None, weights_backbone=None)
    for module in net.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None  # a cumulative average of the calibration batches
    net.train()
    with torch.no_grad():
        for seed in range(3):
            net(smooth_inputs(4, size, seed=10 + seed).float())
    return net.eval().double()


def dense_output(net: nn.Module, x: Tensor) -> Tensor:
    """The model's dense output, from a tensor or torchvision's ``{"out": ...}``."""
    with torch.no_grad():
        out = net(x)
    return out["out"] if isinstance(out, dict) else out


def region_targets(
    net: nn.Module, x: Tensor
) -> tuple[list[causalcam.SemanticSegmentationTarget], list[object], Tensor]:
    """Ours and grad-cam's targets for the same regions, and their masks: image 0 the pixels
    predicted as its most frequent class (grad-cam's tutorial), image 1 a box (on the last
    two axes) scored for another class."""
    out = dense_output(net, x)
    predicted = out.argmax(1)
    first = int(predicted[0].flatten().mode().values)
    height, width = x.shape[-2:]
    box = torch.zeros(x.shape[2:], dtype=x.dtype)
    box[..., height // 4 : height // 2, width // 3 :] = 1
    masks = torch.stack([(predicted[0] == first).to(x.dtype), box])
    categories = [first, (first + 1) % out.shape[1]]
    pairs = list(zip(categories, masks.numpy(), strict=True))
    ours = [Target(c, m) for c, m in pairs]
    theirs = [PackageSegmentationTarget(c, m) for c, m in pairs]
    return ours, theirs, masks


PAIRS = [
    (causalcam.GradCAM, PackageGradCAM, "gradcam"),
    (causalcam.GradCAMPlusPlus, PackageGradCAMPlusPlus, "gradcam++"),
]


def check_package_parity(name: str, layer: str, size: int) -> None:
    """Both adapters and the explainer, with our targets and grad-cam's, on the model as it
    is (dict output), against grad-cam on its tutorial's wrapper: 1e-5 after dividing out
    grad-cam's ``max + 1e-7`` shrink (docs/method.md, "Degenerate maps")."""
    net = calibrated(name, size)
    x = smooth_inputs(2, size)
    ours, theirs, _ = region_targets(net, x)
    module = net.get_submodule(layer)
    result = Explainer(net, target_layer=layer).explain(
        x, methods=("gradcam", "gradcam++"), targets=ours, return_raw=True
    )
    assert result.raw is not None and result.predicted.shape == (2, size, size)
    for adapter, package, method in PAIRS:
        with package(model=OutWrapper(net), target_layers=[module]) as cam:
            expected = unshrunk(cam(input_tensor=x, targets=theirs))
        assert float(result.raw[method].amax(dim=(1, 2)).min()) > 1e-6, "a map is empty"
        with adapter(model=net, target_layers=[module]) as cam:
            for targets in (ours, theirs):
                got = cam(input_tensor=x, targets=targets)
                np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0, err_msg=method)
        np.testing.assert_allclose(result.maps[method].numpy(), expected, atol=1e-5, rtol=0)


def test_deeplab_mobilenet_matches_grad_cam() -> None:
    check_package_parity("deeplabv3_mobilenet_v3_large", "backbone.16", 96)


@pytest.mark.slow
def test_fcn_resnet50_matches_grad_cam() -> None:
    check_package_parity("fcn_resnet50", "backbone.layer4", 64)


FAMILY = [
    (causalcam.GradCAM, PackageGradCAM),
    (causalcam.GradCAMPlusPlus, PackageGradCAMPlusPlus),
    (causalcam.HiResCAM, PackageHiResCAM),
    (causalcam.XGradCAM, PackageXGradCAM),
    (causalcam.LayerCAM, PackageLayerCAM),
    (causalcam.GradCAMElementWise, PackageGradCAMElementWise),
]


@pytest.mark.parametrize(("ours", "theirs"), FAMILY)
def test_any_callable_over_a_dense_output(ours: type, theirs: type) -> None:
    """A nonlinear target of the user's (the softmax probability of class 1 summed over a
    box) is exact: the CAM family equals grad-cam's on it."""
    net, x = tiny_segmenter(), smooth_inputs(3, 24)

    def target(output: Tensor) -> Tensor:
        return torch.softmax(output, dim=0)[1, 4:16, 6:20].sum()

    layers = [net.features[3]]
    with theirs(model=OutWrapper(net), target_layers=layers) as cam:
        expected = unshrunk(cam(input_tensor=x, targets=[target] * 3))
    with ours(model=net, target_layers=layers) as cam:
        got = cam(input_tensor=x, targets=[target] * 3)
    assert expected.max() > 0.5
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)


#: the per-pixel losses of docs/method.md, "Dense outputs", over the class axis (1)
PIXEL_LOSSES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "mse": lambda z, t: F.mse_loss(z, t, reduction="none").mean(1),
    "bce": lambda z, t: F.binary_cross_entropy_with_logits(z, t, reduction="none").mean(1),
    "mse_prob": lambda z, t: F.mse_loss(torch.softmax(z, 1), t, reduction="none").mean(1),
}


def slow_region_weights(
    net: nn.Module, layer: nn.Module, x: Tensor, masks: Tensor, classes: tuple[Tensor, Tensor]
) -> dict[str, Tensor]:
    """Channel weights of every map from one backward pass per loss ``sum_s m(s) L(z_s, t)``
    (``net`` returns the dense output; ``classes``: P and Q)."""
    p, q = classes
    n = net(x[:1]).shape[1]
    spatial = x.shape[2:]

    def dense(t: Tensor) -> Tensor:
        return t.view(*t.shape, *(1,) * len(spatial)).expand(-1, -1, *spatial)

    def dense_index(c: Tensor) -> Tensor:
        return c.view(-1, *(1,) * len(spatial)).expand(-1, *spatial)

    e_p, e_q = (dense(F.one_hot(c, n).double()) for c in (p, q))
    losses: dict[str, Callable[[Tensor], Tensor]] = {
        "gradcam": lambda z: (z * e_p * masks[:, None]).sum(),
        "contrast_ce": lambda z: (
            F.cross_entropy(z, dense_index(q), reduction="none") * masks
        ).sum(),
        "gradcam[ce]": lambda z: (
            -(F.cross_entropy(z, dense_index(p), reduction="none") * masks).sum()
        ),
    }
    for loss, criterion in PIXEL_LOSSES.items():
        for target, (alpha, beta) in TARGETS.items():
            t = alpha * e_p + beta * e_q
            losses[f"{target}[{loss}]"] = functools.partial(
                lambda z, t, c: (c(z, t) * masks).sum(), t=t, c=criterion
            )

    _, grads, _ = slow_gradients(net, layer, x, losses)
    return {k: g.flatten(2).mean(dim=2) for k, g in grads.items()}


def check_region_maps(
    net: nn.Module,
    layer: str,
    x: Tensor,
    masks: Tensor,
    categories: list[int],
    losses: tuple[str, ...] = tuple(PIXEL_LOSSES),
) -> None:
    """P, Q and every contrast and causal weight of ``Explainer`` against the slow way, for
    each contrast loss of ``losses``; ``net`` returns the dense output as a tensor or in a
    dict."""
    outputs = net if not isinstance(net(x[:1]), dict) else OutWrapper(net)
    targets = [Target(c, m) for c, m in zip(categories, masks, strict=True)]
    variants = CausalOptions.ablation_variants()
    maps = ("contrast_pq", "contrast_none", "contrast_p", "contrast_ce", "causal")
    region = (dense_output(net, x) * masks[:, None]).flatten(2).sum(dim=2)
    p = torch.tensor(categories)
    q = region.scatter(1, p[:, None], float("-inf")).argmax(1)
    slow = slow_region_weights(outputs, net.get_submodule(layer), x, masks, (p, q))
    explainer = Explainer(net, target_layer=layer)
    for loss in losses:
        result = explainer.explain(
            x, methods=maps, targets=targets, causal=variants, contrast_loss=loss, return_raw=True
        )
        assert result.weights is not None
        assert torch.equal(result.target, p) and torch.equal(result.contrast, q)
        for target in TARGETS:
            torch.testing.assert_close(result.weights[target], slow[f"{target}[{loss}]"])
        torch.testing.assert_close(result.weights["contrast_ce"], slow["contrast_ce"])
        for variant in variants:
            expected = slow_causal(slow, variant)
            torch.testing.assert_close(result.weights[variant.name], expected, msg=variant.name)


def test_contrast_and_causal_maps_of_a_region_equal_the_slow_way() -> None:
    net, x = tiny_segmenter(), smooth_inputs(3, 24)
    generator = torch.Generator().manual_seed(2)
    masks = (torch.rand(3, 24, 24, generator=generator) > 0.6).double()
    masks[1] *= 0.5  # soft weights
    check_region_maps(net, "features.3", x, masks, [0, 2, 3])


def test_a_regions_weights_are_the_sum_of_its_parts() -> None:
    """Without normalisation every term is a mask-weighted sum over pixels, so a region's
    contrast and causal weights add over disjoint parts (P and Q fixed)."""
    net, x = tiny_segmenter(), smooth_inputs(2, 24)
    left, right = torch.zeros(24, 24, dtype=torch.float64), torch.zeros(24, 24, dtype=torch.float64)
    left[:, :12], right[:, 12:] = 1, 1
    maps = ("contrast_pq", "contrast_none", "contrast_p", "causal")
    variant = CausalOptions("bce", "none", "set")
    explainer = Explainer(net, target_layer="features.3")

    def weights(mask: Tensor) -> dict[str, Tensor]:
        targets = [causalcam.SemanticSegmentationTarget(1, mask)] * 2
        result = explainer.explain(
            x, methods=maps, targets=targets, contrast_class=3, causal=variant, return_raw=True
        )
        assert result.weights is not None
        return result.weights

    whole, parts = weights(left + right), [weights(left), weights(right)]
    for name in maps:
        torch.testing.assert_close(whole[name], parts[0][name] + parts[1][name], msg=name)


def test_explanation_of_a_dense_output() -> None:
    net, x = tiny_segmenter(), smooth_inputs(2, 24)
    mask = np.ones((24, 24), dtype=bool)
    targets = [causalcam.SemanticSegmentationTarget(2, mask)] * 2
    result = Explainer(net, target_layer="features.3").explain(
        x, methods=("gradcam", "eigencam"), targets=targets
    )
    logits = net(x)["out"].detach()
    torch.testing.assert_close(result.logits, logits)
    assert torch.equal(result.predicted, logits.argmax(1))
    assert result.target.tolist() == [2, 2]
    assert result.maps["gradcam"].shape == (2, 24, 24)
    lambda_result = Explainer(net, target_layer="features.3").explain(
        x, methods=("gradcam",), targets=[lambda out: out[2].sum()] * 2
    )
    assert lambda_result.target.tolist() == [-1, -1] == lambda_result.contrast.tolist()
    torch.testing.assert_close(lambda_result.maps["gradcam"], result.maps["gradcam"])


WRONG_SHAPE = r"mask has shape \(12, 12\).*must have shape \(24, 24\)"


def test_a_mask_of_the_wrong_shape_names_the_expected_one() -> None:
    net, x = tiny_segmenter(), smooth_inputs(1, 24)
    for target in (
        causalcam.SemanticSegmentationTarget(1, np.ones((12, 12), dtype=np.float32)),
        PackageSegmentationTarget(1, np.ones((12, 12), dtype=np.float32)),
    ):
        for methods in (("gradcam",), ("causal",)):
            with pytest.raises(InputError, match=WRONG_SHAPE):
                Explainer(net, target_layer="features.3").explain(
                    x, methods=methods, targets=[target]
                )


@pytest.mark.parametrize(
    ("targets", "methods", "num_classes", "message"),
    [
        (None, ("gradcam",), 4, r"output is dense, \(1, 4, 24, 24\).*SemanticSegmentationTarget"),
        ([lambda out: out[1].sum()], ("causal",), 4, "names no region"),
        ([Target(1, np.zeros((24, 24)))], ("contrast_p",), 4, "empty mask"),
        ([Target(7, np.ones((24, 24)))], ("gradcam",), 4, "out of range"),
        ([Target(0, np.ones((24, 24)))], ("causal",), 1, "N >= 2"),
    ],
)
def test_dense_outputs_refuse_clearly(
    targets: list[object] | None, methods: tuple[str, ...], num_classes: int, message: str
) -> None:
    net, x = tiny_segmenter(num_classes), smooth_inputs(1, 24)
    with pytest.raises(InputError, match=message):
        Explainer(net, target_layer="features.3").explain(x, methods=methods, targets=targets)


def test_a_classifier_output_refuses_a_segmentation_target() -> None:
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    target = causalcam.SemanticSegmentationTarget(1, np.ones((8, 8)))
    with pytest.raises(InputError, match=r"needs a dense output.*returned \(4,\)"):
        Explainer(net.double(), target_layer="1").explain(
            smooth_inputs(1, 8), methods=("gradcam",), targets=[target]
        )


#: The bottleneck of a MONAI ``UNet`` with three levels (``channels`` of length 3): the
#: deepest block, its features at 1/4 of the input's resolution.
UNET_LAYER = "model.1.submodule.1.submodule"


def test_monai_unet_on_volumes() -> None:
    """MONAI's 3-D UNet (instance norms: no statistics to calibrate) at its bottleneck:
    Grad-CAM and Grad-CAM++ of 3-D regions equal grad-cam's 3-D maps before resizing; the
    region's contrast and causal maps equal the slow way."""
    torch.manual_seed(0)
    net = UNet(3, 1, 3, channels=(8, 16, 32), strides=(2, 2), num_res_units=1).eval().double()
    x = random_volumes((2, 1, 16, 32, 32)).double()
    ours, theirs, masks = region_targets(net, x)
    result = Explainer(net, target_layer=UNET_LAYER).explain(
        x, methods=tuple(method for _, _, method in PAIRS), targets=ours, return_raw=True
    )
    assert result.raw is not None and result.predicted.shape == (2, 16, 32, 32)
    for _, package, method in PAIRS:
        assert result.maps[method].shape == (2, 16, 32, 32)
        raw, _ = package_maps(package, net, UNET_LAYER, x, targets=theirs)
        assert_raw_close(result.raw[method], raw)
    categories = [t.category for t in ours]
    check_region_maps(net, UNET_LAYER, x, masks, categories, losses=("mse_prob",))
