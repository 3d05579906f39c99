"""The network: a model with its preprocessing and class names, and the model-state helpers
every layer above the engine shares.

- :class:`Network`: a classifier with its preprocessing and class names; :func:`as_network`
  makes one from a module, a loaded checkpoint or a ``Network``.
- :func:`eval_mode`: the one way to put a model in eval mode; restores every module's
  ``training`` flag on exit, also after an error.
- :func:`resolve_device`: ``"auto"`` or a device name -> a checked :class:`torch.device`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .errors import InputError
from .preprocess import Preprocessing


@dataclass(frozen=True)
class Network:
    """A classifier with its own preprocessing and (optionally) its class names.

    Attributes:
        model: the classifier.
        preprocessing: how grey uint8 images become its inputs (size, mean, std).
        classes: the class names, in the order of its outputs.
    """

    model: nn.Module
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    classes: tuple[str, ...] | None = None

    @property
    def device(self) -> torch.device:
        parameter = next(iter(self.model.parameters()), None)
        return parameter.device if parameter is not None else torch.device("cpu")


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode for the block; restore every module's ``training`` flag
    after it, also when the block raises."""
    training = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, flag in training:
            module.training = flag


def as_network(value: Network | nn.Module | Any) -> Network:
    """A :class:`Network` from whatever names a model.

    Args:
        value: a ``Network``, a bare ``nn.Module`` (ImageNet preprocessing) or a loaded
            checkpoint with ``.model`` and ``.meta.preprocessing`` / ``.meta.classes``.

    Returns:
        The network.

    Raises:
        InputError: ``value`` is none of these.
    """
    if isinstance(value, Network):
        return value
    if isinstance(value, nn.Module):
        return Network(value)
    model, meta = getattr(value, "model", None), getattr(value, "meta", None)
    if isinstance(model, nn.Module) and meta is not None:
        classes = getattr(meta, "classes", None)
        return Network(
            model,
            getattr(meta, "preprocessing", None) or Preprocessing(),
            tuple(classes) if classes is not None else None,
        )
    raise InputError(f"cannot evaluate a {type(value).__name__}: expected an nn.Module or Network")


def resolve_device(name: str = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; otherwise the named device, checked."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise InputError(f"--device {name!r} is not a torch device name") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"--device {name!r}: CUDA is not available on this machine")
    return device
