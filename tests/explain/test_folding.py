"""BatchNorm folded into the preceding convolution on the engine's own copy: maps equal the
unfolded ones to 1e-5 (float64), the user's model is untouched, the copy follows changes of
the model's numbers, and a pair whose convolution output is read elsewhere is not folded."""

from __future__ import annotations

import functools

import pytest
import torch
import torchvision
from explain_helpers import random_inputs
from torch import Tensor, nn

from causalcam.explain import ONE_PASS_METHODS, Explainer
from causalcam.explain.folding import foldable_pairs, signature


@functools.cache
def resnet() -> nn.Module:
    torch.manual_seed(0)
    net = torchvision.models.resnet18(weights=None, num_classes=3).train()
    with torch.no_grad():
        for _ in range(2):
            net(torch.randn(8, 3, 40, 40))
    return net.eval()


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_folded_maps_equal_unfolded(dtype: torch.dtype) -> None:
    net, x = resnet().to(dtype), random_inputs(2, 40).to(dtype)
    try:
        before = signature(net)
        methods = tuple(m for m in ONE_PASS_METHODS if m not in ("eigencam", "eigengradcam"))
        plain = Explainer(net).explain(x, methods=methods)
        explainer = Explainer(net, fold_batchnorm=True)
        folded = explainer.explain(x, methods=methods)
        assert explainer.explained_model is not net
        assert not any(isinstance(m, nn.BatchNorm2d) for m in explainer.explained_model.modules())
        assert any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
        assert signature(net) == before
        tolerance = 1e-5 if dtype == torch.float64 else 2e-4
        for name in methods:
            torch.testing.assert_close(folded.maps[name], plain.maps[name], atol=tolerance, rtol=0)
        torch.testing.assert_close(folded.logits, plain.logits, atol=tolerance, rtol=1e-4)
    finally:
        net.float()


def test_copy_follows_changes_of_the_model() -> None:
    torch.manual_seed(1)
    net = torchvision.models.resnet18(weights=None, num_classes=3).eval()
    x = random_inputs(1, 40)
    explainer = Explainer(net, fold_batchnorm=True)
    first = explainer.explain(x, methods=("gradcam",)).logits
    copy = explainer.explained_model
    explainer.explain(x, methods=("gradcam",))
    assert explainer.explained_model is copy  # unchanged model: the same copy
    with torch.no_grad():
        net.fc.bias.add_(1.0)
        net.layer1[0].bn1.running_mean.add_(0.5)
    second = explainer.explain(x, methods=("gradcam",)).logits
    expected = Explainer(net).explain(x, methods=("gradcam",)).logits
    assert explainer.explained_model is not copy
    torch.testing.assert_close(second, expected, atol=1e-4, rtol=1e-4)
    assert not torch.allclose(first, second)


class SharedOutput(nn.Module):
    """A convolution whose output feeds a batch norm and, unnormalised, the logits too."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.head = nn.Conv2d(4, 4, 1)
        self.fc = nn.Linear(4, 2)
        with torch.no_grad():
            self.bn.running_mean.fill_(0.3)
            self.bn.running_var.fill_(2.0)

    def forward(self, x: Tensor) -> Tensor:
        a = self.conv(x)
        b = self.head(torch.relu(self.bn(a)))
        return self.fc((a + b).mean(dim=(2, 3)))


def test_a_convolution_read_elsewhere_is_not_folded() -> None:
    net, x = SharedOutput().eval(), random_inputs(2, 12)
    assert foldable_pairs(net, x, "head") == [("conv", "bn")]  # the dry run sees the pair
    explainer = Explainer(net, target_layer="head", fold_batchnorm=True)
    folded = explainer.explain(x, methods=("gradcam",))
    plain = Explainer(net, target_layer="head", fold_batchnorm=False).explain(
        x, methods=("gradcam",)
    )
    assert explainer.explained_model is net  # but the logits check refuses the copy
    torch.testing.assert_close(folded.maps["gradcam"], plain.maps["gradcam"])
