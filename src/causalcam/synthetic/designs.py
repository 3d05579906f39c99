"""The three designs of the ground-truth benchmark (docs/method.md, "Ground truth: planted
cause and context"): labels, which features each image carries, which features are cause and
context, which class is explained against which, and the interventions.

>>> data = generate(Design("shortcut", rho=0.95), n=8, seed=0, split="train")
>>> data.images.shape, data.masks["lesion"].shape
(torch.Size([8, 64, 64]), torch.Size([8, 64, 64]))
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

import torch
from torch import Tensor

from ..errors import InputError
from ..results import JsonForm
from .phantom import Scene, draw_scene, feature_masks, render

SHORTCUT: Final = "shortcut"
SHARED: Final = "shared"
CONTRAST: Final = "contrast"
DESIGN_NAMES: Final[tuple[str, ...]] = (SHORTCUT, SHARED, CONTRAST)
#: The shortcut rates of docs/method.md; 0.5 is the null case.
SHORTCUT_RHOS: Final[tuple[float, ...]] = (0.5, 0.8, 0.95, 1.0)
SPLITS: Final[tuple[str, ...]] = ("train", "test")
#: the planted cause of every design (a lesion-like texture in a lung field)
LESION: Final = "lesion"
#: ``clean``: the test images as drawn; ``context_removed``: the cause alone (context off);
#: ``context_alone``: the context as the training association places it, causes off;
#: ``context_swapped``: the context placed on the classes it does not go with in training.
INTERVENTIONS: Final[tuple[str, ...]] = (
    "clean",
    "context_removed",
    "context_alone",
    "context_swapped",
)

#: Per design: class names, cause features, context feature.
_CLASSES: Final[dict[str, tuple[str, ...]]] = {
    SHORTCUT: ("clear", "lesion"),
    SHARED: ("clear", "A", "B"),
    CONTRAST: ("Q", "P"),
}
_CAUSES: Final[dict[str, tuple[str, ...]]] = {
    SHORTCUT: ("lesion",),
    SHARED: ("lesion", "ring"),
    CONTRAST: ("lesion",),
}
_CONTEXT: Final[dict[str, str]] = {SHORTCUT: "glyph", SHARED: "glyph", CONTRAST: "rim"}


@dataclass(frozen=True)
class Design(JsonForm):
    """One configuration: ``name`` in ``DESIGN_NAMES``, the shortcut rate ``rho`` (``shortcut``
    only), image ``size`` in pixels (voxels) and ``ndim`` (2 or 3)."""

    name: str
    rho: float = 0.95
    size: int = 64
    ndim: int = 2

    def __post_init__(self) -> None:
        if self.name not in DESIGN_NAMES:
            raise InputError(f"unknown design {self.name!r}; known: {', '.join(DESIGN_NAMES)}")
        if not 0.0 <= self.rho <= 1.0:
            raise InputError(f"rho must lie in [0, 1], got {self.rho}")

    @property
    def label(self) -> str:
        """A short name, e.g. ``shortcut-0.95`` or ``shared``."""
        return f"{self.name}-{self.rho:g}" if self.name == SHORTCUT else self.name

    @property
    def classes(self) -> tuple[str, ...]:
        return _CLASSES[self.name]

    @property
    def causes(self) -> tuple[str, ...]:
        """The cause features (``shared``: ``lesion`` causes A, ``ring`` causes B)."""
        return _CAUSES[self.name]

    @property
    def context(self) -> str:
        """The context feature."""
        return _CONTEXT[self.name]

    @property
    def is_null(self) -> bool:
        """The null case: a shortcut that carries no information about the label."""
        return self.name == SHORTCUT and self.rho == 0.5


def default_designs(size: int = 64) -> tuple[Design, ...]:
    """Every configuration of docs/method.md: the shortcut at each rho, shared, contrast."""
    shortcuts = tuple(Design(SHORTCUT, rho, size) for rho in SHORTCUT_RHOS)
    return (*shortcuts, Design(SHARED, size=size), Design(CONTRAST, size=size))


@dataclass(frozen=True)
class SyntheticSet:
    """A labelled synthetic data set.

    ``images`` uint8 (n, *shape); ``labels`` (n,) long; ``present`` feature -> (n,) bool;
    ``masks`` feature -> (n, *shape) bool for every image (where the feature is, or would be);
    ``explained`` (n,) bool: the images the benchmark explains; ``target``/``contrast`` (n,)
    the classes P and Q explained there; ``cause``/``context`` (n, *shape) bool: the cause and
    context regions of each image (docs/method.md).
    """

    design: Design
    split: str
    images: Tensor
    labels: Tensor
    present: dict[str, Tensor]
    masks: dict[str, Tensor]
    scene: Scene
    explained: Tensor
    target: Tensor
    contrast: Tensor
    cause: Tensor
    context: Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, index: Tensor) -> SyntheticSet:
        """The images selected by ``index`` (bool mask or indices), with their scenes, so an
        intervention on the subset re-renders the same images."""
        pick = index.nonzero()[:, 0] if index.dtype == torch.bool else index

        def take(values: dict[str, Tensor]) -> dict[str, Tensor]:
            return {k: v[pick] for k, v in values.items()}

        return replace(
            self,
            images=self.images[pick],
            labels=self.labels[pick],
            present=take(self.present),
            masks=take(self.masks),
            scene=self.scene.subset(pick),
            explained=self.explained[pick],
            target=self.target[pick],
            contrast=self.contrast[pick],
            cause=self.cause[pick],
            context=self.context[pick],
        )


def _labels_and_flags(
    design: Design, n: int, split: str, gen: torch.Generator
) -> tuple[Tensor, dict[str, Tensor]]:
    coin = torch.rand(n, generator=gen)
    if design.name == SHORTCUT:
        labels = (torch.rand(n, generator=gen) < 0.5).long()
        rate = design.rho if split == "train" else 0.5
        glyph_rate = torch.where(labels == 1, rate, 1 - rate) if split == "train" else 0.5
        return labels, {"lesion": labels == 1, "glyph": coin < glyph_rate}
    if design.name == SHARED:
        labels = torch.randint(0, 3, (n,), generator=gen)
        return labels, {"lesion": labels == 1, "ring": labels == 2, "glyph": labels > 0}
    labels = (torch.rand(n, generator=gen) < 0.5).long()  # 1 = P, 0 = Q
    return labels, {"lesion": (labels == 1) | (coin < 0.5), "rim": labels == 0}


def _roles(
    design: Design, labels: Tensor, present: dict[str, Tensor], masks: dict[str, Tensor]
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """(explained, target P, contrast Q, cause region, context region)."""
    context = masks[design.context]
    if design.name == SHORTCUT:
        explained = (labels == 1) & present["glyph"]
        target, contrast, cause = torch.ones_like(labels), torch.zeros_like(labels), masks["lesion"]
    elif design.name == SHARED:
        explained = labels > 0
        target = labels.clamp_min(1)
        contrast = 3 - target
        pick = (labels == 2).view(-1, *([1] * (masks["lesion"].ndim - 1)))
        cause = torch.where(pick, masks["ring"], masks["lesion"])
    else:
        explained = labels == 1
        target, contrast, cause = torch.ones_like(labels), torch.zeros_like(labels), masks["lesion"]
    return explained, target, contrast, cause, context


def _assemble(
    design: Design, split: str, scene: Scene, labels: Tensor, present: dict[str, Tensor]
) -> SyntheticSet:
    masks = feature_masks(scene)
    explained, target, contrast, cause, context = _roles(design, labels, present, masks)
    return SyntheticSet(
        design,
        split,
        render(scene, present),
        labels,
        present,
        masks,
        scene,
        explained,
        target,
        contrast,
        cause,
        context,
    )


def generate(design: Design, n: int, seed: int = 0, split: str = "train") -> SyntheticSet:
    """``n`` images of ``design`` (split ``train`` or ``test``: the shortcut's rate applies to
    ``train``; at ``test`` the glyph is independent of the label), reproducibly from ``seed``."""
    if split not in SPLITS:
        raise InputError(f"unknown split {split!r}; known: {', '.join(SPLITS)}")
    offset = SPLITS.index(split)
    scene = draw_scene(n, design.size, design.ndim, seed=2 * seed + offset)
    gen = torch.Generator().manual_seed(1_000_003 * (seed + 1) + offset)
    labels, present = _labels_and_flags(design, n, split, gen)
    return _assemble(design, split, scene, labels, present)


def _association(design: Design, labels: Tensor) -> Tensor:
    """Where the context goes in training at full rate (the label it points to)."""
    if design.name == SHORTCUT:
        return labels == 1
    if design.name == SHARED:
        return labels > 0
    return labels == 0


def intervene(data: SyntheticSet, kind: str) -> SyntheticSet:
    """``data`` re-rendered (same scenes, same noise) under intervention ``kind`` (one of
    ``INTERVENTIONS``); labels stay those of the cause, except ``context_alone``, whose causes
    are removed and whose labels stay the images' classes (the context tells them)."""
    if kind not in INTERVENTIONS:
        raise InputError(f"unknown intervention {kind!r}; known: {', '.join(INTERVENTIONS)}")
    design, present = data.design, dict(data.present)
    context = design.context
    if kind == "context_removed":
        present[context] = torch.zeros_like(present[context])
    elif kind == "context_alone":
        for cause in design.causes:
            present[cause] = torch.zeros_like(present[cause])
        present[context] = _association(design, data.labels)
    elif kind == "context_swapped":
        present[context] = ~_association(design, data.labels)
    return _assemble(design, data.split, data.scene, data.labels, present)


def parse_design(label: str, size: int = 64) -> Design:
    """The design of a label (``shortcut-0.95``, ``shared``, ``contrast``) at ``size`` pixels."""
    name, _, rate = label.partition("-")
    if name == SHORTCUT:
        try:
            return Design(name, float(rate) if rate else 0.95, size)
        except ValueError:
            raise InputError(f"cannot read the rate of {label!r}; e.g. shortcut-0.95") from None
    if rate:
        raise InputError(f"only the shortcut design takes a rate, got {label!r}")
    return Design(name, size=size)
