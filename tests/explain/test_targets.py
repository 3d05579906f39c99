"""Every classifier target of grad-cam's ``model_targets`` and any callable: Grad-CAM and
Grad-CAM++ equal grad-cam's; contrast/causal maps take P from the target or refuse it;
a nonlinear target costs one VJP row; eigen_smooth and aug_smooth equal grad-cam's."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
import torchvision
from explain_helpers import random_inputs
from pytorch_grad_cam import GradCAM as PackageGradCAM
from pytorch_grad_cam import GradCAMPlusPlus as PackageGradCAMPlusPlus
from pytorch_grad_cam.utils import model_targets as mt
from test_state import Spy
from torch import Tensor, nn

import causalcam
from causalcam.errors import InputError
from causalcam.explain import Explainer

PAIRS = [
    (causalcam.GradCAM, PackageGradCAM),
    (causalcam.GradCAMPlusPlus, PackageGradCAMPlusPlus),
]


@functools.cache
def resnet(num_classes: int = 10) -> nn.Module:
    """ResNet-18 with realistic activation scales: batch-norm statistics from a few
    train-mode forward passes."""
    torch.manual_seed(0)
    net = torchvision.models.resnet18(weights=None, num_classes=num_classes).train()
    with torch.no_grad():
        for _ in range(3):
            net(torch.randn(8, 3, 48, 48))
    return net.eval()


def margin(z: Tensor) -> Tensor:
    """A user's own callable: logit 3 minus the mean logit."""
    return z[3] - z.mean()


TARGETS = {
    "ClassifierOutputTarget": lambda: [mt.ClassifierOutputTarget(c) for c in (7, 2, 7)],
    "ClassifierOutputSoftmaxTarget": lambda: [mt.ClassifierOutputSoftmaxTarget(7)] * 3,
    "ClassifierOutputReST": lambda: [mt.ClassifierOutputReST(c) for c in (1, 7, 4)],
    "FinerWeightedTarget": lambda: [mt.FinerWeightedTarget(2, [5, 6], 0.8)] * 3,
    "callable": lambda: [margin] * 3,
}


@pytest.mark.parametrize("name", list(TARGETS))
def test_targets_match_grad_cam(name: str) -> None:
    net, x = resnet(), random_inputs(3, 48)
    for ours, theirs in PAIRS:
        with theirs(model=net, target_layers=[net.layer4]) as cam:
            expected = cam(input_tensor=x, targets=TARGETS[name]())
        with ours(model=net, target_layers=[net.layer4]) as cam:
            got = cam(input_tensor=x, targets=TARGETS[name]())
        assert expected.max() > 0.99
        np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)


def test_softmax_target_is_not_the_logit_map() -> None:
    net, x = resnet(), random_inputs(3, 48)
    targets = [mt.ClassifierOutputSoftmaxTarget(7)] * 3
    softmax = Explainer(net).explain(x, methods=("gradcam",), targets=targets)
    logit = Explainer(net).explain(x, methods=("gradcam",), target_class=7)
    assert (softmax.maps["gradcam"] - logit.maps["gradcam"]).abs().max() > 0.05
    assert softmax.target.tolist() == [7, 7, 7]


def test_contrast_and_causal_maps_take_p_from_the_target() -> None:
    net, x = resnet(), random_inputs(3, 48)
    targets = [mt.ClassifierOutputTarget(c) for c in (7, 2, 7)]
    with causalcam.CausalCAM(model=net, target_layers=[net.layer4]) as cam:
        got = cam(input_tensor=x, targets=targets)
    expected = Explainer(net).explain(x, methods=("causal",), target_class=[7, 2, 7])
    np.testing.assert_allclose(got, expected.maps["causal"].numpy(), atol=1e-6, rtol=0)
    with pytest.raises(InputError, match="names no class"):
        Explainer(net).explain(x, methods=("causal",), targets=[margin] * 3)


VECTOR_TARGETS = [
    mt.RawScoresOutputTarget(),
    mt.SoftmaxOutputTarget(),
    mt.BinaryClassifierOutputTarget(1),
]


@pytest.mark.parametrize("target", VECTOR_TARGETS)
def test_vector_targets_are_refused_on_multiclass_models(target: object) -> None:
    net, x = resnet(), random_inputs(2, 48)
    with pytest.raises(InputError, match="one scalar score per image"):
        Explainer(net).explain(x, methods=("gradcam",), targets=[target] * 2)


def test_raw_scores_target_of_a_single_logit_model_is_its_logit() -> None:
    net, x = resnet(1), random_inputs(2, 48)
    with PackageGradCAM(model=net, target_layers=[net.layer4]) as cam:
        expected = cam(input_tensor=x, targets=[mt.RawScoresOutputTarget()] * 2)
    with causalcam.GradCAM(model=net, target_layers=[net.layer4]) as cam:
        got = cam(input_tensor=x, targets=[mt.RawScoresOutputTarget()] * 2)
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)


def test_nonlinear_target_costs_at_most_one_more_vjp_row(monkeypatch: pytest.MonkeyPatch) -> None:
    net, x = resnet(), random_inputs(3, 48)
    spy = Spy(monkeypatch)
    Explainer(net).explain(x, target_class=7)
    Explainer(net).explain(x, targets=[mt.ClassifierOutputTarget(7)] * 3)
    Explainer(net).explain(x, targets=[mt.ClassifierOutputReST(7)] * 3)
    # the softmax target's gradient S e_P is already a row of the default causal map
    Explainer(net).explain(x, targets=[mt.ClassifierOutputSoftmaxTarget(7)] * 3)
    # Grad-CAM's row is the target's gradient instead of e_P: no extra row here; with a
    # map that needs e_P itself (contrast_p on logits) a nonlinear target adds one
    Explainer(net).explain(
        x, methods=("gradcam", "contrast_p"), target_class=7, contrast_loss="mse"
    )
    Explainer(net).explain(
        x,
        methods=("gradcam", "contrast_p"),
        targets=[mt.ClassifierOutputReST(7)] * 3,
        contrast_loss="mse",
    )
    assert [s[0] for s in spy.shapes] == [4, 4, 4, 3, 2, 3]


SMOOTHING = [
    {"eigen_smooth": True},
    {"aug_smooth": True},
    {"aug_smooth": True, "eigen_smooth": True},
]


@pytest.mark.parametrize("smoothing", SMOOTHING)
def test_smoothing_matches_grad_cam(smoothing: dict[str, bool]) -> None:
    net, x = resnet(), random_inputs(2, 48)
    for ours, theirs in PAIRS:
        with theirs(model=net, target_layers=[net.layer4]) as cam:
            expected = cam(input_tensor=x, targets=None, **smoothing)
        with ours(model=net, target_layers=[net.layer4]) as cam:
            got = cam(input_tensor=x, targets=None, **smoothing)
        np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
