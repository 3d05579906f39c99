"""The training loop: a tiny run that resumes after an interruption, precision kept and
recorded (causalcam.training.loop)."""

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
    recipe_label,
    train,
)


@pytest.fixture
def fake_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CAUSALCAM_CACHE", str(tmp_path / "cache"))
    return write_fake_dataset(tmp_path / "covid-ct")


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


def test_progressive_resizing_trains_early_epochs_on_smaller_crops() -> None:
    recipe = dataclasses.replace(RECIPES["scratch"], epochs=10, early_size=128, early_share=0.6)
    assert [recipe.crop_size(e) for e in range(10)] == [128] * 6 + [224] * 4
    assert {RECIPES["scratch"].crop_size(e) for e in range(80)} == {224}
    assert "early_size=128" in recipe_label(dataclasses.asdict(recipe))


def test_progressive_run_trains_and_evaluates(
    fake_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import causalcam.training.loop as training

    sizes: list[int] = []

    def recording(images: torch.Tensor, recipe: Recipe, generator: torch.Generator) -> Any:
        sizes.append(recipe.size)
        return augment(images, recipe, generator)

    monkeypatch.setattr(training, "augment", recording)
    overrides = {"early_size": 24, "early_share": 0.5}
    result = train(_config(fake_root, tmp_path / "run", epochs=2, limit=2, overrides=overrides))
    assert len(result.history) == 2 and set(sizes) == {24, 32}
    assert sizes[0] == 24 and sizes[-1] == 32
    assert load_checkpoint(result.best_path).meta.preprocessing.size == 32
