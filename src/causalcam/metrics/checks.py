"""What every metric checks and shares: the maps' shape, the targets, scoring a batch."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..errors import InputError
from ..explain.layers import extract_logits
from ..explain.targets import ClassifierOutputTarget

#: A grad-cam target: the scalar score of one image's model output (N,).
Target = Callable[[Tensor], Any]


def check_inputs(input_tensor: Tensor) -> Tensor:
    """``input_tensor`` if it is a float (B, C, H, W) tensor, else an InputError."""
    if not isinstance(input_tensor, Tensor) or input_tensor.ndim != 4:
        shape = tuple(input_tensor.shape) if isinstance(input_tensor, Tensor) else None
        raise InputError(f"input_tensor must be a (B, C, H, W) tensor, got {shape}")
    if not input_tensor.is_floating_point():
        raise InputError(f"input_tensor must be a float tensor, got {input_tensor.dtype}")
    return input_tensor


def check_maps(cams: np.ndarray | Tensor, input_tensor: Tensor) -> Tensor:
    """The maps as float32 (B, H, W) on the CPU, refused unless they match the inputs'
    batch and spatial size (grad-cam's ``cams``: one (H, W) map per image)."""
    maps = torch.as_tensor(np.asarray(cams) if not isinstance(cams, Tensor) else cams)
    expected = (input_tensor.shape[0], *input_tensor.shape[2:])
    if tuple(maps.shape) != tuple(expected):
        raise InputError(
            f"cams must have shape (B, H, W) = {tuple(expected)} to match input_tensor "
            f"{tuple(input_tensor.shape)}, got {tuple(maps.shape)}"
        )
    if not bool(torch.isfinite(maps).all()):
        raise InputError("cams contain NaN or infinite values")
    return maps.detach().cpu().to(torch.float32)


def model_outputs(model: nn.Module, inputs: Tensor, batch_size: int = 64) -> Tensor:
    """The model's outputs (B, N) as float32 under ``no_grad``, ``batch_size`` images a
    forward pass (the caller sets eval mode)."""
    with torch.no_grad():
        parts = [extract_logits(model(inputs[s])).float() for s in chunks(len(inputs), batch_size)]
    return torch.cat(parts)


def resolve_targets(targets: Sequence[Target] | None, outputs: Tensor) -> list[Target]:
    """One target per image: the given ones (refused when their number differs from the
    batch) or, for None, the predicted class's logit (``ClassifierOutputTarget``)."""
    batch = outputs.shape[0]
    if targets is None:
        return [ClassifierOutputTarget(int(c)) for c in outputs.argmax(dim=1)]
    targets = list(targets)
    if len(targets) != batch:
        raise InputError(f"got {len(targets)} targets for a batch of {batch} images")
    if not all(callable(t) for t in targets):
        raise InputError("each target must be a callable output (N,) -> score")
    return targets


def target_scores(targets: Sequence[Target], outputs: Tensor) -> np.ndarray:
    """float32 (B,) scores ``target_b(outputs_b)``, as grad-cam computes them."""
    return np.asarray(
        [np.asarray(t(o).detach().cpu().numpy()) for t, o in zip(targets, outputs, strict=True)],
        dtype=np.float32,
    )


def chunks(batch: int, size: int) -> list[slice]:
    """Slices of ``size`` images covering a batch."""
    return [slice(start, min(start + size, batch)) for start in range(0, batch, size)]
