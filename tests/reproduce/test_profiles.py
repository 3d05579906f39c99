"""The reproduction's profiles: what each promises, and the training each asks for."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from causalcam.errors import CheckpointError, InputError
from causalcam.reproduce import PROFILES, get_profile, with_archs
from causalcam.reproduce import stages as stages_module
from causalcam.reproduce.context import RunContext, RunSettings
from causalcam.reproduce.run import skip_reason


def test_full_cpu_is_the_papers_scale() -> None:
    profile = get_profile("full-cpu")
    assert profile.size == 224 and profile.limit is None
    assert len(profile.archs) == 5 and profile.recipe == "scratch" and profile.epochs == 120
    assert profile.thresholds[0] == pytest.approx(0.10) and profile.thresholds[-1] == 0.80
    assert len(profile.thresholds) == 71  # the paper's step of 0.01
    assert profile.transfer_thresholds == PROFILES["paper"].transfer_thresholds
    assert profile.train_precision == "bf16" and profile.bundled == "resnet18-224"


def test_unknown_profiles_name_the_choices() -> None:
    with pytest.raises(InputError, match="full-cpu"):
        get_profile("huge")


def test_the_train_stage_trains_in_the_profiles_precision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Any] = []

    def fake_train(config: Any) -> None:
        seen.append(config)
        metrics = {
            "test": {"accuracy": 0.7},
            "val": {"accuracy": 0.8},
            "recipe": {"epochs": 120, "name": "scratch", "size": 224, "mixup": 0.2},
        }
        config.out_dir.mkdir(parents=True)
        (config.out_dir / "metrics.json").write_text(json.dumps(metrics))

    monkeypatch.setattr(stages_module, "train", fake_train)
    quiet = RunSettings(progress=False)
    ctx = RunContext(tmp_path, get_profile("full-cpu"), None, quiet, lambda _: None)
    row = stages_module._train_one(ctx, "resnet34", {})
    assert [c.precision for c in seen] == ["bf16"] and seen[0].epochs == 120
    assert seen[0].overrides == {"mixup": 0.2}  # the recipe chosen on validation
    assert row.test_accuracy == 0.7 and row.checkpoint.endswith("resnet34/best.pt")
    assert row.recipe == "scratch + mixup=0.2"
    stages_module._train_one(ctx, "resnet34", {})  # trained before: reused, not trained again
    assert len(seen) == 1


def test_quick_reuses_the_bundled_112_px_model_by_name() -> None:
    from causalcam.models import BUNDLED_MODELS, bundled_model
    from causalcam.reproduce.stages import _bundled

    quick = get_profile("quick")
    assert quick.bundled in BUNDLED_MODELS
    loaded = _bundled(quick)
    assert loaded is not None and loaded.meta.preprocessing.size == quick.size == 112
    full = get_profile("full-cpu")
    bundled = _bundled(full)  # the recipe's seed 0: the four others are trained like it
    assert bundled is not None and bundled.meta.preprocessing.size == full.size == 224
    recipe = bundled.meta.config["recipe"]
    assert recipe["name"] == full.recipe and recipe["epochs"] == full.epochs
    assert all(recipe[key] == value for key, value in full.recipe_overrides)
    assert _bundled(PROFILES["paper"]) is None  # trains its own with the he2020 recipe
    with pytest.raises(CheckpointError, match="causalcam ships resnet18-224, resnet18-112"):
        bundled_model("resnet99")


def test_a_profile_on_some_of_its_networks() -> None:
    full = get_profile("full-cpu")
    subset = with_archs(full, ["densenet121", "resnet18"])
    assert subset.archs == ("resnet18", "densenet121")  # the profile's order: its source first
    assert subset.to_dict()["archs"] != full.to_dict()["archs"]  # stages of a subset differ
    assert skip_reason("transfer", subset) is None
    alone = with_archs(full, ["resnet18"])
    assert skip_reason("transfer", alone) == "Tables 1-2 need networks beside resnet18 (--archs)"
    assert skip_reason("curves", alone) is None
    with pytest.raises(InputError, match="vgg16 is not one"):
        with_archs(full, ["resnet18", "vgg16"])
    with pytest.raises(InputError, match="choose among"):
        with_archs(full, [])
