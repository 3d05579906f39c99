"""Every bad input raises an InputError naming what is wrong; the model is left as it was."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest
import torch
from explain_helpers import TinyCNN, random_inputs, tiny_cnn, torchvision_model
from torch import Tensor, nn

from causalcam.errors import InputError
from causalcam.explain import CausalCAM, CausalOptions, ContrastCAM, Explainer, map_function


def state(model: nn.Module) -> tuple[list[bool], list[bool], list[int]]:
    return (
        [m.training for m in model.modules()],
        [p.requires_grad for p in model.parameters()],
        [len(m._forward_hooks) for m in model.modules()],
    )


@functools.cache
def resnet() -> nn.Module:
    return torchvision_model("resnet18")


def explain_error(
    model: nn.Module, x: Tensor, match: str, layer: str | None = None, **kw: object
) -> None:
    model.train()
    before = state(model)
    with pytest.raises(InputError, match=match), Explainer(model, target_layer=layer) as explainer:
        explainer.explain(x, **kw)  # type: ignore[arg-type]
    assert state(model) == before


@pytest.mark.parametrize(
    ("x", "match"),
    [
        (torch.randn(3, 32, 32), r"shape \(B, C, H, W\) or \(B, C, D, H, W\)"),
        (torch.randn(2, 1, 32, 32), r"1 channels but the model's first convolution '.*' expects 3"),
        (torch.randn(0, 3, 32, 32), "empty batch"),
        (torch.full((1, 3, 32, 32), float("nan")), "NaN or infinite"),
        (torch.full((1, 3, 32, 32), float("inf")), "NaN or infinite"),
        (torch.zeros(1, 3, 32, 32, dtype=torch.long), "float tensor"),
    ],
)
def test_bad_inputs(x: Tensor, match: str) -> None:
    explain_error(tiny_cnn(), x, match)


def test_unknown_layer_suggests_names() -> None:
    with pytest.raises(InputError, match=r"no layer named 'layer5'; did you mean 'layer4'"):
        Explainer(resnet(), target_layer="layer5")
    with pytest.raises(InputError, match="not a submodule"):
        Explainer(resnet(), target_layer=nn.Conv2d(1, 1, 1))


class SideBranch(TinyCNN):
    """``unused`` runs but its output is thrown away; ``never`` never runs."""

    def __init__(self) -> None:
        super().__init__()
        self.unused = nn.Conv2d(3, 4, 3)
        self.never = nn.Conv2d(3, 4, 3)

    def forward(self, x: Tensor) -> Tensor:
        self.unused(x)
        return super().forward(x)


@pytest.mark.parametrize(
    ("layer", "match"),
    [
        ("unused", "does not depend on target layer 'unused'"),
        ("never", "'never' was not called"),
        ("fc", r"must output a \(B, K, h, w\) tensor"),
    ],
)
def test_bad_layers(layer: str, match: str) -> None:
    explain_error(SideBranch(), random_inputs(2, 16), match, layer=layer)


def test_layer_called_twice() -> None:
    explain_error(resnet(), random_inputs(1, 32), "more than once", layer="layer4.0.relu")


class Wrapped(nn.Module):
    def __init__(self, make: Callable[[Tensor], object], classes: int = 2) -> None:
        super().__init__()
        self.net = tiny_cnn(classes)
        self.make = make

    def forward(self, x: Tensor) -> object:
        return self.make(self.net(x))


@pytest.mark.parametrize(
    "make",
    [
        lambda z: (z, z.sum()),
        lambda z: {"logits": z, "aux": z * 2},
        lambda z: {"out": z},
        lambda z: [torch.ones(3), z],
    ],
)
def test_unambiguous_outputs_give_the_logits(make: Callable[[Tensor], object]) -> None:
    x = random_inputs(2, 16)
    expected = Explainer(tiny_cnn()).explain(x).maps["causal"]
    got = Explainer(Wrapped(make), target_layer="net.features.3").explain(x).maps["causal"]
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda z: (z, z * 2), "cannot tell which are the logits"),
        (lambda z: {"scores": z}, "keys"),
        (lambda z: z.sum(1), r"shape \(B, N\)"),
        (lambda z: "text", "not a logits tensor"),
    ],
)
def test_ambiguous_outputs(make: Callable[[Tensor], object], match: str) -> None:
    explain_error(Wrapped(make), random_inputs(2, 16), match, layer="net.features.3")


def test_single_output_model() -> None:
    explain_error(tiny_cnn(1), random_inputs(2, 16), 'head="softmax" needs', head="softmax")
    explain_error(tiny_cnn(3), random_inputs(2, 16), 'head="binary" needs one', head="binary")
    explain_error(tiny_cnn(3), random_inputs(2, 16), "unknown head", head="sigmoid")


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"target_class": 5}, "target class 5 is out of range for a model with 3 classes"),
        ({"contrast_class": -1}, "contrast class -1 is out of range"),
        ({"target_class": [0, 1, 2]}, "3 class indices for a batch of 2"),
        ({"target_class": 1, "contrast_class": torch.tensor([0, 1])}, "equals the explained class"),
        ({"target_class": torch.tensor([0.0, 1.0])}, "integer class indices"),
        (
            {"methods": ("gradcam", "gradcampp")},
            "unknown method 'gradcampp'; allowed: gradcam, gradcam",
        ),
        ({"causal": []}, "non-empty sequence"),
        ({"methods": ()}, "no maps requested"),
        ({"contrast_loss": "ce"}, "unknown contrast loss 'ce'"),
        ({"contrast_targets": {"t": torch.ones(4)}}, "4 entries for 3 classes"),
    ],
)
def test_bad_options(kw: dict[str, Any], match: str) -> None:
    explain_error(tiny_cnn(3), random_inputs(2, 16), match, **kw)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"loss": "ce"}, "unknown causal loss 'ce'; allowed: mse, bce, mse_prob"),
        ({"gradcam_term": "softmax"}, "unknown causal Grad-CAM term 'softmax'; allowed: logit, ce"),
        ({"normalize": "l3"}, "allowed: none, l1, l2, maxabs"),
        ({"sign": "minus"}, "allowed: literal, set"),
    ],
)
def test_bad_causal_options(kw: dict[str, Any], match: str) -> None:
    with pytest.raises(InputError, match=match):
        CausalOptions(**kw)
    with pytest.raises(InputError, match=match):
        CausalCAM(model=tiny_cnn(), target_layers=["features.3"], **kw)


def test_causal_option_names_round_trip() -> None:
    variants = CausalOptions.grid_variants()
    assert len(set(variants)) == 16 and {v.loss for v in variants} == {"mse", "bce"}
    everything = CausalOptions.ablation_variants()
    assert len(set(everything)) == 22 and everything[:16] == variants
    assert CausalOptions() in everything and CausalOptions.literal() in everything
    assert all(CausalOptions.parse(v.name) == v for v in everything)
    assert CausalOptions.parse("causal[bce,none,set,ce]").gradcam_term == "ce"
    assert CausalOptions(gradcam_term="ce").name == "causal[mse_prob,none,set,ce]"
    assert CausalOptions("bce", "none", "set", "ce") in everything
    assert CausalOptions.parse("causal") == CausalOptions()
    with pytest.raises(InputError, match="cannot read causal variant"):
        CausalOptions.parse("causal[mse]")
    with pytest.raises(InputError, match="unknown method"):
        map_function(tiny_cnn(), "occlusion")


def test_bad_compat_arguments() -> None:
    model = tiny_cnn()
    with pytest.raises(InputError, match="reshape_transform must be a function"):
        CausalCAM(model=model, target_layers=["features.3"], reshape_transform=42)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="non-empty list"):
        CausalCAM(model=model, target_layers=model.features)  # type: ignore[arg-type]
    with pytest.raises(InputError, match='target="q"'):
        ContrastCAM(model, ["features.3"], target="p", loss="ce")
    with pytest.raises(InputError, match="allowed: pq, none, p"):
        ContrastCAM(model, ["features.3"], target="all")
    cam = CausalCAM(model=model, target_layers=["features.3"])
    with pytest.raises(InputError, match=r"names no class \(no integer \.category\)"):
        cam(input_tensor=random_inputs(1, 16), targets=[lambda z: z[0]])
    with pytest.raises(InputError, match="failed on one image's outputs of shape"):
        cam(input_tensor=random_inputs(1, 16), targets=[lambda z: z[:, 0]])
    with pytest.raises(InputError, match="2 targets for a batch of 1"):
        cam(input_tensor=random_inputs(1, 16), targets=[None, None])
