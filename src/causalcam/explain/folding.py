"""BatchNorm folded into the preceding convolution, on the engine's own copy of the model.

In eval mode a ``BatchNorm2d`` after a ``Conv2d`` (or a ``BatchNorm3d`` after a ``Conv3d``)
is an affine map per channel, so it can be
folded into the convolution's weight and bias (``torch.nn.utils.fusion.fuse_conv_bn_eval``),
saving one pass over every such activation. The engine explains with a folded **copy**; the
user's model is never changed. A pair is folded only where a dry run shows the batch norm
reading the convolution's output tensor, each runs once, and neither is the target layer;
the copy is used only if its logits equal the model's on the dry run (a convolution whose
output is also read elsewhere would change them). The dry runs (three forward passes of two
images, when the copy is built) call the model's own hooks like any forward pass; a model
without batch norm gets none. The copy is rebuilt when any parameter or
buffer of the model changes (its identity, storage or version counter).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from . import layers

#: Largest difference of the folded copy's logits from the model's, relative to their scale.
LOGIT_TOLERANCE = 1e-3
#: The convolutions and batch norms that fold (2-D and 3-D).
CONVOLUTIONS = (nn.Conv2d, nn.Conv3d)
BATCH_NORMS = (nn.BatchNorm2d, nn.BatchNorm3d)

Signature = tuple[tuple[int, int, int], ...]


def signature(model: nn.Module) -> Signature:
    """What identifies the model's numbers: each parameter's and buffer's identity, storage
    and version counter (in-place changes bump it)."""
    tensors = [*model.parameters(), *model.buffers()]
    return tuple((id(t), t.data_ptr(), t._version) for t in tensors)


def foldable_pairs(model: nn.Module, example: Tensor, target: str) -> list[tuple[str, str]]:
    """``(convolution, batch norm)`` names where, in a dry run of ``example``, the batch norm
    (with running statistics) reads the convolution's output and each runs once; pairs
    touching the ``target`` layer are left out."""
    names = {m: n for n, m in model.named_modules() if n}
    calls: dict[str, int] = {}
    outputs: dict[int, str] = {}
    pairs: list[tuple[str, str]] = []

    def record(module: nn.Module, inputs: Any, output: Any) -> None:
        name = names[module]
        calls[name] = calls.get(name, 0) + 1
        if isinstance(module, CONVOLUTIONS) and isinstance(output, Tensor):
            outputs[id(output)] = name
        elif isinstance(module, BATCH_NORMS) and inputs and isinstance(inputs[0], Tensor):
            conv = outputs.get(id(inputs[0]))
            if conv is not None:
                pairs.append((conv, name))

    watched = [m for m in names if isinstance(m, CONVOLUTIONS + BATCH_NORMS)]
    handles = [m.register_forward_hook(record) for m in watched]
    try:
        with torch.no_grad(), layers.preserved_state(model):
            model(example)
    finally:
        for handle in handles:
            handle.remove()
    return [
        (conv, bn)
        for conv, bn in pairs
        if calls[conv] == calls[bn] == 1
        and target not in (conv, bn)
        and _has_statistics(model.get_submodule(bn))
    ]


def _has_statistics(bn: nn.Module) -> bool:
    return isinstance(bn, BATCH_NORMS) and bn.running_mean is not None


def folded_copy(model: nn.Module, pairs: list[tuple[str, str]]) -> nn.Module:
    """A copy of ``model`` (eval mode) with each batch norm of ``pairs`` folded into its
    convolution and replaced by ``nn.Identity``."""
    folded = copy.deepcopy(model).eval()
    for conv_name, bn_name in pairs:
        conv = folded.get_submodule(conv_name)
        bn = folded.get_submodule(bn_name)
        assert isinstance(conv, CONVOLUTIONS) and isinstance(bn, BATCH_NORMS)
        _replace(folded, conv_name, fuse_conv_bn_eval(conv, bn))
        _replace(folded, bn_name, nn.Identity())
    return folded


def _replace(model: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, module)


def same_logits(model: nn.Module, folded: nn.Module, example: Tensor) -> bool:
    """Whether the folded copy's logits equal the model's on ``example``."""
    with torch.no_grad(), layers.preserved_state(model), layers.preserved_state(folded):
        expected = layers.extract_logits(model(example)).float()
        got = layers.extract_logits(folded(example)).float()
    scale = float(expected.abs().max()) + 1.0
    return bool(torch.isfinite(got).all()) and float((got - expected).abs().max()) <= (
        LOGIT_TOLERANCE * scale
    )


@dataclass
class FoldCache:
    """The folded copy of one model for one target layer, rebuilt when the model changes;
    ``model`` itself where nothing folds or the check fails."""

    key: tuple[Signature, str] | None = None
    model: nn.Module | None = None

    def get(self, model: nn.Module, example: Tensor, target: str) -> nn.Module:
        key = (signature(model), target)
        if self.key != key or self.model is None:
            self.model = _fold(model, example, target)
            self.key = key
        return self.model


def _fold(model: nn.Module, example: Tensor, target: str) -> nn.Module:
    if not any(_has_statistics(m) for m in model.modules()):
        return model  # nothing to fold: no dry run
    try:
        pairs = foldable_pairs(model, example, target)
        if not pairs:
            return model
        folded = folded_copy(model, pairs)
    except (RuntimeError, TypeError, AssertionError, copy.Error):
        return model
    return folded if same_logits(model, folded, example) else model
