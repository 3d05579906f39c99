"""Committed weights: a trained run exported to fp16 with its record, read back and checked."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from causalcam.cli import app
from causalcam.data.fake import write_fake_dataset
from causalcam.errors import CheckpointError, InputError
from causalcam.models import load_checkpoint
from causalcam.reproduce.weights import read_weights, train_command
from causalcam.results import WEIGHTS_FORMAT
from causalcam.training import RECIPES, TrainConfig, train


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A one-epoch run of a tiny ResNet-18 on the fake data set, and the data's folder."""
    base = tmp_path_factory.mktemp("weights")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CAUSALCAM_CACHE", str(base / "cache"))
        root = write_fake_dataset(base / "covid-ct")
        config = TrainConfig(
            arch="resnet18",
            recipe="scratch",
            out_dir=base / "run",
            data_root=root,
            size=32,
            epochs=1,
            batch_size=8,
            seed=3,
            progress=False,
            device="cpu",
            overrides={"mixup": 0.2},
        )
        train(config)
    return base / "run", root


def test_export_records_what_the_fp16_file_scores(
    trained: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAUSALCAM_CACHE", str(tmp_path / "cache"))
    run, root = trained
    result = CliRunner().invoke(
        app,
        [
            "weights",
            "export",
            str(run),
            "--name",
            "resnet18-seed3",
            "--out",
            str(tmp_path / "w"),
            "--data",
            str(root),
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    record = read_weights(tmp_path / "w")["resnet18-seed3"]
    sidecar = json.loads((tmp_path / "w" / "resnet18-seed3.json").read_text())
    assert sidecar["format"] == WEIGHTS_FORMAT and record.arch == "resnet18"
    assert record.seed == 3 and record.epochs == 1 and record.best_epoch == 1
    assert record.recipe["mixup"] == 0.2 and record.recipe["name"] == "scratch"
    assert set(record.recipe) >= {"lr", "batch_size", "early_size", "ema"}
    # every floating tensor is stored in fp16
    stored = torch.load(tmp_path / "w" / "resnet18-seed3.pt", weights_only=True)
    floats = [t for t in stored["state_dict"].values() if t.is_floating_point()]
    assert floats and all(t.dtype == torch.float16 for t in floats)
    # the accuracies are those of the fp16 file, not of the fp32 run
    metrics = json.loads((run / "metrics.json").read_text())
    assert record.val_accuracy == pytest.approx(metrics["val"]["accuracy"], abs=0.2)
    loaded = load_checkpoint(tmp_path / "w" / "resnet18-seed3.pt")
    assert loaded.meta.arch == "resnet18"
    argv = shlex.split(record.command)
    assert argv[:4] == ["causalcam", "train", "--arch", "resnet18"]
    assert "mixup=0.2" in argv and "epochs=1" in argv and "size=32" in argv


def test_a_changed_file_or_a_missing_one_is_refused(
    trained: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from causalcam.reproduce.weights import export_weights

    monkeypatch.setenv("CAUSALCAM_CACHE", str(tmp_path / "cache"))
    run, root = trained
    export_weights(run, tmp_path, "net", root)
    (tmp_path / "net.pt").write_bytes((tmp_path / "net.pt").read_bytes() + b"x")
    with pytest.raises(CheckpointError, match=r"net\.pt.*SHA-256"):
        read_weights(tmp_path)
    (tmp_path / "net.pt").unlink()
    with pytest.raises(CheckpointError, match="missing"):
        read_weights(tmp_path)
    with pytest.raises(InputError, match="no finished training run"):
        export_weights(tmp_path / "nothing", tmp_path, "x", root)


def test_train_command_names_only_what_differs_from_the_recipe() -> None:
    import dataclasses

    recipe = dataclasses.asdict(RECIPES["scratch"]) | {"mixup": 0.2, "scale": [0.4, 1.0]}
    argv = shlex.split(train_command("resnet34", 1, recipe, "bf16", "runs/x"))
    assert argv.count("--set") == 1 and "mixup=0.2" in argv
    assert argv[argv.index("--seed") + 1] == "1" and argv[-3:] == ["--out", "runs/x", "--resume"]


def test_reproduce_uses_committed_weights_instead_of_training(
    trained: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    from causalcam.reproduce import RunSettings, get_profile, reproduce
    from causalcam.reproduce.weights import export_weights
    from causalcam.results import TrainResult

    monkeypatch.setenv("CAUSALCAM_CACHE", str(tmp_path / "cache"))
    run, root = trained
    quiet = RunSettings(progress=False)
    record = export_weights(run, tmp_path / "weights", "resnet18", root)
    profile = dataclasses.replace(
        get_profile("tiny"), size=32, archs=("resnet18",), weights=str(tmp_path / "weights")
    )
    reproduce(tmp_path / "run", profile, data_root=root, settings=quiet, stop_after="train")
    stored = json.loads((tmp_path / "run" / "results" / "train.json").read_text())
    row = TrainResult.from_json(stored.get("result", stored)).networks[0]
    assert row.checkpoint == str(tmp_path / "weights" / "resnet18.pt")
    assert row.test_accuracy == pytest.approx(record.test_accuracy)
    assert not (tmp_path / "run" / "models" / "resnet18").exists()  # nothing trained
    wrong = dataclasses.replace(profile, size=48)
    with pytest.raises(CheckpointError, match="32 px"):
        reproduce(tmp_path / "other", wrong, data_root=root, settings=quiet, stop_after="train")


def test_retrain_rebuilds_the_recorded_recipe(
    trained: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    from causalcam.reproduce.weights import export_weights, retrain_config

    monkeypatch.setenv("CAUSALCAM_CACHE", str(tmp_path / "cache"))
    run, root = trained
    record = export_weights(run, tmp_path / "w", "resnet18-seed3", root)
    config = retrain_config(record, tmp_path / "again", root)
    rebuilt = dataclasses.asdict(config.resolved_recipe())
    assert json.loads(json.dumps(rebuilt)) == json.loads(json.dumps(record.recipe))
    assert (config.arch, config.seed, config.precision) == ("resnet18", 3, record.precision)
    result = CliRunner().invoke(
        app, ["weights", "retrain", "resnet34", "--weights", str(tmp_path / "w"), "--quiet"]
    )
    assert result.exit_code == 1 and "no record 'resnet34'" in result.output
