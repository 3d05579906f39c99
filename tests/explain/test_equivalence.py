"""Contrast and causal maps equal the slow way (one explicit backward pass per loss, as
the paper does); docs/method.md's closed form holds; a hand-worked model gives known maps."""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from explain_helpers import (
    random_inputs,
    real_scans,
    slow_gradients,
    tiny_cnn,
    to_maps,
    torchvision_model,
)
from torch import Tensor, nn

from causalcam.explain import CausalOptions, Explainer

#: maps in [0, 1] from the engine's batched VJP and from the slow way's separate backward
#: passes: the fp32 sums run in other orders, so the last bits differ with the CPU's kernels
#: (1.2e-5 seen on an AVX2-only CPU); a wrong formula or target differs by 1e-2 or more
MAP_TOLERANCE = {"atol": 1e-4, "rtol": 0.0}
TARGETS = {"contrast_pq": (1.0, 1.0), "contrast_none": (0.0, 0.0), "contrast_p": (1.0, 0.0)}
LOSSES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "mse": nn.MSELoss(),
    "bce": nn.BCEWithLogitsLoss(),
    "mse_prob": lambda z, t: F.mse_loss(torch.softmax(z, dim=-1), t),
}


@functools.cache
def model(name: str, n_classes: int) -> nn.Module:
    if name == "tiny":
        return tiny_cnn(n_classes)
    return torchvision_model(name, n_classes)


def layer_of(name: str) -> str:
    return {"tiny": "features.3", "resnet18": "layer4", "densenet121": "features.norm5"}[name]


def normalised(a: Tensor, how: str) -> Tensor:
    """The paper's "normalized importance scores", written out independently."""
    if how == "l1":
        return a / a.abs().sum(1, keepdim=True)
    if how == "l2":
        return a / (a**2).sum(1, keepdim=True).sqrt()
    if how == "maxabs":
        return a / a.abs().max(1, keepdim=True).values
    return a


def slow_losses(p: Tensor, q: Tensor, n: int) -> dict[str, Callable[[Tensor], Tensor]]:
    """One loss per map, summed over images (each image's loss only reaches its logits)."""
    losses: dict[str, Callable[[Tensor], Tensor]] = {
        "gradcam": lambda z: z.gather(1, p[:, None]).sum()
    }
    for loss_name, criterion in LOSSES.items():
        for target, (alpha, beta) in TARGETS.items():
            t = alpha * F.one_hot(p, n).float() + beta * F.one_hot(q, n).float()
            losses[f"{target}[{loss_name}]"] = functools.partial(
                lambda z, t, c: torch.stack([c(z[b], t[b]) for b in range(len(z))]).sum(),
                t=t,
                c=criterion,
            )
    losses["contrast_ce"] = lambda z: F.cross_entropy(z, q, reduction="sum")
    # Grad-CAM through the loss: the descent direction of the cross-entropy of class P.
    losses["gradcam[ce]"] = lambda z: -F.cross_entropy(z, p, reduction="sum")
    return losses


def slow_weights(
    net: nn.Module, layer: str, x: Tensor, p: Tensor, q: Tensor
) -> tuple[dict[str, Tensor], Tensor]:
    n = net(x).shape[1]
    _, grads, activations = slow_gradients(net, net.get_submodule(layer), x, slow_losses(p, q, n))
    return {k: g.mean(dim=(2, 3)) for k, g in grads.items()}, activations


def slow_causal(w: dict[str, Tensor], options: CausalOptions) -> Tensor:
    pq, none, p = (normalised(w[f"{t}[{options.loss}]"], options.normalize) for t in TARGETS)
    gradcam = w["gradcam"] if options.gradcam_term == "logit" else w["gradcam[ce]"]
    if options.sign == "literal":
        return -(gradcam - pq + none + p)
    return gradcam + pq - none - p


def render(weights: Tensor, activations: Tensor, size: tuple[int, int]) -> Tensor:
    return to_maps(torch.einsum("bk,bkhw->bhw", weights, activations), size)


CASES = [("tiny", 2), ("tiny", 10), ("resnet18", 2), ("resnet18", 10), ("densenet121", 10)]


@pytest.mark.parametrize(("name", "n_classes"), CASES)
def test_every_contrast_and_causal_map_equals_the_slow_way(name: str, n_classes: int) -> None:
    net, x = model(name, n_classes), random_inputs(3, seed=n_classes)
    variants = CausalOptions.ablation_variants()
    with Explainer(net) as explainer:
        results = {
            loss: explainer.explain(
                x,
                methods=("contrast_pq", "contrast_none", "contrast_p", "contrast_ce", "causal"),
                causal=variants,
                contrast_loss=loss,
            )
            for loss in LOSSES
        }
    first = results["mse"]
    weights, activations = slow_weights(net, layer_of(name), x, first.target, first.contrast)
    size = (x.shape[-2], x.shape[-1])
    for loss, result in results.items():
        for target in TARGETS:
            expected = render(weights[f"{target}[{loss}]"], activations, size)
            torch.testing.assert_close(result.maps[target], expected, **MAP_TOLERANCE)
    torch.testing.assert_close(
        first.maps["contrast_ce"],
        render(weights["contrast_ce"], activations, size),
        **MAP_TOLERANCE,
    )
    for variant in variants:
        expected = render(slow_causal(weights, variant), activations, size)
        torch.testing.assert_close(first.maps[variant.name], expected, **MAP_TOLERANCE)
    torch.testing.assert_close(first.maps["causal"], first.maps[variants[0].name], atol=0, rtol=0)


