"""The model a run of ``causalcam explain`` explains with, and what is known about it.

:func:`load_model_source` reads ``--model``: a causalcam checkpoint, a bundled model by name
(``default`` and :data:`~causalcam.models.BUNDLED_MODELS`) or a torchvision architecture name
(random weights, flagged). :func:`user_model_source` is your own classifier
(``--arch`` / ``--factory`` with ``--weights``, :func:`causalcam.models.load_model`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .. import models
from ..data import CLASSES
from ..errors import CheckpointError, InputError
from ..explain.layers import extract_outputs
from ..models.volume import VolumeGrid
from ..network import Network, eval_mode
from ..preprocess import Preprocessing


@dataclass(frozen=True)
class ModelSource:
    """A model ready to explain, with what is known about it; ``volume`` is the input grid of
    a 3-D network (``None`` for a 2-D one)."""

    model: nn.Module
    arch: str
    classes: list[str]
    preprocessing: Preprocessing
    description: str
    warning: str | None = None
    volume: VolumeGrid | None = None

    @classmethod
    def from_network(
        cls, network: Network, arch: str, description: str, warning: str | None = None
    ) -> ModelSource:
        """A :class:`~causalcam.network.Network`; classes without names are named by index."""
        classes = list(network.classes) if network.classes is not None else None
        if classes is None:
            classes = [str(i) for i in range(_output_count(network))]
        return cls(network.model.eval(), arch, classes, network.preprocessing, description, warning)


def _output_count(network: Network) -> int:
    """The number of logits the model gives (one dry run on a black image)."""
    size = network.preprocessing.size
    example = torch.zeros(1, 3, size, size, device=network.device)
    try:
        with torch.no_grad(), eval_mode(network.model):
            output = network.model(example)
    except Exception as error:  # whatever the user's model raises on a wrong input size
        raise InputError(
            f"the model fails on a {size}x{size} image ({type(error).__name__}: {error}); "
            "set its input size (--size)"
        ) from error
    try:
        logits = extract_outputs(output)  # (B, N) logits or a dense (B, N, *spatial) output
    except InputError:
        raise CheckpointError(
            "cannot tell how many classes the model has: give its labels"
        ) from None
    return int(logits.shape[1])


def load_model_source(spec: str, device: torch.device) -> ModelSource:
    """A checkpoint file, ``"default"`` or a bundled model's name, or an architecture name.

    An architecture name alone gives randomly initialised weights, flagged in ``warning``.
    """
    path = Path(spec).expanduser()
    if path.is_file():
        loaded = models.load_checkpoint(path, map_location=str(device))
        return _from_loaded(loaded, f"checkpoint {path}")
    if spec == "default" or spec in models.BUNDLED_MODELS:
        name = models.DEFAULT_BUNDLED if spec == "default" else spec
        loaded = models.bundled_model(name, map_location=str(device))
        return _from_loaded(loaded, f"bundled ResNet-18 ({name})")
    if spec in models.BUNDLED_VOLUME_MODELS:
        loaded = models.bundled_model(spec, map_location=str(device))
        return _from_loaded(loaded, f"bundled 3-D network ({spec})")
    if path.suffix in (".pt", ".pth", ".ckpt") or os.sep in spec or path.exists():
        raise CheckpointError(f"--model {spec}: no such checkpoint file")
    model = models.build(spec, num_classes=len(CLASSES))
    warning = (
        f"--model {spec} is an architecture name: its weights are RANDOM (not trained), "
        "so its explanations mean nothing; pass a checkpoint or 'default'"
    )
    return ModelSource(
        model.eval(), spec, list(CLASSES), Preprocessing(), f"untrained {spec}", warning
    )


def _from_loaded(loaded: models.LoadedModel, description: str) -> ModelSource:
    meta = loaded.meta
    return ModelSource(
        loaded.model.eval(),
        meta.arch,
        list(meta.classes),
        meta.preprocessing,
        description,
        volume=meta.volume,
    )


@dataclass(frozen=True)
class UserModel:
    """Your own classifier as the command line names it: ``arch`` (torchvision or timm) or
    ``factory`` (``package.module:function``), its ``weights`` file, ``num_classes`` and
    ``labels`` (a file, one class name a line)."""

    arch: str | None = None
    weights: Path | None = None
    factory: str | None = None
    num_classes: int | None = None
    labels: Path | Sequence[str] | None = None

    @property
    def name(self) -> str:
        return self.arch or f"factory {self.factory}"


def user_model_source(spec: UserModel, preprocessing: dict[str, Any] | None = None) -> ModelSource:
    """Your own classifier (:func:`causalcam.models.load_model`) with its default
    preprocessing changed by ``preprocessing`` (``size``, ``mean``, ``std``, ``rgb``)."""
    network = models.load_model(
        spec.arch,
        spec.weights,
        factory=spec.factory,
        num_classes=spec.num_classes,
        labels=spec.labels,
    )
    if preprocessing:
        network = replace(network, preprocessing=replace(network.preprocessing, **preprocessing))
    weights = f" with weights {spec.weights}" if spec.weights else ""
    warning = None
    if spec.arch is not None and spec.weights is None:
        warning = (
            f"--arch {spec.arch} without --weights: its weights are RANDOM (not trained), "
            "so its explanations mean nothing"
        )
    return ModelSource.from_network(network, spec.name, f"{spec.name}{weights}", warning)
