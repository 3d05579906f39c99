"""Training recipes: :class:`Recipe` (the hyper-parameters of a run) and :data:`RECIPES`:
``he2020`` (He et al. 2020's published baseline), ``scratch`` (tuned for training without
pretrained weights) and ``cpu`` (``scratch`` at 112 px, sized for a 2-core CPU).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..errors import InputError


@dataclass(frozen=True)
class Recipe:
    """Hyper-parameters of a training run (all overridable from :class:`TrainConfig`)."""

    name: str
    size: int = 224  # model input side (pixels)
    train_resize: int = 256  # shorter side of the cached training images (then centre square)
    epochs: int = 50
    batch_size: int = 10
    optimizer: str = "adam"  # "adam" | "adamw" | "sgd"
    lr: float = 1e-4  # peak learning rate for "onecycle"
    weight_decay: float = 0.0
    schedule: str = "constant"  # "constant" | "onecycle" | "cosine"
    scale: tuple[float, float] = (0.5, 1.0)  # RandomResizedCrop area range
    hflip: bool = True
    rotate: float = 0.0  # max rotation, degrees
    jitter: float = 0.0  # brightness / contrast jitter amplitude
    erase: float = 0.0  # probability of erasing a random rectangle
    label_smoothing: float = 0.0
    ema: float = 0.0  # per-step EMA decay of the weights evaluated (0: no EMA)
    mixup: float = 0.0  # Beta(a, a) parameter of mixup (0: off)
    cutmix: float = 0.0  # Beta(a, a) parameter of cutmix (0: off); with mixup, one per batch
    gamma: float = 0.0  # gamma jitter: each image raised to exp(U(-gamma, gamma)) (0: off)
    blur: float = 0.0  # share of images blurred by a Gaussian of sigma ~ U(0.3, 1.5) px
    # progressive resizing: the first ``early_share`` of the epochs train on crops of
    # ``early_size`` pixels (0: off), the rest and every evaluation at ``size``
    early_size: int = 0
    early_share: float = 0.0

    def crop_size(self, epoch: int) -> int:
        """The side of the training crops in ``epoch`` (0-based)."""
        if self.early_size and epoch < round(self.epochs * self.early_share):
            return self.early_size
        return self.size


def parse_override(name: str, text: str) -> Any:
    """The value of :class:`Recipe` field ``name`` written as ``text`` (``"0.3,1"`` for a
    pair), typed like the field's default."""
    defaults: dict[str, Any] = {f.name: f.default for f in dataclasses.fields(Recipe)}
    if name not in defaults:
        raise InputError(f"unknown recipe option {name!r}; choose from {', '.join(defaults)}")
    default = defaults[name]
    try:
        if isinstance(default, tuple):
            return tuple(float(part) for part in text.split(","))
        if isinstance(default, bool):
            if text.lower() not in ("true", "false", "1", "0"):
                raise ValueError(text)
            return text.lower() in ("true", "1")
        return type(default)(text)
    except ValueError:
        raise InputError(
            f"recipe option {name}={text!r} is not of type {type(default).__name__}"
        ) from None


RECIPES: dict[str, Recipe] = {
    "he2020": Recipe(name="he2020"),
    "scratch": Recipe(
        name="scratch",
        epochs=80,
        batch_size=16,
        optimizer="adamw",
        lr=1e-3,
        weight_decay=0.05,
        schedule="onecycle",
        scale=(0.4, 1.0),
        rotate=10.0,
        jitter=0.1,
        erase=0.1,
        label_smoothing=0.1,
        ema=0.995,
    ),
}
RECIPES["cpu"] = dataclasses.replace(
    RECIPES["scratch"], name="cpu", size=112, train_resize=128, epochs=40
)


def recipe_changes(recipe: dict[str, Any]) -> dict[str, Any]:
    """The fields of a stored recipe that differ from the named recipe's (pairs as tuples).

    Args:
        recipe: a recipe as stored (``dataclasses.asdict`` of a :class:`Recipe`, or its JSON).

    Returns:
        Each changed field and its value, in the recipe's order.

    Raises:
        InputError: the recipe's name is not one of :data:`RECIPES`.
    """
    name = str(recipe.get("name", ""))
    if name not in RECIPES:
        raise InputError(f"recipe {name!r} is not one of causalcam's ({', '.join(RECIPES)})")
    base = dataclasses.asdict(RECIPES[name])
    changes = {}
    for key, value in recipe.items():
        if key == "name" or key not in base:
            continue
        default = base[key]
        if isinstance(default, tuple):
            value, default = tuple(float(v) for v in value), tuple(float(v) for v in default)
        if value != default:
            changes[key] = value
    return changes


def recipe_label(recipe: dict[str, Any]) -> str:
    """``scratch + mixup=0.2``: a stored recipe's name and the fields it changes from the named
    recipe (epochs and input size, shown elsewhere, left out)."""
    name = str(recipe.get("name", ""))
    if name not in RECIPES:
        return name
    changed = [
        f"{key}={','.join(map(str, value)) if isinstance(value, tuple) else value}"
        for key, value in recipe_changes(recipe).items()
        if key not in ("epochs", "size", "train_resize")
    ]
    return " + ".join([name, *changed])