def test_default_runner_up_and_given_contrast_class() -> None:
    net, x = model("tiny", 10), random_inputs(4)
    logits = net(x).detach()
    top2 = logits.topk(2, dim=1).indices
    with Explainer(net) as explainer:
        default = explainer.explain(x, methods=("causal",))
        given = explainer.explain(
            x, methods=("causal",), contrast_class=torch.tensor([3, 4, 5, 6]), target_class=7
        )
    assert torch.equal(default.target, top2[:, 0]) and torch.equal(default.contrast, top2[:, 1])
    assert torch.equal(given.target, torch.full((4,), 7)) and given.contrast.tolist() == [
        3,
        4,
        5,
        6,
    ]
    weights, activations = slow_weights(net, "features.3", x, given.target, given.contrast)
    expected = render(slow_causal(weights, CausalOptions()), activations, (64, 64))
    torch.testing.assert_close(given.maps["causal"], expected, **MAP_TOLERANCE)


@pytest.mark.parametrize("kind", ["real", "random"])
def test_closed_form_mse_two_classes(kind: str) -> None:
    """docs/method.md: mse, N = 2, none, literal gives w = -[(1 + z_P) a_P + (1 + z_Q) a_Q]."""
    net = model("resnet18", 2)
    x = real_scans(3) if kind == "real" else random_inputs(3)
    with Explainer(net) as explainer:
        result = explainer.explain(
            x, methods=("gradcam", "causal"), causal=CausalOptions.literal(), return_raw=True
        )
        swapped = explainer.explain(
            x,
            methods=("gradcam",),
            target_class=result.contrast,
            contrast_class=result.target,
            return_raw=True,
        )
    assert result.weights is not None and swapped.weights is not None
    z = result.logits
    z_p = z.gather(1, result.target[:, None])
    z_q = z.gather(1, result.contrast[:, None])
    closed = -((1 + z_p) * result.weights["gradcam"] + (1 + z_q) * swapped.weights["gradcam"])
    torch.testing.assert_close(result.weights["causal"], closed, atol=1e-6, rtol=1e-4)


class HandModel(nn.Module):
    """A = the input itself (2 channels, 1 x 3 pixels), z = W mean_hw(A)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Identity()
        self.head = nn.Linear(2, 2, bias=False)
        with torch.no_grad():
            self.head.weight.copy_(torch.eye(2))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x).mean(dim=(2, 3)))


def test_hand_worked_model() -> None:
    """A_0 = [6, 0, -3], A_1 = [0, -3, 0]: z = [1, -1], P = 0, Q = 1, a_j = W[j] / 3.

    Grad-CAM: w = [1/3, 0] -> ReLU([2, 0, -1]) = [2, 0, 0].
    mse (2/N = 1): a^t = (z - t) / 3; t=0: [1/3, -1/3] -> ReLU([2, 1, -1]) = [2, 1, 0];
    t=[1,1]: [0, -2/3] -> [0, 2, 0]; t=[1,0]: [0, -1/3] -> [0, 1, 0].
    causal literal/none (closed form): w = -[2 a_P + 0 a_Q] = [-2/3, 0] -> [0, 0, 2].
    causal literal/l1: n(pq) = [0, -1], n(none) = [1/2, -1/2], n(p) = [0, -1],
    w = -([1/3, 0] + [0, 1] + [1/2, -1/2] + [0, -1]) = [-5/6, 1/2] -> [0, 0, 5/2].
    ce: softmax(z) - e_Q = s [1, -1] with s = sigmoid(2) -> s/3 [6, 3, -3] -> [2s, s, 0].
    Grad-CAM++: g = [1/3, 0]; alpha_0 = (1/9) / (2/9 + 3/27) = 1/3; w = [3 * 1/9, 0].
    """
    x = torch.tensor([[[[6.0, 0.0, -3.0]], [[0.0, -3.0, 0.0]]]])
    s = torch.sigmoid(torch.tensor(2.0)).item()
    expected = {
        "gradcam": [2.0, 0.0, 0.0],
        "gradcam++": [2.0, 0.0, 0.0],
        "contrast_none": [2.0, 1.0, 0.0],
        "contrast_pq": [0.0, 2.0, 0.0],
        "contrast_p": [0.0, 1.0, 0.0],
        "contrast_ce": [2 * s, s, 0.0],
        "causal": [0.0, 0.0, 2.0],
        "causal[mse,l1,literal]": [0.0, 0.0, 2.5],
    }
    with Explainer(HandModel(), target_layer="features") as explainer:
        result = explainer.explain(
            x,
            methods=(*expected.keys() - {"causal[mse,l1,literal]"},),
            causal=[CausalOptions.literal(), CausalOptions("mse", "l1", "literal")],
            return_raw=True,
        )
    assert result.raw is not None
    assert result.logits.tolist() == [[1.0, -1.0]] and result.target.item() == 0
    for name, values in expected.items():
        torch.testing.assert_close(result.raw[name][0, 0], torch.tensor(values), atol=1e-5, rtol=0)
        peak = torch.tensor(values) / max(values)
        torch.testing.assert_close(result.maps[name][0, 0], peak, atol=1e-5, rtol=0)
