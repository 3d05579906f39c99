"""The grad-cam style adapters, map_function and the top-level exports."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from explain_helpers import random_inputs, tiny_cnn

import causalcam
from causalcam.explain import CausalOptions, Explainer, map_function


def test_top_level_exports() -> None:
    assert causalcam.__version__ == "0.1.0"
    for name in ("Explainer", "CausalOptions", "Explanation", "GradCAM", "GradCAMPlusPlus"):
        assert hasattr(causalcam, name)
    assert callable(causalcam.map_function) and causalcam.ClassifierOutputTarget(1).category == 1


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"loss": "bce", "normalize": "l2", "sign": "set"},
        {"normalize": "maxabs"},
        {"loss": "mse_prob", "gradcam_term": "ce"},
    ],
)
def test_causal_cam_equals_explainer(options: dict[str, Any]) -> None:
    model, x = tiny_cnn(4), random_inputs(3, 16)
    targets = [causalcam.ClassifierOutputTarget(c) for c in (0, 2, 3)]
    with causalcam.CausalCAM(model=model, target_layers=[model.features[3]], **options) as cam:
        got = cam(input_tensor=x, targets=targets)
    expected = Explainer(model).explain(
        x, methods=("causal",), target_class=[0, 2, 3], causal=CausalOptions(**options)
    )
    assert isinstance(got, np.ndarray) and got.dtype == np.float32 and got.shape == (3, 16, 16)
    np.testing.assert_allclose(got, expected.maps["causal"].numpy(), atol=1e-6, rtol=0)


@pytest.mark.parametrize(
    ("target", "loss", "method"),
    [
        ("pq", "mse", "contrast_pq"),
        ("none", "bce", "contrast_none"),
        ("p", "mse", "contrast_p"),
        ("pq", "mse_prob", "contrast_pq"),
        ("q", "ce", "contrast_ce"),
    ],
)
def test_contrast_cam_equals_explainer(target: str, loss: str, method: str) -> None:
    model, x = tiny_cnn(4), random_inputs(2, 16)
    with causalcam.ContrastCAM(model, [model.features[3]], target=target, loss=loss) as cam:
        got = cam(input_tensor=x, targets=None)
    contrast_loss = None if loss == "ce" else loss
    expected = Explainer(model).explain(x, methods=(method,), contrast_loss=contrast_loss)
    np.testing.assert_allclose(got, expected.maps[method].numpy(), atol=1e-6, rtol=0)


def test_contrast_cam_with_a_target_vector_equals_named_target() -> None:
    """t = e_P + e_Q written out as a (B, N) tensor gives the contrast_pq map."""
    model, x = tiny_cnn(4), random_inputs(2, 16)
    reference = Explainer(model).explain(x, methods=("contrast_pq",))
    t = torch.nn.functional.one_hot(reference.target, 4) + torch.nn.functional.one_hot(
        reference.contrast, 4
    )
    with causalcam.ContrastCAM(model, [model.features[3]], target=t.float()) as cam:
        got = cam(input_tensor=x, targets=None)
    np.testing.assert_allclose(got, reference.maps["contrast_pq"].numpy(), atol=1e-6)


@pytest.mark.parametrize("method", ["gradcam", "causal", "causal[bce,l1,set]", "contrast_ce"])
def test_map_function(method: str) -> None:
    model, x = tiny_cnn(3), random_inputs(4, 16)
    fn = map_function(model, method)
    maps = fn(x)
    key = "causal" if method.startswith("causal") else method
    variant = CausalOptions.parse(method) if key == "causal" else CausalOptions()
    expected = Explainer(model).explain(x, methods=(key,), causal=variant).maps[key]
    assert maps.shape == (4, 16, 16)
    torch.testing.assert_close(maps, expected, atol=1e-6, rtol=0)


def test_several_variants_in_one_call() -> None:
    model, x = tiny_cnn(3), random_inputs(2, 16)
    variants = [CausalOptions.literal(), CausalOptions(loss="bce", normalize="l1", sign="literal")]
    result = Explainer(model).explain(x, methods=("causal",), causal=variants)
    assert set(result.maps) == {"causal", "causal[mse,none,literal]", "causal[bce,l1,literal]"}
    single = Explainer(model).explain(x, methods=("causal",), causal=variants[1])
    torch.testing.assert_close(
        result.maps[variants[1].name], single.maps["causal"], atol=1e-6, rtol=0
    )


def test_default_variant_is_the_measured_one_and_literal_stays_available() -> None:
    assert CausalOptions().name == "causal[mse_prob,none,set]"
    assert CausalOptions.literal() == CausalOptions(loss="mse", normalize="none", sign="literal")
    assert CausalOptions.parse("causal[mse,none,literal]") == CausalOptions.literal()
