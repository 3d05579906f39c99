"""Recipes, their overrides and labels (causalcam.training.recipes)."""

from __future__ import annotations

import dataclasses

import pytest

from causalcam.errors import InputError
from causalcam.training import (
    RECIPES,
    TrainConfig,
    parse_override,
    recipe_label,
)


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
