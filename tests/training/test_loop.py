"""Training: metrics, augmentation, recipes, and a tiny run that resumes after an interruption."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from causalcam import precision
from causalcam.data.fake import write_fake_dataset
from causalcam.errors import InputError
from causalcam.models import load_checkpoint, read_checkpoint
from causalcam.precision import PrecisionWarning
from causalcam.training import (
    RECIPES,
    Recipe,
    TrainConfig,
    augment,
    classification_metrics,
    mix,
    parse_override,
    recipe_label,
    roc_auc,
    train,
)


@pytest.fixture
def fake_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CAUSALCAM_CACHE", str(tmp_path / "cache"))
    return write_fake_dataset(tmp_path / "covid-ct")


def test_metrics_by_hand() -> None:
    labels = torch.tensor([0, 0, 0, 1, 1])
    p_covid = torch.tensor([0.9, 0.6, 0.3, 0.4, 0.1])
    metrics = classification_metrics(torch.stack([p_covid, 1 - p_covid], 1), labels)
    assert metrics["confusion"] == [[2, 1], [0, 2]]  # rows true, columns predicted
    assert metrics["accuracy"] == pytest.approx(4 / 5)
    assert metrics["precision"] == 1.0 and metrics["recall"] == pytest.approx(2 / 3)
    assert metrics["f1"] == pytest.approx(0.8)
    # pairs (pos, neg): 0.9>0.4,0.1; 0.6>0.4,0.1; 0.3<0.4, 0.3>0.1 -> 5 of 6
    assert metrics["auc"] == pytest.approx(5 / 6)
    assert roc_auc(torch.tensor([0.5, 0.5]), torch.tensor([True, False])) == 0.5
    assert classification_metrics(torch.tensor([[0.2, 0.8]]), torch.tensor([1]))["auc"] is None


def test_augment_shapes_range_and_determinism() -> None:
    images = torch.randint(0, 256, (6, 40, 40), dtype=torch.uint8)
    recipe = RECIPES["scratch"]
    small = type(recipe)(**{**recipe.__dict__, "size": 24})
    first = augment(images, small, torch.Generator().manual_seed(3))
    again = augment(images, small, torch.Generator().manual_seed(3))
    other = augment(images, small, torch.Generator().manual_seed(4))
    assert first.shape == (6, 24, 24) and first.dtype == torch.float32
    assert float(first.min()) >= 0 and float(first.max()) <= 1
    assert torch.equal(first, again) and not torch.equal(first, other)


def test_augment_identity_when_crop_is_whole_image() -> None:
    ramp = torch.arange(32, dtype=torch.uint8).repeat(32, 1)[None] * 8
    plain = type(RECIPES["he2020"])(name="t", size=32, scale=(1.0, 1.0), hflip=False)
    out = augment(ramp, plain, torch.Generator().manual_seed(0))
    # aspect ratio jitter stretches slightly, but the image stays a left-to-right ramp
    assert torch.all(out[0, :, 1:] >= out[0, :, :-1] - 1e-6)
    assert abs(float(out.mean()) - float(ramp.float().mean() / 255)) < 0.05


def test_gamma_jitter_keeps_black_white_and_order() -> None:
    ramp = torch.arange(32, dtype=torch.uint8).repeat(32, 1)[None].repeat(4, 1, 1) * 8
    plain = type(RECIPES["he2020"])(name="t", size=32, scale=(1.0, 1.0), hflip=False)
    graded = dataclasses.replace(plain, gamma=0.5)
    base = augment(ramp, plain, torch.Generator().manual_seed(0))
    out = augment(ramp, graded, torch.Generator().manual_seed(0))
    assert float(out.min()) >= 0 and float(out.max()) <= 1
    assert torch.all(out[:, :, 1:] >= out[:, :, :-1] - 1e-6)  # still a left-to-right ramp
    assert not torch.allclose(out, base)  # the exponents moved the grey levels
    # the crop is drawn before the exponent: the same pixels, reshaped grey levels
    assert torch.equal(out == 0, base == 0)


def test_blur_spreads_an_impulse_and_keeps_flat_images() -> None:
    from causalcam.training.augmentation import BLUR_SIGMA, _blur

    impulse = torch.zeros(3, 21, 21)
    impulse[:, 10, 10] = 1.0
    out = _blur(impulse, 1.0, torch.Generator().manual_seed(0))
    assert out.sum((1, 2)) == pytest.approx([1.0] * 3, abs=1e-5)  # mass is kept
    assert torch.allclose(out, out.flip(1), atol=1e-6) and torch.allclose(out, out.flip(2))
    assert torch.all(out[:, 10, 10] < 1.0)  # spread over the neighbours
    peak = 1 / (2 * torch.pi * BLUR_SIGMA[1] ** 2)  # the widest kernel's centre value
    assert torch.all(out[:, 10, 10] > peak * 0.9)
    flat = torch.full((2, 16, 16), 0.4)
    assert torch.allclose(_blur(flat, 1.0, torch.Generator()), flat, atol=1e-6)
    noise = torch.rand(8, 16, 16, generator=torch.Generator().manual_seed(1))
    assert torch.equal(_blur(noise, 0.0, torch.Generator()), noise)  # none chosen: unchanged


def test_recipe_overrides_and_errors() -> None:
    recipe = TrainConfig(recipe="he2020", size=64, epochs=3).resolved_recipe()
    assert (recipe.size, recipe.train_resize, recipe.epochs, recipe.lr) == (64, 73, 3, 1e-4)
    he = RECIPES["he2020"]
    assert (he.train_resize, he.size, he.scale, he.optimizer, he.batch_size) == (
        256,
        224,
        (0.5, 1.0),
        "adam",
        10,
    )
    with pytest.raises(InputError, match="unknown recipe 'fast'"):
        TrainConfig(recipe="fast").resolved_recipe()
    with pytest.raises(InputError, match="unknown recipe option"):
        TrainConfig(overrides={"momentum": 0.9}).resolved_recipe()


def _config(root: Path, out: Path, **changes: Any) -> TrainConfig:
    values: dict[str, Any] = {
        "arch": "resnet18",
        "recipe": "scratch",
        "out_dir": out,
        "data_root": root,
        "size": 32,
        "epochs": 2,
        "batch_size": 8,
        "seed": 5,
        "progress": False,
        "device": "cpu",
    }
    return TrainConfig(**(values | changes))


def test_interrupted_run_resumes_to_the_same_result(fake_root: Path, tmp_path: Path) -> None:
    straight = train(_config(fake_root, tmp_path / "straight"))

    def crash(epoch: int, record: dict[str, Any]) -> None:
        raise KeyboardInterrupt  # stands in for kill -9 right after epoch 0 was saved

    interrupted = _config(fake_root, tmp_path / "resumed")
    with pytest.raises(KeyboardInterrupt):
        train(interrupted, on_epoch_end=crash)
    assert read_checkpoint(tmp_path / "resumed" / "last.pt")["train_state"]["epoch"] == 0
    with pytest.raises(InputError, match="already holds a run"):
        train(interrupted)
    seen: list[int] = []
    resumed = train(
        _config(fake_root, tmp_path / "resumed", resume=True),
        on_epoch_end=lambda epoch, record: seen.append(epoch),
    )
    assert seen == [1]  # only the unfinished epoch ran
    assert [r["epoch"] for r in resumed.history] == [0, 1]
    for a, b in zip(straight.history, resumed.history, strict=True):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
        assert a["val"]["accuracy"] == b["val"]["accuracy"]
    assert resumed.metrics["test"]["accuracy"] == straight.metrics["test"]["accuracy"]

    saved = json.loads((tmp_path / "resumed" / "metrics.json").read_text())
    assert saved["test"]["n"] == 8 and saved["val"]["n"] == 8
    assert set(saved["test"]) >= {"accuracy", "f1", "auc", "confusion"}
    best = load_checkpoint(resumed.best_path, expect_arch="resnet18", expect_classes=2)
    assert best.meta.recipe == "scratch" and best.meta.seed == 5
    assert best.meta.preprocessing.size == 32 and best.meta.epoch == resumed.best_epoch
    assert best.meta.metrics["test"] == saved["test"] and best.meta.data_checksum


def test_resume_refuses_a_different_recipe(fake_root: Path, tmp_path: Path) -> None:
    train(_config(fake_root, tmp_path / "run", epochs=1, limit=2))
    with pytest.raises(InputError, match="cannot resume"):
        train(_config(fake_root, tmp_path / "run", epochs=1, limit=2, lr=0.1, resume=True))


KILLED_RUN = """
import sys, time
from pathlib import Path
from causalcam.training import TrainConfig, train
def pause(epoch, record):
    print("saved", epoch, flush=True)
    time.sleep(120)
