"""Explaining in channels-last memory and in bf16 gives the fp32 maps within stated
tolerances, falls back with a warning where bf16 is not native, and leaves the model as the
user had it (values, dtype, memory format, flags), also after an error.

bf16 numerics are checked on every CPU: ``_cpu_flags`` is patched to claim support, and
where the CPU lacks native bf16, PyTorch emulates the same bf16 rounding (slower only).
"""

from __future__ import annotations

import functools

import pytest
import torch
import torchvision
from explain_helpers import TinyCNN, random_inputs, tiny_cnn
from torch import Tensor, nn

from causalcam import precision
from causalcam.explain import PAPER_MAPS, Explainer, map_function
from causalcam.precision import PrecisionWarning

#: channels-last against contiguous fp32: summation order only.
LAYOUT_ATOL = 5e-5
#: bf16 against fp32 (8-bit mantissa in the forward pass): every map's per-image Pearson
#: correlation at least this, and at most this share of pixels changing side of tau = 0.5.
BF16_MIN_PEARSON = 0.99
BF16_MAX_MASK_CHANGE = 0.02


@pytest.fixture
def bf16_claimed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(precision, "_cpu_flags", lambda: frozenset({"avx512_bf16"}))


@functools.cache
def resnet18_with_statistics() -> nn.Module:
    """ResNet-18 (weights=None) whose BatchNorm layers hold running statistics of real
    activations (three training-mode passes), not the initial zeros and ones."""
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=2)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(4, 3, 64, 64))
    return model.eval()


def model_and_inputs(name: str) -> tuple[nn.Module, Tensor]:
    if name == "tiny":
        return tiny_cnn(3), random_inputs(4, size=32)
    torch.manual_seed(1)
    return resnet18_with_statistics(), torch.randn(3, 3, 64, 64)


def pearson(a: Tensor, b: Tensor) -> Tensor:
    x, y = a.flatten(1).double(), b.flatten(1).double()
    x, y = x - x.mean(1, keepdim=True), y - y.mean(1, keepdim=True)
    return (x * y).sum(1) / (x.norm(dim=1) * y.norm(dim=1)).clamp_min(1e-300)


@pytest.mark.parametrize("name", ["tiny", "resnet18"])
def test_channels_last_gives_the_contiguous_maps(name: str) -> None:
    model, x = model_and_inputs(name)
    reference = Explainer(model, channels_last=False).explain(x, return_raw=True)
    got = Explainer(model, channels_last=True).explain(x, return_raw=True)
    torch.testing.assert_close(got.logits, reference.logits, atol=1e-5, rtol=1e-5)
    assert torch.equal(got.predicted, reference.predicted)
    for method in PAPER_MAPS:
        torch.testing.assert_close(
            got.maps[method], reference.maps[method], atol=LAYOUT_ATOL, rtol=0
        )


@pytest.mark.usefixtures("bf16_claimed")
@pytest.mark.parametrize("name", ["tiny", "resnet18"])
@pytest.mark.parametrize("head", ["fp32", "forward"])
def test_bf16_maps_agree_with_fp32(name: str, head: str) -> None:
    model, x = model_and_inputs(name)
    reference = Explainer(model, channels_last=False).explain(x)
    got = Explainer(model, precision="bf16", head_precision=head).explain(x)
    assert got.logits.dtype == torch.float32
    torch.testing.assert_close(got.logits, reference.logits, atol=0.05, rtol=0.05)
    for method in PAPER_MAPS:
        ours, exact = got.maps[method], reference.maps[method]
        assert ours.dtype == torch.float32 and ours.shape == exact.shape
        assert float(pearson(ours, exact).min()) >= BF16_MIN_PEARSON, method
        changed = ((ours > 0.5) != (exact > 0.5)).float().mean()
        assert float(changed) <= BF16_MAX_MASK_CHANGE, method


