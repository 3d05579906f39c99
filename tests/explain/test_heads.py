"""Single-logit binary and multi-label heads (docs/method.md, "Heads"): every map equals
the slow way on the class logits ``y = [0, z]`` (one explicit backward pass per loss), and
Grad-CAM/Grad-CAM++ equal grad-cam's with ``BinaryClassifierOutputTarget``."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
from explain_helpers import random_inputs, slow_gradients, tiny_cnn, to_maps
from pytorch_grad_cam import GradCAM as PackageGradCAM
from pytorch_grad_cam import GradCAMPlusPlus as PackageGradCAMPlusPlus
from pytorch_grad_cam.utils.model_targets import BinaryClassifierOutputTarget
from test_equivalence import slow_causal, slow_losses
from torch import Tensor

import causalcam
from causalcam.errors import InputError
from causalcam.explain import CausalOptions, Explainer

MAPS = ("gradcam", "contrast_pq", "contrast_none", "contrast_p", "contrast_ce", "causal")
VARIANTS = (CausalOptions(), CausalOptions.literal(), CausalOptions("bce", "l2", "set"))


def render(weights: Tensor, activations: Tensor) -> Tensor:
    return to_maps(torch.einsum("bk,bkhw->bhw", weights, activations), (16, 16))


def slow_maps(
    net: torch.nn.Module, x: Tensor, y_of: Callable[[Tensor], Tensor], p: Tensor, q: Tensor
) -> dict[str, Tensor]:
    """Every map from one backward pass per loss on the class logits ``y = y_of(z)``; Grad-CAM
    of a sigmoid head is the margin ``y_P - y_Q``."""
    losses = {k: (lambda z, f=f: f(y_of(z))) for k, f in slow_losses(p, q, 2).items()}
    losses["gradcam"] = lambda z: (
        y_of(z).gather(1, p[:, None]) - y_of(z).gather(1, q[:, None])
    ).sum()
    _, grads, activations = slow_gradients(net, net.features[3], x, losses)
    w = {k: g.mean(dim=(2, 3)) for k, g in grads.items()}
    keys = {k: k if k in ("gradcam", "contrast_ce") else f"{k}[mse_prob]" for k in MAPS[:-1]}
    maps = {k: render(w[key], activations) for k, key in keys.items()}
    for variant in VARIANTS:
        maps[variant.name] = render(slow_causal(w, variant), activations)
    return maps


def check(result: causalcam.Explanation, expected: dict[str, Tensor]) -> None:
    """1e-4: with two classes some maps cancel heavily (``t = e_P + e_Q = 1`` is in the
    null space of the softmax Jacobian), so the closed form and autograd round apart.
    Images whose map is at the rounding level of its weights' own cancellation (raw maximum
    below 1e-6 of Grad-CAM's) are noise in both and skipped."""
    assert result.raw is not None
    scale = result.raw["gradcam"].amax(dim=(1, 2))
    for name, maps in expected.items():
        real = result.raw[name].amax(dim=(1, 2)) > 1e-6 * scale
        assert real.float().mean() > 0.5, name
        torch.testing.assert_close(result.maps[name][real], maps[real], atol=1e-4, rtol=0, msg=name)


def test_binary_head_equals_the_slow_way_on_0_z() -> None:
    net, x = tiny_cnn(1), random_inputs(6, 16)
    with torch.no_grad():
        net.fc.bias -= net(x).median()  # both classes predicted
    z = net(x).detach()
    assert (z > 0).any() and (z <= 0).any()
    result = Explainer(net).explain(x, methods=MAPS, causal=VARIANTS, return_raw=True)
    # the median image's logit is 0 up to rounding: its side is the one the engine computed
    p = (result.logits[:, 0] > 0).long()
    assert torch.equal(result.target, p) and torch.equal(result.contrast, 1 - p)
    assert torch.equal(result.predicted, p)

    def y_of(z: Tensor) -> Tensor:
        return torch.cat([torch.zeros_like(z), z], dim=1)

    check(result, slow_maps(net, x, y_of, p, 1 - p))
    given = Explainer(net).explain(
        x, methods=MAPS, causal=VARIANTS, target_class=0, return_raw=True
    )
    zeros = torch.zeros(6, dtype=torch.long)
    check(given, slow_maps(net, x, y_of, zeros, 1 - zeros))


def test_multilabel_head_explains_label_on_against_off() -> None:
    net, x = tiny_cnn(4), random_inputs(5, 16)
    z = net(x).detach()
    labels = torch.tensor([0, 3, 2, 1, 3])
    for given in (None, labels):
        result = Explainer(net).explain(
            x, methods=MAPS, causal=VARIANTS, head="multilabel", target_class=given, return_raw=True
        )
        chosen = z.argmax(dim=1) if given is None else labels
        assert torch.equal(result.target, chosen) and (result.contrast == -1).all()

        def y_of(z: Tensor, c: Tensor = chosen) -> Tensor:
            return torch.cat([torch.zeros_like(z[:, :1]), z.gather(1, c[:, None])], dim=1)

        ones = torch.ones(5, dtype=torch.long)
        check(result, slow_maps(net, x, y_of, ones, 1 - ones))


@pytest.mark.parametrize("category", [0, 1])
def test_binary_targets_match_grad_cam(category: int) -> None:
    net, x = tiny_cnn(1), random_inputs(3, 16)
    targets = [BinaryClassifierOutputTarget(category)] * 3
    for ours, theirs in [
        (causalcam.GradCAM, PackageGradCAM),
        (causalcam.GradCAMPlusPlus, PackageGradCAMPlusPlus),
    ]:
        with theirs(model=net, target_layers=[net.features[3]]) as cam:
            expected = cam(input_tensor=x, targets=targets)
        with ours(model=net, target_layers=[net.features[3]]) as cam:
            got = cam(input_tensor=x, targets=targets)
        np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    # contrast and causal maps take P from the target: the same as target_class
    with causalcam.CausalCAM(model=net, target_layers=[net.features[3]]) as cam:
        got = cam(input_tensor=x, targets=targets)
    expected_causal = Explainer(net).explain(x, methods=("causal",), target_class=category)
    np.testing.assert_allclose(got, expected_causal.maps["causal"].numpy(), atol=1e-6, rtol=0)


def test_binary_target_that_does_not_score_its_class_is_refused() -> None:
    net, x = tiny_cnn(1), random_inputs(2, 16)
    with pytest.raises(InputError, match="BinaryClassifierOutputTarget"):
        Explainer(net).explain(x, targets=[causalcam.ClassifierOutputTarget(0)] * 2)
    with pytest.raises(InputError, match="contrast_class does not apply"):
        Explainer(tiny_cnn(3)).explain(x, head="multilabel", contrast_class=1)
