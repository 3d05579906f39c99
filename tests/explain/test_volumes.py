"""Volumes (B, C, D, H, W) of 3-D networks take the engine's one path: every one-pass map
from one forward and one batched VJP, maps (B, D, H, W); the contrast and causal maps equal
the slow way; the CAM family equals grad-cam's 3-D maps; eigen-smoothing, the degenerate-map
rule, heads, grad-cam targets, channels-last-3d, bf16, batch-norm folding and the
grad-cam-style adapters work as in 2-D; a volume given to a 2-D network (and an image to a
3-D one) is refused naming the first convolution."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import pytorch_grad_cam as pgc
import torch
from explain_helpers import slow_gradients, tiny_cnn
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from test_equivalence import slow_causal, slow_losses
from torch import Tensor, nn
from volume_helpers import assert_raw_close, package_maps, random_volumes, tiny_cnn3d

import causalcam
import causalcam.explain.engine as engine
from causalcam import precision
from causalcam.errors import InputError
from causalcam.explain import CausalOptions, Explainer
from causalcam.method_names import ONE_PASS_METHODS, SCORECAM

SHAPE = (2, 1, 8, 16, 16)
LAYER = "features.5"  # (4, 8, 8) voxels at SHAPE


@functools.cache
def network(double: bool = True, num_classes: int = 3) -> nn.Module:
    model = tiny_cnn3d(num_classes=num_classes)
    return model.double() if double else model


def volumes(double: bool = True) -> Tensor:
    x = random_volumes(SHAPE)
    return x.double() if double else x


def test_every_one_pass_map_from_one_forward_and_one_vjp(monkeypatch: pytest.MonkeyPatch) -> None:
    model, x = network(), volumes()
    forwards: list[int] = []
    handle = model.register_forward_hook(lambda *_: forwards.append(1))
    vjps: list[tuple[int, ...]] = []
    real = torch.autograd.grad

    def spy(*args: object, **kwargs: object) -> object:
        if isinstance(kwargs.get("grad_outputs"), Tensor):
            vjps.append(tuple(kwargs["grad_outputs"].shape))  # type: ignore[union-attr]
        return real(*args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(engine.torch.autograd, "grad", spy)
    try:
        result = Explainer(model, target_layer=LAYER).explain(
            x, methods=ONE_PASS_METHODS, return_raw=True
        )
    finally:
        handle.remove()
    assert len(forwards) == 1 and len(vjps) == 1 and vjps[0][1:] == (2, 3)
    assert result.raw is not None
    for name, maps in result.maps.items():
        assert maps.shape == (2, 8, 16, 16), name
        assert result.raw[name].shape == (2, 4, 8, 8), name
        assert float(maps.min()) >= 0 and float(maps.max()) == pytest.approx(1.0), name


def test_automatic_layer_and_score_cam_on_volumes() -> None:
    result = Explainer(network()).explain(volumes(), methods=("gradcam", SCORECAM))
    assert result.layer == LAYER  # the last module with a 5-D output of more than one voxel
    assert result.maps[SCORECAM].shape == (2, 8, 16, 16)
    assert float(result.maps[SCORECAM].amax()) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "variant", [CausalOptions(), CausalOptions.literal(), CausalOptions("bce", "l2", "set", "ce")]
)
def test_contrast_and_causal_weights_equal_the_slow_way(variant: CausalOptions) -> None:
    model, x = network(), volumes()
    ours = Explainer(model, target_layer=LAYER).explain(
        x, methods=("gradcam", "causal", "contrast_ce"), causal=variant, return_raw=True
    )
    assert ours.weights is not None
    losses = slow_losses(ours.target, ours.contrast, 3)
    _, grads, _ = slow_gradients(model, model.get_submodule(LAYER), x, losses)
    slow = {k: g.mean(dim=(2, 3, 4)) for k, g in grads.items()}
    torch.testing.assert_close(ours.weights["gradcam"], slow["gradcam"])
    torch.testing.assert_close(ours.weights["causal"], slow_causal(slow, variant))
    torch.testing.assert_close(ours.weights["contrast_ce"], slow["contrast_ce"])


FAMILY = {
    "hirescam": pgc.HiResCAM,
    "gradcam_elementwise": pgc.GradCAMElementWise,
    "xgradcam": pgc.XGradCAM,
    "layercam": pgc.LayerCAM,
    "eigencam": pgc.EigenCAM,
    "eigengradcam": pgc.EigenGradCAM,
}


@pytest.mark.parametrize("method", [*FAMILY, "gradcam-eigen"])
def test_cam_family_equals_grad_cam_on_volumes(method: str) -> None:
    model, x = network(), volumes()
    eigen = method == "gradcam-eigen"
    name = "gradcam" if eigen else method
    explainer = Explainer(model, target_layer=LAYER, channels_last=False)
    ours = explainer.explain(
        x, methods=(name,), target_class=1, eigen_smooth=eigen, return_raw=True
    )
    assert ours.raw is not None
    targets = [ClassifierOutputTarget(1)] * len(x)
    package = pgc.GradCAM if eigen else FAMILY[method]
    expected, _ = package_maps(package, model, LAYER, x, targets=targets, eigen_smooth=eigen)
    assert_raw_close(ours.raw[name], expected)


def test_degenerate_maps_are_zeros_and_the_rule_is_scale_invariant() -> None:
    model, x = network(), volumes()
    flat = Explainer(model, target_layer="pool").explain(x, methods=("gradcam", "causal"))
    assert all(float(m.abs().max()) == 0 for m in flat.maps.values())  # one voxel: no map
    scaled = tiny_cnn3d().double()
    with torch.no_grad():
        scaled.fc.weight.mul_(1e-12)
        scaled.fc.bias.mul_(1e-12)
    small = Explainer(scaled, target_layer=LAYER).explain(x, methods=("gradcam",))
    reference = Explainer(model, target_layer=LAYER).explain(x, methods=("gradcam",))
    torch.testing.assert_close(small.maps["gradcam"], reference.maps["gradcam"], atol=1e-6, rtol=0)


def test_heads_and_grad_cam_targets_on_volumes() -> None:
    x = volumes()
    binary = Explainer(network(num_classes=1), target_layer=LAYER).explain(x, head="binary")
    assert binary.maps["causal"].shape == (2, 8, 16, 16)
    model = network()
    by_class = Explainer(model, target_layer=LAYER).explain(x, methods=("gradcam",), target_class=2)
    by_target = Explainer(model, target_layer=LAYER).explain(
        x, methods=("gradcam",), targets=[causalcam.ClassifierOutputTarget(2)] * 2
    )
    torch.testing.assert_close(by_class.maps["gradcam"], by_target.maps["gradcam"])
    multi = Explainer(model, target_layer=LAYER).explain(x, head="multilabel")
    assert multi.maps["causal"].shape == (2, 8, 16, 16)


def test_channels_last_3d_and_folding_give_the_same_maps() -> None:
    model, x = network(double=False), volumes(double=False)
    layouts: list[bool] = []
    first = model.features[0]
    handle = model.features[3].register_forward_pre_hook(
        lambda m, _a: layouts.append(m.weight.is_contiguous(memory_format=torch.channels_last_3d))
    )
    weight = first.weight
    try:
        plain = Explainer(model, target_layer=LAYER, channels_last=False).explain(x)
        fast = Explainer(model, target_layer=LAYER, channels_last=True).explain(x)
        folded = Explainer(model, target_layer=LAYER, fold_batchnorm=True)
        folded_maps = folded.explain(x)
    finally:
        handle.remove()
    assert layouts[:2] == [False, True]
    assert first.weight is weight and weight.is_contiguous()
    assert not any(isinstance(m, nn.BatchNorm3d) for m in folded.explained_model.modules())
    for name in plain.maps:
        torch.testing.assert_close(fast.maps[name], plain.maps[name], atol=5e-5, rtol=0)
        torch.testing.assert_close(folded_maps.maps[name], plain.maps[name], atol=1e-3, rtol=0)


def test_bf16_volumes_run_the_forward_in_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(precision, "_cpu_flags", lambda: frozenset({"avx512_bf16"}))
    model, x = network(double=False), volumes(double=False)
    seen: list[torch.dtype] = []
    handle = model.features[3].register_forward_pre_hook(lambda _m, a: seen.append(a[0].dtype))
    try:
        got = Explainer(model, target_layer=LAYER, precision="bf16").explain(x)
    finally:
        handle.remove()
    reference = Explainer(model, target_layer=LAYER).explain(x)
    assert seen == [torch.bfloat16]
    for name, maps in got.maps.items():
        a, b = maps.flatten(1).double(), reference.maps[name].flatten(1).double()
        assert float(torch.corrcoef(torch.stack([a[0], b[0]]))[0, 1]) > 0.95, name


def test_grad_cam_style_adapters_take_volumes() -> None:
    model, x = network(), volumes()
    explainer = Explainer(model, target_layer=LAYER)
    reference = explainer.explain(x, methods=("gradcam", "causal"))
    layer = model.get_submodule(LAYER)
    with causalcam.GradCAM(model=model, target_layers=[layer]) as cam:
        got = cam(input_tensor=x, targets=None)
        smoothed = cam(input_tensor=x, targets=None, aug_smooth=True)
    assert got.shape == smoothed.shape == (2, 8, 16, 16) and got.dtype == np.float32
    np.testing.assert_allclose(got, reference.maps["gradcam"].float().numpy(), atol=1e-6)
    with causalcam.CausalCAM(model=model, target_layers=[layer]) as cam:
        causal = cam(input_tensor=x)
    np.testing.assert_allclose(causal, reference.maps["causal"].float().numpy(), atol=1e-6)
    two = [model.get_submodule("features.2"), layer]
    with causalcam.GradCAM(model=model, target_layers=two) as cam:
        assert cam(input_tensor=x).shape == (2, 8, 16, 16)


@pytest.mark.parametrize(
    ("model", "x", "match"),
    [
        (
            network(double=False),
            torch.randn(2, 1, 16, 16),
            r"first convolution 'features.0' is a Conv3d: it expects a volume batch "
            r"\(B, C, D, H, W\), got 4-D \(2, 1, 16, 16\)",
        ),
        (
            tiny_cnn(),
            torch.randn(2, 3, 4, 16, 16),
            r"first convolution 'features.0' is a Conv2d: it expects an image batch "
            r"\(B, C, H, W\), got 5-D",
        ),
        (
            network(double=False),
            torch.randn(2, 3, 8, 16, 16),
            r"3 channels but the model's first convolution 'features.0' expects 1",
        ),
        (network(double=False), torch.randn(1, 1, 2, 8, 16, 16), r"got 6-D"),
    ],
)
def test_wrong_rank_is_refused_naming_the_layer(model: nn.Module, x: Tensor, match: str) -> None:
    with pytest.raises(InputError, match=match):
        Explainer(model).explain(x)


def test_reshape_transform_must_keep_the_volume_rank() -> None:
    explainer = Explainer(network(), target_layer=LAYER, reshape_transform=lambda t: t.flatten(2))
    with pytest.raises(InputError, match=r"must return \(B, K, d, h, w\), got \(2, 16, 256\)"):
        explainer.explain(volumes())
