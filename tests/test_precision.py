"""Precision resolution, fallback warnings and the channels-last context."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from causalcam import precision
from causalcam.errors import InputError
from causalcam.precision import PrecisionWarning, compute_plan, memory_format, resolve_precision


def test_fp32_is_always_fp32() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_precision("fp32", "cpu") == "fp32"


def test_unknown_precision_names_the_choices() -> None:
    with pytest.raises(InputError, match="bf16"):
        resolve_precision("half", "cpu")


def test_bf16_without_support_falls_back_with_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(precision, "_cpu_flags", lambda: frozenset({"avx2"}))
    with pytest.warns(PrecisionWarning, match="bfloat16"):
        assert resolve_precision("bf16", "cpu") == "fp32"
    assert resolve_precision("auto", "cpu") == "fp32"


def test_bf16_with_support(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(precision, "_cpu_flags", lambda: frozenset({"avx512_bf16"}))
    assert resolve_precision("bf16", "cpu") == "bf16"
    assert resolve_precision("auto", "cpu") == "bf16"
    assert compute_plan("cpu", "bf16").dtype == torch.bfloat16


def test_fp16_on_cpu_falls_back() -> None:
    with pytest.warns(PrecisionWarning, match="float16"):
        assert resolve_precision("fp16", "cpu") == "fp32"


def test_plan_inputs_are_channels_last() -> None:
    plan = compute_plan("cpu", "fp32", channels_last=True)
    x = plan.inputs(torch.randn(2, 3, 8, 8))
    assert x.is_contiguous(memory_format=torch.channels_last)
    assert (
        not compute_plan("cpu", channels_last=False)
        .inputs(torch.randn(2, 3, 8, 8))
        .is_contiguous(memory_format=torch.channels_last)
    )


def test_memory_format_restores_layout_and_values_after_error() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    before = {k: (v.clone(), v.stride()) for k, v in model.state_dict().items()}
    with pytest.raises(RuntimeError, match="boom"), memory_format(model, True):
        weight = model[0].weight
        assert weight.is_contiguous(memory_format=torch.channels_last)
        assert not weight.is_contiguous()
        raise RuntimeError("boom")
    for k, v in model.state_dict().items():
        assert v.stride() == before[k][1], k
        torch.testing.assert_close(v, before[k][0], rtol=0, atol=0)


def test_channels_last_forward_matches_contiguous() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 2, 3)).eval()
    x = torch.randn(2, 3, 16, 16)
    expected = model(x)
    plan = compute_plan("cpu", "fp32", channels_last=True)
    with memory_format(model, True), torch.no_grad():
        got = model(plan.inputs(x))
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_cpu_vector_extensions_name_the_widest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(precision, "_cpu_flags", lambda: frozenset({"avx2", "avx512f", "sse4_2"}))
    assert precision.cpu_vector_extensions() == "avx512f"
    monkeypatch.setattr(precision, "_cpu_flags", lambda: frozenset({"sse4_2"}))
    assert precision.cpu_vector_extensions() == "none"
