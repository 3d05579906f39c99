"""Segmentation networks from files: which region of a dense output the maps explain.

A segmentation network gives a map of class scores per image, (N, H, W), not one vector of
logits, so ``causalcam explain --segment CLASS`` names the class, and each image's region is
the pixels the network assigns to it (its per-pixel argmax). Every map then explains that
class over that region (:class:`~causalcam.explain.SemanticSegmentationTarget`; contrast and
causal maps against the region's runner-up class, docs/method.md, "Dense outputs"). An image
with no pixel of the class is skipped and listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import InputError
from ..explain import Explanation, SemanticSegmentationTarget
from ..explain.layers import extract_outputs
from ..network import eval_mode


def dense_classes(model: nn.Module, example: Tensor) -> int | None:
    """The number of classes of a segmentation network's dense output (``None`` when the
    model gives one vector of logits per image), from one forward pass of ``example``."""
    with torch.no_grad(), eval_mode(model):
        output = extract_outputs(model(example))
    return int(output.shape[1]) if output.ndim > 2 else None


def check_segment(segment: int | None, classes: int | None, model_name: str) -> None:
    """An InputError where ``--segment`` and the kind of network do not go together."""
    if segment is not None and classes is None:
        raise InputError(
            f"--segment is for segmentation networks; {model_name} gives one vector of logits "
            "per image (leave --segment out)"
        )
    if segment is None and classes is not None:
        raise InputError(
            f"{model_name} is a segmentation network (an output of {classes} class maps per "
            "image): name the class whose region to explain with --segment CLASS"
        )


@dataclass(frozen=True)
class Regions:
    """One batch's regions of one class: a target per image (``None`` where no pixel has the
    class)."""

    targets: list[SemanticSegmentationTarget | None]

    @property
    def kept(self) -> list[int]:
        """The images with a region, in order."""
        return [i for i, t in enumerate(self.targets) if t is not None]

    @property
    def missing(self) -> list[int]:
        """The images without a pixel of the class."""
        return [i for i, t in enumerate(self.targets) if t is None]

    @property
    def present(self) -> list[SemanticSegmentationTarget]:
        """The targets of the images in :attr:`kept`."""
        return [t for t in self.targets if t is not None]


def predicted_regions(model: nn.Module, inputs: Tensor, category: int | None) -> Regions:
    """The pixels (voxels) of each image that ``model`` assigns to ``category``; ``None``: the
    class it predicts over the most pixels of the first image, leaving out class 0
    (background in torchvision's segmentation networks) unless it is all there is."""
    with torch.no_grad(), eval_mode(model):
        predicted = extract_outputs(model(inputs))
    classes = predicted.shape[1]
    predicted = predicted.argmax(1)
    if category is None:
        counts = torch.bincount(predicted[0].flatten().cpu(), minlength=classes)
        counts[0] = 0
        category = int(counts.argmax()) if bool(counts.any()) else 0
    if not 0 <= category < classes:
        raise InputError(f"--segment {category}: the model has {classes} classes")
    masks = predicted == category
    return Regions(
        [SemanticSegmentationTarget(category, m.cpu()) if bool(m.any()) else None for m in masks]
    )


@dataclass(frozen=True)
class Prediction:
    """What an explained image's record says of the model's decision: the class, its
    probability and every class's, and the contrast class. For a segmentation network the
    class is the region's, the probabilities are means over the region, and ``region`` gives
    its size."""

    predicted: int
    confidence: float
    probabilities: list[float]
    contrast: int
    region: dict[str, Any] | None = None


def prediction_of(explanation: Explanation, index: int) -> Prediction:
    """The decision behind image ``index`` of ``explanation`` (a classifier's or a region's)."""
    logits = explanation.logits[index].detach().float().cpu()
    probabilities = torch.softmax(logits, dim=0)
    contrast = int(explanation.contrast[index])
    if logits.ndim == 1:
        predicted = int(explanation.predicted[index])
        return Prediction(
            predicted, float(probabilities[predicted]), probabilities.tolist(), contrast
        )
    category = int(explanation.target[index])
    mask = explanation.predicted[index].cpu() == category
    mean = probabilities[:, mask].mean(1)
    region = {"class": category, "pixels": int(mask.sum()), "share": float(mask.float().mean())}
    return Prediction(category, float(mean[category]), mean.tolist(), contrast, region)


def region_skip_reason(category: str) -> str:
    """Why an image without the class is skipped."""
    return f"no pixel is predicted as {category}: there is no region to explain"
