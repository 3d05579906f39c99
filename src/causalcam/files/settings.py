"""How files are explained: :class:`ExplainSettings`, set once and given to
:func:`causalcam.files.explain_files` (or the sharded run) with the files, the model and the
output folder at the call, in the manner of Quantus's metrics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import torch
from torch import nn

from .. import models
from ..errors import InputError
from ..explain import CausalOptions
from ..method_names import METHOD_NAMES, PAPER_METHODS
from .inputs import Reading

DEFAULT_METHODS: tuple[str, ...] = PAPER_METHODS


def check_methods(methods: Sequence[str]) -> tuple[str, ...]:
    """Validate method names against :data:`METHOD_NAMES` (order kept, no repeats)."""
    unknown = [m for m in methods if m not in METHOD_NAMES]
    if unknown:
        raise InputError(
            f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHOD_NAMES)}"
        )
    if not methods:
        raise InputError("choose at least one method")
    return tuple(dict.fromkeys(methods))


@dataclass(frozen=True)
class ExplainSettings:
    """How to explain files, and what to write.

    Attributes:
        methods: the maps to compute, in the panels' order (:data:`DEFAULT_METHODS`: the
            paper's Grad-CAM, Grad-CAM++ and causal map).
        target_layer: the layer the maps are read at (``None``: the model's default).
        contrast_class: the class the causal map contrasts with, a name or an index
            (``None``: the engine's default).
        segment: for a segmentation network, the class (name or index) whose region every
            map explains: the pixels the network assigns to it (:mod:`.segment`); ``None``
            for a classifier.
        causal: the causal variant's options (default: the default variant).
        save_npy: also write each map as a float32 ``.npy`` file.
        reading: the DICOM/NIfTI window, plane and slices (default: the defaults).
        precision: what the forward pass computes in (``fp32``, ``bf16``, ...).
        device: where the model runs (``None``: the CPU; in a sharded run, each process's
            own device).
        progress: show a progress bar.
    """

    methods: Sequence[str] = DEFAULT_METHODS
    target_layer: str | None = None
    contrast_class: str | None = None
    segment: str | None = None
    causal: CausalOptions = field(default_factory=CausalOptions)
    save_npy: bool = False
    reading: Reading = field(default_factory=Reading)
    precision: str = "fp32"
    device: torch.device | None = None
    progress: bool = True

    def resolved(self, model: nn.Module) -> ExplainSettings:
        """These settings made explicit for ``model``: the methods checked, its default
        target layer where none is set.

        Raises:
            InputError: an unknown method, or none.
        """
        return replace(
            self,
            methods=check_methods(self.methods),
            target_layer=self.target_layer or models.default_target_layer(model),
        )
