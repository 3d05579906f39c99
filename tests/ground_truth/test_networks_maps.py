"""Networks (feature-map size, training, reliance) and every map, B_P included."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from causalcam.explain import CausalOptions, Explainer
from causalcam.explain.methods import flat_maps, raw_map, to_input_size
from causalcam.ground_truth import (
    DEFAULT_CONTEXT,
    SmallCNN,
    TrainSettings,
    compute_maps,
    context_name,
    readings,
    reliance,
    train_network,
)
from causalcam.ground_truth.networks import preprocessing
from causalcam.preprocess import to_model_input
from causalcam.synthetic import INTERVENTIONS, Design, generate


def test_last_feature_map_is_a_quarter() -> None:
    model = SmallCNN(2).eval()
    seen: list[torch.Size] = []
    model.block4.register_forward_hook(lambda _m, _i, out: seen.append(out.shape))
    model(torch.zeros(1, 3, 64, 64))
    assert seen[0][-2:] == (16, 16)


def test_train_and_reliance() -> None:
    torch.manual_seed(0)
    design = Design("shortcut", rho=1.0)
    model = train_network(generate(design, 64, 0), TrainSettings(epochs=1, batch_size=32))
    assert not model.training
    used = reliance(model, generate(design, 40, 0, "test"))
    assert set(used.accuracy) == set(INTERVENTIONS)
    assert all(0.0 <= v <= 1.0 for v in used.accuracy.values())
    assert 0.5 <= used.confidence <= 1.0


def _inputs() -> tuple[SmallCNN, torch.Tensor, torch.Tensor, torch.Tensor]:
    torch.manual_seed(1)
    model = SmallCNN(3).eval()
    data = generate(Design("shared"), 12, 0, "test")
    data = data.subset(data.explained)
    return model, to_model_input(data.images, preprocessing(64)), data.target, data.contrast


def test_every_map() -> None:
    model, inputs, target, contrast = _inputs()
    maps = compute_maps(model, "block4", inputs, target, contrast)
    assert {"gradcam", "gradcam++", "contrast_pq", "causal", DEFAULT_CONTEXT} <= set(maps)
    assert {v.name for v in readings()} <= set(maps)
    assert readings()[0] == CausalOptions()
    for value in maps.values():
        assert value.shape == inputs.shape[:1] + inputs.shape[2:]
        assert value.min() >= 0 and value.max() <= 1


def test_one_explain_call_per_loss(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first call's contrast weights serve its loss; only the other losses cost a call."""
    model, inputs, target, contrast = _inputs()
    calls: list[str | None] = []
    explain = Explainer.explain

    def counted(self: Explainer, *args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs.get("contrast_loss"))
        return explain(self, *args, **kwargs)

    monkeypatch.setattr(Explainer, "explain", counted)
    maps = compute_maps(model, "block4", inputs, target, contrast, methods=("gradcam",))
    losses = {v.loss for v in readings()}
    assert len(calls) == len(losses)
    assert {
        "gradcam",
        DEFAULT_CONTEXT,
        *(context_name(v.loss, v.normalize) for v in readings()),
    } <= set(maps)
    assert "contrast_pq" not in maps  # not asked for


def test_context_is_what_each_sign_subtracts() -> None:
    """B_P of (loss, norm) = the Grad-CAM term minus the causal weight, for both signs."""
    model, inputs, target, contrast = _inputs()
    maps = compute_maps(model, "block4", inputs, target, contrast, methods=("gradcam",))
    activations: list[torch.Tensor] = []
    model.block4.register_forward_hook(lambda _m, _i, out: activations.append(out.detach()))
    with torch.no_grad():
        model(inputs)
    a = activations[0]
    for sign, flip in (("set", 1.0), ("literal", -1.0)):
        variant = CausalOptions("bce", "l2", sign)
        result = Explainer(model, "block4").explain(
            inputs, ("gradcam", "causal"), target, contrast, causal=variant, return_raw=True
        )
        assert result.weights is not None
        b = flip * result.weights["gradcam"] - result.weights[variant.name]
        raw = raw_map(b, a)
        expected = to_input_size(raw, (64, 64), flat_maps(raw, b, a))
        torch.testing.assert_close(maps[context_name("bce", "l2")], expected, atol=1e-4, rtol=0)
