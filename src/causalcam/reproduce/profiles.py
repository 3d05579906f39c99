"""How much of the paper's protocol a run does: :class:`Profile` and the named
:data:`PROFILES` (``paper`` for a GPU, ``quick`` for a 2-core CPU, ``tiny`` for tests).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .. import models
from ..errors import InputError
from ..evaluate import (
    DEFAULT_THRESHOLDS,
    TRANSFER_THRESHOLDS,
)


def _steps(low: float, high: float, step: float) -> tuple[float, ...]:
    count = round((high - low) / step) + 1
    return tuple(round(low + step * i, 4) for i in range(count))


@dataclass(frozen=True)
class Profile:
    """How much of the protocol a run does. ``limit``: images per class and split (None: all)."""

    name: str
    description: str
    size: int
    recipe: str
    epochs: int | None
    limit: int | None
    thresholds: tuple[float, ...]
    ablation_thresholds: tuple[float, ...]
    transfer_thresholds: tuple[float, ...] = TRANSFER_THRESHOLDS
    archs: tuple[str, ...] = models.PAPER_ARCHS
    rise_steps: int = 20
    n_boot: int = 1000
    qualitative_threshold: float = 0.3
    #: the bundled model (``causalcam.models.BUNDLED_MODELS``) used as the ResNet-18 when its
    #: input size is the profile's, instead of training one
    bundled: str | None = None
    #: precision of training (``causalcam.precision``; bf16 falls back to fp32 where the
    #: CPU or GPU does not run it natively)
    train_precision: str = "fp32"
    #: fields of the recipe changed for this profile (``causalcam train --set KEY=VALUE``)
    recipe_overrides: tuple[tuple[str, Any], ...] = ()
    #: a folder of committed networks (:mod:`causalcam.reproduce.weights`): a network found
    #: there under its architecture's name is used instead of being trained
    weights: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The profile's fields (part of every stage's fingerprint; no overrides or weights,
        no key: runs of profiles without them keep their stage fingerprints)."""
        values = dataclasses.asdict(self)
        for optional in ("recipe_overrides", "weights"):
            if not values[optional]:
                del values[optional]
        return values


PROFILES: dict[str, Profile] = {
    "paper": Profile(
        name="paper",
        description="the paper's protocol: 224 px, the he2020 recipe (50 epochs), 71 "
        "thresholds 0.10-0.80 for the curves and the ablation; meant for a GPU",
        size=224,
        recipe="he2020",
        epochs=None,
        limit=None,
        thresholds=DEFAULT_THRESHOLDS,
        ablation_thresholds=DEFAULT_THRESHOLDS,
        rise_steps=50,
    ),
    "quick": Profile(
        name="quick",
        description="reduced for a 2-core CPU: 112 px, the bundled ResNet-18 (cpu recipe) and "
        "the four other networks trained with the cpu recipe for 4 epochs, 8 thresholds "
        "0.10-0.80 (step 0.10) for the curves, 3 (0.2, 0.4, 0.6) for the ablation of 22 "
        "causal variants, 8 RISE "
        "steps, 200 bootstrap resamples; all 203 test images",
        size=112,
        recipe="cpu",
        epochs=4,
        limit=None,
        thresholds=_steps(0.10, 0.80, 0.10),
        ablation_thresholds=(0.2, 0.4, 0.6),
        rise_steps=8,
        n_boot=200,
        bundled="resnet18-112",
    ),
    "full-cpu": Profile(
        name="full-cpu",
        description="the paper's scale on a 2-core CPU: the bundled 224 px ResNet-18 (its "
        "recipe) and the four other networks trained from scratch at 224 px (scratch recipe "
        "with mixup 0.2, 120 epochs, bf16 where the CPU runs it; taken from --weights where "
        "committed there, else trained into RUN/models), 71 thresholds 0.10-0.80 "
        "(step "
        "0.01) for the curves, the paper's five for Tables 1-2, 5 (0.2-0.6) for the ablation "
        "of 22 causal variants, 20 RISE steps, 1000 bootstrap resamples; all 203 test images",
        size=224,
        recipe="scratch",
        epochs=120,
        limit=None,
        thresholds=_steps(0.10, 0.80, 0.01),
        ablation_thresholds=(0.2, 0.3, 0.4, 0.5, 0.6),
        rise_steps=20,
        n_boot=1000,
        bundled="resnet18-224",
        train_precision="bf16",
        recipe_overrides=(("mixup", 0.2),),
    ),
    "tiny": Profile(
        name="tiny",
        description="a smoke test: 48 px, 4 images per class and split, 2 epochs, "
        "8 thresholds; the numbers mean nothing",
        size=48,
        recipe="cpu",
        epochs=2,
        limit=4,
        thresholds=_steps(0.10, 0.80, 0.10),
        ablation_thresholds=(0.3, 0.5),
        rise_steps=4,
        n_boot=0,
    ),
}


def with_archs(profile: Profile, archs: Sequence[str]) -> Profile:
    """``profile`` on some of its networks (in its order; the first is the maps' source):
    the protocol on the networks at hand. Tables 1-2 need a network beside their source."""
    unknown = [arch for arch in archs if arch not in profile.archs]
    if unknown or not archs:
        wrong = f" ({', '.join(unknown)} is not one)" if unknown else ""
        raise InputError(
            f"--archs {','.join(archs)!r}: choose among the {profile.name} profile's networks "
            f"{', '.join(profile.archs)}{wrong}"
        )
    return dataclasses.replace(profile, archs=tuple(a for a in profile.archs if a in archs))


def get_profile(name: str) -> Profile:
    """The profile called ``name`` (``paper``, ``full-cpu``, ``quick`` or ``tiny``)."""
    if name not in PROFILES:
        raise InputError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}")
    return PROFILES[name]
