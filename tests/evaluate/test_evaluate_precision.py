"""The threshold evaluation and RISE in channels-last memory and in bf16: the fp32 results
within stated tolerances, bf16 results cached apart from fp32 ones, and the model left as
the user had it (values, dtype, memory format, flags), also after an error.

bf16 numerics are checked on every CPU: ``_cpu_flags`` is patched to claim support (where
the CPU lacks native bf16, PyTorch emulates the same rounding)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from evaluate_helpers import IDENTITY, SIZE, BrightSpotModel, column_ramp, spot_data
from torch import Tensor, nn

from causalcam import precision
from causalcam.evaluate import (
    EvaluationSettings,
    Network,
    RiseSettings,
    rise_auc,
    run_deletion_insertion,
)
from causalcam.evaluate.rise import rise_curves
from causalcam.evaluate.threshold import threshold_correct
from causalcam.precision import PrecisionWarning


@pytest.fixture
def bf16_claimed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(precision, "_cpu_flags", lambda: frozenset({"avx512_bf16"}))


class RecordingCNN(nn.Module):
    """A seeded small CNN with BatchNorm (running statistics set) that records the float32
    logits of every forward pass; can fail on demand."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.Conv2d(8, 8, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(8, 2),
        )
        self.body[1].running_mean.uniform_(-0.2, 0.2)
        self.body[1].running_var.uniform_(0.5, 2.0)
        self.logits: list[Tensor] = []
        self.fail = False

    def forward(self, x: Tensor) -> Tensor:
        if self.fail:
            raise RuntimeError("boom")
        out = self.body(x)
        self.logits.append(out.detach().float())
        return out


def scans() -> tuple[Tensor, Tensor, Tensor]:
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (6, SIZE, SIZE), dtype=torch.uint8, generator=generator)
    levels = torch.randint(0, 4, (6, SIZE, SIZE), generator=generator)
    return images, torch.arange(6) % 2, levels


def recorded_logits(model: RecordingCNN, plan_args: tuple[str, bool]) -> Tensor:
    images, labels, levels = scans()
    model.logits.clear()
    threshold_correct(
        Network(model, IDENTITY),
        images,
        labels,
        levels,
        3,
        "deletion",
        settings=EvaluationSettings(
            batch_size=5, progress=False, precision=plan_args[0], channels_last=plan_args[1]
        ),
    )
    return torch.cat(model.logits)


@pytest.mark.usefixtures("bf16_claimed")
def test_threshold_evaluation_layouts_and_bf16_agree_with_fp32() -> None:
    model = RecordingCNN().eval()
    reference = recorded_logits(model, ("fp32", False))
    torch.testing.assert_close(recorded_logits(model, ("fp32", True)), reference, atol=1e-5, rtol=0)
    # bf16: 8-bit mantissa in convolutions and the linear layer
    torch.testing.assert_close(
        recorded_logits(model, ("bf16", True)), reference, atol=0.03, rtol=0.03
    )


@pytest.mark.usefixtures("bf16_claimed")
def test_bf16_curves_are_cached_apart_from_fp32(tmp_path: object) -> None:
    """Same maps, other precision: computed again, not read from the fp32 cache; a rerun in
    either precision computes nothing. The bright-spot model's curves are exact in both."""
    images, labels = spot_data([None, 3, 7, None, 12])
    model = BrightSpotModel()
    network = Network(model, IDENTITY)
    curves = {}
    for precision_name, computes in (
        ("fp32", True),
        ("bf16", True),
        ("fp32", False),
        ("bf16", False),
    ):
        seen = model.seen
        curves[precision_name] = run_deletion_insertion(
            {"m": network},
            {"ramp": column_ramp},
            images,
            labels,
            source="m",
            settings=EvaluationSettings(
                thresholds=(0.2, 0.5),
                out_dir=tmp_path,  # type: ignore[arg-type]
                progress=False,
                precision=precision_name,
            ),
        )
        assert (model.seen > seen) == computes, precision_name
    fp32, bf16 = curves["fp32"], curves["bf16"]
    for a, b in zip(fp32, bf16, strict=True):
        assert (a.correct == b.correct).all() and (a.bits == b.bits).all()


def test_evaluation_bf16_without_support_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(precision, "_cpu_flags", lambda: frozenset({"avx2"}))
    images, labels = spot_data([None, 3])
    with pytest.warns(PrecisionWarning, match="bfloat16"):
        run_deletion_insertion(
            {"m": Network(BrightSpotModel(), IDENTITY)},
            {"ramp": column_ramp},
            images,
            labels,
            source="m",
            settings=EvaluationSettings(thresholds=(0.5,), progress=False, precision="bf16"),
        )
    with pytest.raises(ValueError, match="unknown precision 'half'"):
        run_deletion_insertion(
            {"m": Network(BrightSpotModel(), IDENTITY)},
            {"ramp": column_ramp},
            images,
            labels,
            source="m",
            settings=EvaluationSettings(progress=False, precision="half"),
        )


@pytest.mark.usefixtures("bf16_claimed")
def test_rise_layouts_and_bf16_agree_with_fp32() -> None:
    model = RecordingCNN().eval()
    images, _, _ = scans()
    maps = torch.rand(images.shape, generator=torch.Generator().manual_seed(2))
    network = Network(model, IDENTITY)
    options = RiseSettings(steps=4, progress=False)
    reference = rise_auc(network, images, maps, settings=replace(options, channels_last=False))
    layout = rise_auc(network, images, maps, settings=replace(options, channels_last=True))
    bf16 = rise_auc(network, images, maps, settings=replace(options, precision="bf16"))
    for got, atol in ((layout, 1e-5), (bf16, 0.02)):
        for curve in ("deletion", "insertion"):
            torch.testing.assert_close(
                torch.from_numpy(getattr(got, curve)),
                torch.from_numpy(getattr(reference, curve)),
                atol=atol,
                rtol=0,
            )


def user_model() -> RecordingCNN:
    """Partly training, a frozen parameter, channels-last weights: as a user may pass it."""
    model = RecordingCNN().train()
    model.body[1].eval()
    model.body[7].bias.requires_grad_(False)
    return model.to(memory_format=torch.channels_last)


@pytest.mark.usefixtures("bf16_claimed")
@pytest.mark.parametrize("mode", [("fp32", False), ("fp32", True), ("bf16", True)])
@pytest.mark.parametrize("fail", [False, True])
def test_evaluation_and_rise_leave_the_model_as_it_was(
    mode: tuple[str, bool], fail: bool, model_state: type
) -> None:
    model = user_model()
    model.fail = fail
    before = model_state(model)
    images, labels, levels = scans()
    settings = EvaluationSettings(progress=False, precision=mode[0], channels_last=mode[1])
    network = Network(model, IDENTITY)
    runs = [
        lambda: threshold_correct(
            network, images, labels, levels, 3, "insertion", settings=settings
        ),
        lambda: rise_curves(
            model,
            torch.randn(2, 3, SIZE, SIZE),
            torch.rand(2, SIZE, SIZE),
            deletion_baseline=torch.zeros(2, 3, SIZE, SIZE),
            insertion_baseline=torch.zeros(2, 3, SIZE, SIZE),
            settings=RiseSettings(
                steps=3, progress=False, precision=mode[0], channels_last=mode[1]
            ),
        ),
    ]
    for run in runs:
        if fail:
            with pytest.raises(RuntimeError, match="boom"):
                run()
        else:
            run()
        before.assert_unchanged(model)
        assert not torch.is_autocast_enabled("cpu") and torch.is_grad_enabled()
