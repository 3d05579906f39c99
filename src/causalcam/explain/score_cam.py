"""Score-CAM's masked forward passes, batched across channels and images.

Score-CAM (Wang et al. 2020) weighs channel k by the explained score of the input masked
by channel k's activation map. That costs one forward pass per channel and image: 512 per
image for ResNet-18's ``layer4``, against one forward and one batched VJP for every other
method. The masks are made as grad-cam 1.5.7 makes them (bilinear upsampling with
``align_corners=True``, min-max scaling with ``1e-8``) and the masked inputs of all
(image, channel) pairs are classified ``batch`` at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import InputError
from .methods import LINEAR_MODES, per_map

#: grad-cam's guard in the masks' min-max scaling.
MASK_EPS = 1e-8

#: ``forward(x) -> logits``: the model on a batch of masked inputs.
Forward = Callable[[Tensor], Tensor]


def channel_masks(activations: Tensor, size: tuple[int, ...]) -> Tensor:
    """Activation maps (n, h, w) as masks (n, 1, H, W): upsampled bilinearly with
    ``align_corners=True`` (grad-cam's ``UpsamplingBilinear2d``; volumes (n, d, h, w)
    trilinearly), each min-max scaled to [0, 1] as ``(m - min) / (max - min + 1e-8)``."""
    mode = LINEAR_MODES[len(size)]
    up = F.interpolate(activations[:, None], size=size, mode=mode, align_corners=True)
    flat = up.flatten(1)
    low = per_map(flat.amin(dim=1), up)
    high = per_map(flat.amax(dim=1), up)
    return (up - low) / (high - low + MASK_EPS)


def masked_scores(
    forward: Forward,
    inputs: Tensor,
    activations: Tensor,
    score: Callable[[Tensor, Tensor], Tensor],
    batch: int,
) -> Tensor:
    """Scores (B, K) of ``inputs`` (B, C, *S) masked by each of the ``activations``'
    (B, K, *s) channel maps: ``score(logits (n, N), image index (n,)) -> (n,)``; the B*K
    masked inputs are classified ``batch`` at a time, masks made per batch."""
    images, channels = activations.shape[:2]
    size = tuple(inputs.shape[2:])
    maps = activations.detach().flatten(0, 1)
    out = []
    with torch.no_grad():
        for start in range(0, images * channels, batch):
            stop = min(start + batch, images * channels)
            index = torch.arange(start, stop, device=inputs.device) // channels
            masks = channel_masks(maps[start:stop].to(inputs.dtype), size)
            logits = forward(inputs[index] * masks)
            if logits.dtype in (torch.bfloat16, torch.float16):
                logits = logits.float()
            out.append(score(logits, index))
    return torch.cat(out).view(images, channels)


def linear_score(vectors: Tensor) -> Callable[[Tensor, Tensor], Tensor]:
    """The score ``z . v_b`` of image b's class-score vector ``v_b`` (B, N)."""

    def score(logits: Tensor, index: Tensor) -> Tensor:
        return (logits * vectors[index].to(logits)).sum(dim=-1)

    return score


def target_score(targets: Sequence[object]) -> Callable[[Tensor, Tensor], Tensor]:
    """The score of grad-cam targets, each called on one masked input's outputs (1-D), as
    grad-cam's Score-CAM calls them."""

    def score(logits: Tensor, index: Tensor) -> Tensor:
        values = []
        for row, b in zip(logits, index.tolist(), strict=True):
            target = targets[b]
            assert callable(target)  # checked by target_gradients
            value = target(row)
            if not isinstance(value, Tensor) or value.numel() != 1:
                raise InputError(f"target {targets[b]!r} must return one score per image")
            values.append(value.reshape(()))
        return torch.stack(values)

    return score