@pytest.mark.usefixtures("bf16_claimed")
def test_bf16_runs_the_forward_in_bf16_and_the_head_in_fp32() -> None:
    """The target layer gets bf16 inputs; the layer after it gets fp32 inputs by default and
    bf16 with head_precision='forward'; autocast is off again once the call is done."""
    model = tiny_cnn(3)
    seen: list[torch.dtype] = []
    model.features[2].register_forward_pre_hook(lambda _m, args: seen.append(args[0].dtype))
    model.fc.register_forward_pre_hook(lambda _m, args: seen.append(args[0].dtype))
    x = random_inputs(2, size=16)
    Explainer(model, target_layer="features.2", precision="bf16").explain(x)
    assert seen == [torch.bfloat16, torch.float32]
    seen.clear()
    explainer = Explainer(model, target_layer="features.2", precision="bf16")
    explainer.head_precision = "forward"
    explainer.explain(x)
    assert seen == [torch.bfloat16, torch.bfloat16]
    assert not torch.is_autocast_enabled("cpu")


def test_bf16_without_native_support_falls_back_with_a_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(precision, "_cpu_flags", lambda: frozenset({"avx2"}))
    model, x = tiny_cnn(3), random_inputs(2, size=16)
    with pytest.warns(PrecisionWarning, match="bfloat16 is not supported"):
        got = Explainer(model, precision="bf16").explain(x)
    reference = Explainer(model, channels_last=False).explain(x)
    for method in PAPER_MAPS:
        torch.testing.assert_close(
            got.maps[method], reference.maps[method], atol=LAYOUT_ATOL, rtol=0
        )


def test_unknown_precision_is_named() -> None:
    with pytest.raises(ValueError, match="precision 'half'"):
        Explainer(tiny_cnn(), precision="half")
    with pytest.raises(ValueError, match="head precision 'bf16'"):
        Explainer(tiny_cnn(), head_precision="bf16")


def user_model(layout: str) -> TinyCNN:
    """A model as a user may hand it over: partly training, a frozen parameter, in the given
    memory layout."""
    model = tiny_cnn(3).train()
    model.features[0].eval()
    model.fc.bias.requires_grad_(False)
    if layout == "channels_last":
        model = model.to(memory_format=torch.channels_last)
    return model


class FailsAfterTarget(TinyCNN):
    def forward(self, x: Tensor) -> Tensor:
        self.features(x)
        raise RuntimeError("boom")


@pytest.mark.usefixtures("bf16_claimed")
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("mode", [("fp32", False), ("fp32", True), ("bf16", True)])
def test_model_left_as_the_user_had_it(
    layout: str, mode: tuple[str, bool], model_state: type
) -> None:
    model = user_model(layout)
    before = model_state(model)
    grad_mode = torch.is_grad_enabled()
    Explainer(model, precision=mode[0], channels_last=mode[1]).explain(random_inputs(2, size=16))
    map_function(model, "gradcam++", precision=mode[0], channels_last=mode[1])(
        random_inputs(2, size=16)
    )
    before.assert_unchanged(model)
    assert torch.is_grad_enabled() == grad_mode and not torch.is_autocast_enabled("cpu")

    failing = FailsAfterTarget(3).train()
    failing.fc.bias.requires_grad_(False)
    before = model_state(failing)
    explainer = Explainer(failing, target_layer="features.3", precision=mode[0])
    with pytest.raises(RuntimeError, match="boom"):
        explainer.explain(random_inputs(2, size=16))
    before.assert_unchanged(failing)
    assert not torch.is_autocast_enabled("cpu")


def test_map_function_fingerprint_names_a_non_default_precision(bf16_claimed: None) -> None:
    del bf16_claimed
    model = tiny_cnn(3)
    assert not hasattr(map_function(model, "gradcam"), "fingerprint")
    assert map_function(model, "gradcam", precision="bf16").fingerprint == "precision=bf16"  # type: ignore[attr-defined]


@pytest.mark.usefixtures("bf16_claimed")
@pytest.mark.parametrize("precision_name", ["fp32", "bf16"])
def test_a_bfloat16_model_stays_bfloat16(precision_name: str, model_state: type) -> None:
    model = tiny_cnn(3).to(torch.bfloat16)
    before = model_state(model)
    x = random_inputs(2, size=16).to(torch.bfloat16)
    result = Explainer(model, precision=precision_name).explain(x)
    assert result.maps["causal"].dtype == torch.float32
    assert bool(torch.isfinite(result.maps["gradcam++"]).all())
    before.assert_unchanged(model)
