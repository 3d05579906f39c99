"""Degenerate maps (docs/method.md, "Degenerate maps"): a map constant up to the
rounding error of its own weighted sum becomes zeros; a real map at any scale stays a map."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from explain_helpers import torchvision_model
from pytorch_grad_cam import GradCAM as PackageGradCAM

from causalcam.explain import PAPER_MAPS, Explainer
from causalcam.explain.methods import flat_maps, raw_map, to_input_size


def render(weights: torch.Tensor, activations: torch.Tensor) -> torch.Tensor:
    raw = raw_map(weights, activations)
    return to_input_size(raw, (20, 24), flat_maps(raw, weights, activations))


def test_vgg11_at_32x32_has_a_1x1_map_and_gives_zeros_like_grad_cam() -> None:
    net, x = torchvision_model("vgg11", 10), torch.randn(2, 3, 32, 32)
    layer = net.get_submodule("features.20")
    with PackageGradCAM(model=net, target_layers=[layer]) as cam:
        expected = cam(input_tensor=x, targets=None)
    result = Explainer(net, target_layer=layer).explain(x, return_raw=True)
    assert result.raw is not None and result.raw["gradcam"].shape == (2, 1, 1)
    assert not expected.any()
    for name in PAPER_MAPS:
        assert not result.maps[name].any(), name


def test_untrained_efficientnet_tiny_map_is_a_real_map() -> None:
    """Map values around 1e-13: grad-cam's ``max + 1e-7`` flattens them; float64 shows the
    float32 map is the true map, not noise, so it is kept."""
    net, x = torchvision_model("efficientnet_b0", 10), torch.randn(2, 3, 64, 64)
    result = Explainer(net, target_layer="features.8").explain(
        x, methods=("gradcam",), return_raw=True
    )
    assert result.raw is not None and float(result.raw["gradcam"].max()) < 1e-9
    exact = Explainer(net.double(), target_layer="features.8").explain(
        x.double(), methods=("gradcam",)
    )
    assert result.maps["gradcam"].amax(dim=(1, 2)).tolist() == [1.0, 1.0]
    torch.testing.assert_close(
        result.maps["gradcam"].double(), exact.maps["gradcam"], atol=1e-5, rtol=0
    )


@pytest.mark.parametrize("scale", [1e-12, 1e-6, 1.0, 1e6])
def test_rule_is_scale_invariant(scale: float) -> None:
    generator = torch.Generator().manual_seed(0)
    weights = torch.randn(3, 16, generator=generator)
    activations = torch.rand(3, 16, 5, 6, generator=generator)
    expected = render(weights, activations)
    assert expected.amax(dim=(1, 2)).tolist() == [1.0, 1.0, 1.0]
    torch.testing.assert_close(render(weights * scale, activations), expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(render(weights, activations * scale), expected, atol=1e-6, rtol=0)


def test_constant_map_with_rounding_noise_is_zeros_and_resolvable_detail_is_kept() -> None:
    """``A[k] = c[k] + u v[k]`` with ``sum_k w[k] v[k] = 0`` exactly: the map is constant in
    exact arithmetic; float32 leaves rounding noise that must not be stretched to [0, 1]."""
    generator = torch.Generator().manual_seed(0)
    k = 256
    w = torch.randn(k, generator=generator, dtype=torch.float64)
    v = torch.randn(k, generator=generator, dtype=torch.float64)
    v = v - w * (w @ v) / (w @ w)
    c = w.clone()  # the map's value: sum_k w[k] c[k] = |w|^2 > 0
    u = torch.rand(7, 7, generator=generator, dtype=torch.float64) * 100
    activations = (c[:, None, None] + u * v[:, None, None]).float()[None]
    weights = w.float()[None]
    raw = raw_map(weights, activations)
    assert float(raw.max() - raw.min()) > 0  # noise is there
    assert bool(flat_maps(raw, weights, activations).all())
    assert not render(weights, activations).any()
    # a variation of 1e-3 of the map's value is far above rounding error: kept
    bump = 1e-3 * (w @ w) * torch.rand(7, 7, generator=generator, dtype=torch.float64)
    detail = activations + (bump * (w / (w @ w))[:, None, None]).float()[None]
    assert not bool(flat_maps(raw_map(weights, detail), weights, detail).any())
    assert np.isclose(float(render(weights, detail).max()), 1.0)
