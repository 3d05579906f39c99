"""Vision transformers: ``reshape_transform`` with grad-cam's semantics, Grad-CAM and
Grad-CAM++ equal grad-cam's on torchvision ViT-B/16 and Swin-T, a timm ViT and a tiny
Hugging Face ViT; every map equals the slow way; one forward pass and one batched VJP;
``causalcam explain --model vit_b_16`` works without user code."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest
import timm
import torch
import torchvision
from explain_helpers import random_inputs, to_maps
from pytorch_grad_cam import GradCAM as PackageGradCAM
from pytorch_grad_cam import GradCAMPlusPlus as PackageGradCAMPlusPlus
from test_equivalence import slow_causal, slow_losses
from test_state import Spy
from torch import Tensor, nn
from transformers import ViTConfig, ViTForImageClassification
from typer.testing import CliRunner

import causalcam
from causalcam.cli import app
from causalcam.data import sample_scans
from causalcam.errors import InputError
from causalcam.explain import CausalOptions, Explainer
from causalcam.models import default_target_layer
from causalcam.models.architectures import TokenGrid

PAIRS = [
    (causalcam.GradCAM, PackageGradCAM),
    (causalcam.GradCAMPlusPlus, PackageGradCAMPlusPlus),
]


def vit_tokens_to_grid(tensor: Tensor) -> Tensor:
    """grad-cam's ViT example, for a 4 x 4 patch grid."""
    result = tensor[:, 1:, :].reshape(tensor.size(0), 4, 4, tensor.size(2))
    return result.transpose(2, 3).transpose(1, 2)


def swin_to_channels_first(tensor: Tensor) -> Tensor:
    return tensor.permute(0, 3, 1, 2)


class Logits(nn.Module):
    """grad-cam needs a tensor output: the usual wrapper of a Hugging Face model."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x).logits


@functools.cache
def model(name: str) -> nn.Module:
    torch.manual_seed(0)
    if name == "vit_b_16":
        net = torchvision.models.vit_b_16(weights=None, num_classes=5, image_size=64)
        nn.init.normal_(net.heads.head.weight, std=0.05)  # torchvision zero-initialises it
    elif name == "swin_t":
        net = torchvision.models.swin_t(weights=None, num_classes=5)
    elif name == "timm_vit":
        net = timm.create_model(
            "vit_tiny_patch16_224", pretrained=False, num_classes=5, img_size=64
        )
    else:
        config = ViTConfig(
            image_size=64,
            patch_size=16,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            num_labels=5,
        )
        net = ViTForImageClassification(config)
    return net.eval()


CASES = {
    "vit_b_16": ("encoder.layers.encoder_layer_11.ln_1", vit_tokens_to_grid),
    "swin_t": ("features.7.1.norm1", swin_to_channels_first),
    "timm_vit": ("blocks.11.norm1", vit_tokens_to_grid),
    "hf_vit": ("vit.layers.1.layernorm_before", vit_tokens_to_grid),
}


@pytest.mark.parametrize("name", list(CASES))
def test_matches_grad_cam_with_its_reshape_transform(name: str) -> None:
    net, x = model(name), random_inputs(2, 64)
    layer, reshape = CASES[name]
    if name == "hf_vit" and not hasattr(net.vit, "layers"):  # transformers 4
        layer = "vit.encoder.layer.1.layernorm_before"
    explainer = Explainer(net)
    default = explainer.explain(x, methods=("gradcam", "gradcam++"))
    assert explainer.layer_name == layer == default.layer
    theirs_model = Logits(net) if name == "hf_vit" else net
    target = theirs_model.get_submodule(("model." if name == "hf_vit" else "") + layer)
    for (ours, theirs), method in zip(PAIRS, ("gradcam", "gradcam++"), strict=True):
        with theirs(model=theirs_model, target_layers=[target], reshape_transform=reshape) as cam:
            expected = cam(input_tensor=x, targets=None)
        with ours(model=net, target_layers=[layer], reshape_transform=reshape) as cam:
            got = cam(input_tensor=x, targets=None)
        assert expected.max() > 0.99
        np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
        np.testing.assert_allclose(default.maps[method].numpy(), expected, atol=1e-5, rtol=0)


def test_every_vit_map_equals_the_slow_way_from_one_batched_vjp(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    net, x = model("vit_b_16"), random_inputs(3, 64)
    layer = net.get_submodule(CASES["vit_b_16"][0])
    variants = (CausalOptions(), CausalOptions.literal(), CausalOptions("bce", "l2", "set"))
    spy = Spy(monkeypatch)
    result = Explainer(net).explain(x, causal=variants, methods=("gradcam", "causal", "contrast_p"))
    assert len(spy.shapes) == 1 and spy.shapes[0][1:] == (3, 5)  # one batched VJP
    monkeypatch.undo()
    store: dict[str, Tensor] = {}

    def hook(_m: nn.Module, _i: object, out: Tensor) -> None:
        store["out"] = out
        out.register_hook(lambda g: store.__setitem__("grad", g))

    handle = layer.register_forward_hook(hook)
    z = net(x)
    handle.remove()
    weights = {}
    for name, loss in slow_losses(result.target, result.contrast, 5).items():
        net.zero_grad()
        loss(z).backward(retain_graph=True)
        weights[name] = vit_tokens_to_grid(store["grad"]).mean(dim=(2, 3))
    activations = vit_tokens_to_grid(store["out"].detach())

    def render(w: Tensor) -> Tensor:
        return to_maps(torch.einsum("bk,bkhw->bhw", w, activations), (64, 64))

    torch.testing.assert_close(
        result.maps["gradcam"], render(weights["gradcam"]), atol=1e-5, rtol=0
    )
    expected = render(weights["contrast_p[mse_prob]"])
    torch.testing.assert_close(result.maps["contrast_p"], expected, atol=1e-5, rtol=0)
    for variant in variants:
        expected = render(slow_causal(weights, variant))
        torch.testing.assert_close(result.maps[variant.name], expected, atol=1e-5, rtol=0)


def test_registry_default_layers_of_transformers() -> None:
    assert default_target_layer("vit_b_16") == CASES["vit_b_16"][0]
    assert default_target_layer("swin_t") == CASES["swin_t"][0]


def test_a_non_square_token_grid_needs_a_reshape_transform() -> None:
    with pytest.raises(InputError, match="pass your own reshape_transform"):
        TokenGrid(1)(torch.zeros(2, 13, 8))
    assert TokenGrid(1)(torch.zeros(2, 17, 8)).shape == (2, 8, 4, 4)


def test_cli_explains_vit_b_16_without_user_code(tmp_path: Path) -> None:
    image = sample_scans()[0].path
    result = CliRunner().invoke(
        app,
        [
            "explain",
            str(image),
            "-m",
            "vit_b_16",
            "--out",
            str(tmp_path),
            "-q",
            "--methods",
            "gradcam,causal",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "explanations.json").read_text())
    assert summary["model"]["target_layer"] == CASES["vit_b_16"][0]
    assert set(summary["images"][0]["maps"]) == {"gradcam", "causal"}