train(TrainConfig(arch="resnet18", recipe="scratch", out_dir=Path(sys.argv[2]),
      data_root=Path(sys.argv[1]), size=32, epochs=2, batch_size=8, seed=5, progress=False,
      device="cpu"), on_epoch_end=pause)
"""


@pytest.mark.slow
def test_resume_after_kill_9(fake_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "killed"
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_RUN, str(fake_root), str(out)],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    assert child.stdout is not None
    assert child.stdout.readline().split() == ["saved", "0"]
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert list(out.glob(".*.tmp")) == []  # no half-written files left behind
    resumed = train(_config(fake_root, out, resume=True))
    assert [r["epoch"] for r in resumed.history] == [0, 1]
    assert resumed.metrics["test"]["n"] == 8


def test_mixup_and_cutmix_weights_and_determinism() -> None:
    images = torch.rand(6, 16, 16)
    labels = torch.tensor([0, 1, 0, 1, 0, 1])
    same, kept, lam = mix(images, labels, Recipe(name="t"), torch.Generator().manual_seed(0))
    assert same is images and kept is labels and lam == 1.0
    mixup = Recipe(name="t", mixup=0.4)
    mixed, partner, lam = mix(images, labels, mixup, torch.Generator().manual_seed(1))
    again, _, lam_again = mix(images, labels, mixup, torch.Generator().manual_seed(1))
    assert torch.equal(mixed, again) and lam == lam_again and 0.05 < lam < 0.95
    # each mixed image is lam * itself + (1 - lam) * an image carrying the partner label
    for i in range(6):
        rest = (mixed[i] - lam * images[i]) / (1 - lam)
        j = int((images - rest).abs().amax((1, 2)).argmin())
        assert torch.allclose(images[j], rest, atol=1e-4) and labels[j] == partner[i]
    cutmix = Recipe(name="t", cutmix=1.0)
    for seed in range(5):
        cut, partner, lam = mix(images, labels, cutmix, torch.Generator().manual_seed(seed))
        box = (cut != images).any(0)  # the pasted square (images differ everywhere)
        assert float(box.float().mean()) == pytest.approx(1 - lam, abs=1e-6)
        if box.any():
            rows, cols = torch.nonzero(box, as_tuple=True)
            side = int(rows.max() - rows.min()) + 1
            assert int(box.sum()) == side**2 == (int(cols.max() - cols.min()) + 1) ** 2


def test_parse_override_types_and_errors() -> None:
    assert parse_override("ema", "0.999") == 0.999
    assert parse_override("epochs", "120") == 120
    assert parse_override("scale", "0.3,1") == (0.3, 1.0)
    assert parse_override("hflip", "false") is False
    assert parse_override("optimizer", "sgd") == "sgd"
    with pytest.raises(InputError, match="unknown recipe option 'momentum'"):
        parse_override("momentum", "0.9")
    with pytest.raises(InputError, match="epochs='many' is not of type int"):
        parse_override("epochs", "many")


@pytest.mark.parametrize("requested", ["fp32", "bf16"])
def test_precision_is_used_recorded_and_restored_on_loading(
    fake_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, requested: str
) -> None:
    monkeypatch.setattr(precision, "_cpu_flags", lambda: frozenset({"avx512_bf16"}))
    seen: list[torch.dtype] = []

    def spy(module: torch.nn.Module, args: Any, output: Any) -> None:
        if isinstance(module, torch.nn.Conv2d) and module.training:
            seen.append(output.dtype)

    hooked = torch.nn.modules.module.register_module_forward_hook(spy)
    try:
        result = train(
            _config(fake_root, tmp_path / requested, epochs=1, limit=2, precision=requested)
        )
    finally:
        hooked.remove()
    expected = torch.bfloat16 if requested == "bf16" else torch.float32
    assert expected in seen
    payload = read_checkpoint(tmp_path / requested / "last.pt")
    assert payload["meta"]["config"]["compute"] == {"precision": requested, "channels_last": True}
    assert all(v.is_contiguous() for v in payload["state_dict"].values())
    best = load_checkpoint(result.best_path)
    assert next(best.model.parameters()).dtype == torch.float32
    saved = json.loads((tmp_path / requested / "metrics.json").read_text())
    assert saved["compute"]["precision"] == requested


def test_bf16_without_support_falls_back_to_fp32_with_a_warning(
    fake_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(precision, "_cpu_flags", lambda: frozenset({"avx2"}))
    with pytest.warns(PrecisionWarning, match="bfloat16 is not supported"):
        train(_config(fake_root, tmp_path / "run", epochs=1, limit=2, precision="bf16"))
    compute = read_checkpoint(tmp_path / "run" / "last.pt")["meta"]["config"]["compute"]
    assert compute["precision"] == "fp32"


def test_bf16_run_resumes_to_the_same_result_and_keeps_its_precision(
    fake_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(precision, "_cpu_flags", lambda: frozenset({"avx512_bf16"}))
    options: dict[str, Any] = {
        "limit": 3,
        "precision": "bf16",
        "overrides": {"mixup": 0.2, "cutmix": 1.0},
    }
    straight = train(_config(fake_root, tmp_path / "straight", **options))

    def crash(epoch: int, record: dict[str, Any]) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(_config(fake_root, tmp_path / "resumed", **options), on_epoch_end=crash)
    with pytest.raises(InputError, match="trained in bf16, not fp32"):
        fp32 = options | {"precision": "fp32", "resume": True}
        train(_config(fake_root, tmp_path / "resumed", **fp32))
    resumed = train(_config(fake_root, tmp_path / "resumed", **options, resume=True))
    for a, b in zip(straight.history, resumed.history, strict=True):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
        assert a["val"]["accuracy"] == b["val"]["accuracy"]
    assert resumed.metrics["test"]["accuracy"] == straight.metrics["test"]["accuracy"]


def test_fp16_on_a_cpu_falls_back_to_fp32(fake_root: Path, tmp_path: Path) -> None:
    with pytest.warns(PrecisionWarning, match="only used on CUDA"):
        train(_config(fake_root, tmp_path / "run", epochs=1, limit=2, precision="fp16"))
    compute = read_checkpoint(tmp_path / "run" / "last.pt")["meta"]["config"]["compute"]
    assert compute == {"precision": "fp32", "channels_last": True}
    with pytest.raises(InputError, match="unknown precision 'fp8'"):
        train(_config(fake_root, tmp_path / "other", epochs=1, limit=2, precision="fp8"))


def test_recipe_label_names_the_fields_a_run_changed() -> None:
    stored = dataclasses.asdict(
        TrainConfig(
            recipe="scratch", epochs=120, size=112, overrides={"mixup": 0.2}
        ).resolved_recipe()
    )
    assert recipe_label(stored) == "scratch + mixup=0.2"  # epochs and size have columns
    stored["scale"] = [0.25, 1.0]  # as JSON stores a pair
    assert recipe_label(stored) == "scratch + scale=0.25,1.0 + mixup=0.2"
    assert recipe_label(dataclasses.asdict(RECIPES["cpu"])) == "cpu"
    assert recipe_label({"name": "someone-elses"}) == "someone-elses"
