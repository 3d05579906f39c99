"""pytorch-grad-cam's gradient family from the one pass: HiResCAM, GradCAMElementWise,
XGradCAM, LayerCAM, EigenCAM and EigenGradCAM equal grad-cam 1.5.7's to 1e-5 in float64 with
targets, ``reshape_transform``, ``eigen_smooth`` and ``aug_smooth`` (ResNet-18 here, every
family of ``test_families`` with ``-m slow``); FinerCAM equals grad-cam's with its own call
shape; RandomCAM is seeded, in range and shaped like the others."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import pytorch_grad_cam as gc
import torch
import torchvision
from explain_helpers import unshrunk
from pytorch_grad_cam.utils import model_targets as mt
from test_families import FAMILIES, MIN_SIDE
from test_families import inputs as family_inputs
from test_families import model as family_model
from test_transformers import Logits, vit_tokens_to_grid
from test_transformers import model as transformer
from torch import Tensor, nn

import causalcam
from causalcam.explain import Explainer

#: causalcam adapter -> grad-cam class, and whether grad-cam's map reads eigen_smooth.
#: The sign of a principal component is arbitrary: LAPACK's, which for the centred terms
#: of a layer with fewer pixels than channels (rank-deficient) follows rounding noise; the
#: eigen maps equal grad-cam's where both round alike: in the contiguous layout.
FAMILY: dict[str, tuple[type, type, bool]] = {
    "hirescam": (causalcam.HiResCAM, gc.HiResCAM, True),
    "gradcam_elementwise": (causalcam.GradCAMElementWise, gc.GradCAMElementWise, True),
    "xgradcam": (causalcam.XGradCAM, gc.XGradCAM, True),
    "layercam": (causalcam.LayerCAM, gc.LayerCAM, True),
    "eigencam": (causalcam.EigenCAM, gc.EigenCAM, False),
    "eigengradcam": (causalcam.EigenGradCAM, gc.EigenGradCAM, False),
}


@functools.cache
def resnet(num_classes: int = 6) -> nn.Module:
    """ResNet-18 in float64 with realistic activation scales (batch-norm statistics from a
    few train-mode passes)."""
    torch.manual_seed(0)
    net = torchvision.models.resnet18(weights=None, num_classes=num_classes).train()
    with torch.no_grad():
        for _ in range(3):
            net(torch.randn(8, 3, 48, 48))
    return net.eval().double()


def tiny_inputs(batch: int = 2, size: tuple[int, int] = (40, 56)) -> Tensor:
    generator = torch.Generator().manual_seed(1)
    return torch.randn(batch, 3, *size, generator=generator, dtype=torch.float64)


def compare(
    ours: type,
    theirs: type,
    net: nn.Module,
    layers: list[nn.Module],
    x: Tensor,
    message: str,
    reshape: Callable[[Tensor], Tensor] | None = None,
    **call: Any,
) -> None:
    with theirs(model=net, target_layers=layers, reshape_transform=reshape) as cam:
        expected = cam(input_tensor=x, **call)
    projected = call.get("eigen_smooth") or ours in (causalcam.EigenCAM, causalcam.EigenGradCAM)
    options = {"channels_last": False} if projected else {}
    with ours(model=net, target_layers=layers, reshape_transform=reshape, **options) as cam:
        got = cam(input_tensor=x, **call)
    assert got.dtype == np.float32 and got.shape == expected.shape == (len(x), *x.shape[-2:])
    if not call.get("aug_smooth"):  # an average of six maps need not peak at 1
        expected = unshrunk(expected)
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0, err_msg=message)


@pytest.mark.parametrize("method", list(FAMILY))
def test_method_matches_grad_cam(method: str) -> None:
    ours, theirs, smooths = FAMILY[method]
    net, x = resnet(), tiny_inputs()
    layers = [net.layer4]
    targets = [mt.ClassifierOutputTarget(c) for c in (4, 1)]
    compare(ours, theirs, net, layers, x, f"{method} predicted", targets=None)
    compare(ours, theirs, net, layers, x, f"{method} targets", targets=targets)
    softmax = [mt.ClassifierOutputSoftmaxTarget(2)] * 2
    compare(ours, theirs, net, layers, x, f"{method} softmax target", targets=softmax)
    if smooths:
        compare(ours, theirs, net, layers, x, f"{method} eigen", targets=None, eigen_smooth=True)
    compare(ours, theirs, net, layers, x, f"{method} aug", targets=targets, aug_smooth=True)
    vit = Logits(transformer("hf_vit")).double()
    layer = [vit.model.get_submodule("vit.layers.1.layernorm_before")]
    vx = tiny_inputs(2, (64, 64))
    compare(ours, theirs, vit, layer, vx, f"{method} vit", vit_tokens_to_grid, targets=None)


def test_whole_family_in_one_call_equals_separate_calls() -> None:
    net, x = resnet(), tiny_inputs()
    names = (*FAMILY, "gradcam", "gradcam++", "causal", "finercam", "randomcam")
    explainer = Explainer(net)
    together = explainer.explain(x, methods=names, return_raw=True)
    for name in names:
        alone = explainer.explain(x, methods=(name,))
        torch.testing.assert_close(together.maps[name], alone.maps[name], atol=1e-12, rtol=0)
    assert together.weights is not None and together.raw is not None
    assert "xgradcam" in together.weights and "hirescam" not in together.weights
    assert set(together.raw) >= set(names)


FINER_CALLS: list[dict[str, Any]] = [
    {},
    {"alpha": 0.6, "comparison_categories": [1, 2]},
    {"alpha": 1.3, "target_idx": 3, "comparison_categories": [2, 4, 9]},
    {"targets": [mt.FinerWeightedTarget(2, [5, 0], 0.8)] * 2},
]


def test_finer_cam_matches_grad_cam() -> None:
    net, x = resnet(), tiny_inputs()
    for call in FINER_CALLS:
        with gc.FinerCAM(model=net, target_layers=[net.layer4]) as cam:
            expected = cam(input_tensor=x, **call)
        with causalcam.FinerCAM(model=net, target_layers=[net.layer4]) as cam:
            got = cam(input_tensor=x, **call)
        np.testing.assert_allclose(got, unshrunk(expected), atol=1e-5, rtol=0, err_msg=str(call))


def test_finer_cam_is_not_grad_cam_and_refuses_one_logit() -> None:
    net, x = resnet(), tiny_inputs()
    result = Explainer(net).explain(x, methods=("gradcam", "finercam"))
    assert float((result.maps["gradcam"] - result.maps["finercam"]).abs().max()) > 1e-3
    binary = torchvision.models.resnet18(weights=None, num_classes=1).eval()
    with pytest.raises(causalcam.errors.InputError, match="finercam"):
        Explainer(binary).explain(tiny_inputs().float(), methods=("finercam",))


def test_random_cam_is_seeded_in_range_and_shaped() -> None:
    net, x = resnet(), tiny_inputs(3)
    with causalcam.RandomCAM(model=net, target_layers=[net.layer4], seed=5) as cam:
        first, again = cam(input_tensor=x), cam(input_tensor=x)
    with causalcam.RandomCAM(model=net, target_layers=[net.layer4], seed=6) as cam:
        other = cam(input_tensor=x)
    with gc.RandomCAM(model=net, target_layers=[net.layer4]) as cam:
        theirs = cam(input_tensor=x, targets=None)
    assert first.shape == theirs.shape == (3, 40, 56) and first.dtype == theirs.dtype
    assert first.min() >= 0 and first.max() <= 1 and theirs.min() >= 0 and theirs.max() <= 1
    np.testing.assert_array_equal(first, again)
    assert np.abs(first - other).max() > 1e-2
    chunked = Explainer(net, target_layer="layer4", chunk_size=1)
    by_one = chunked.explain(x, methods=("randomcam",), seed=5).maps["randomcam"]
    np.testing.assert_allclose(by_one.numpy(), first, atol=1e-6, rtol=0)


SLOW_CASES = [(family, method) for family in FAMILIES for method in FAMILY]


@pytest.mark.slow
@pytest.mark.parametrize(("family", "method"), SLOW_CASES)
def test_family_of_models_matches_grad_cam(family: str, method: str) -> None:
    ours, theirs, _ = FAMILY[method]
    net = family_model(family, 3)
    side = MIN_SIDE.get(family, 0)
    size = (max(48, side), max(72, side))
    net, x = net.double(), family_inputs(2, 3, size).double()
    try:
        explainer = Explainer(net, target_layer=FAMILIES[family][2])
        explainer.explain(x[:1], methods=("gradcam",))
        assert explainer.layer_name is not None
        layers = [net.get_submodule(explainer.layer_name)]
        compare(ours, theirs, net, layers, x, f"{family} {method}", targets=None)
    finally:
        net.float()
