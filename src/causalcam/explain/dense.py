"""Dense outputs: segmentation networks, whose output is a map of class scores per image,
(B, N, H, W) (or (B, N, D, H, W) for volumes), not a vector of logits (docs/method.md,
"Dense outputs").

What each map explains is said by grad-cam style targets, one callable per image over its
(N, *spatial) output (``SemanticSegmentationTarget(category, mask)``, or any other); the
VJP then runs from the dense output with the targets' gradients. Contrast and causal maps
explain a *region*: the target's ``category`` P over its ``mask`` ``m``. Their losses are
taken per pixel with the region's P and Q (Q: the runner-up of the class logits summed over
the mask) and summed with the weights ``m``, so every basis vector of the classifier's
engine (``targets.basis_vectors``) is computed per pixel, as if each pixel were an image,
and weighted by the mask.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ..errors import InputError
from .heads import SOFTMAX_HEAD, Head
from .targets import basis_vectors, check_mask, target_category

#: How a user names what to explain in a dense output.
DENSE_TARGETS_HINT = (
    "pass targets=, one per image: SemanticSegmentationTarget(category, mask) or any "
    "callable over one image's (N, *spatial) output returning a scalar"
)


@dataclass(frozen=True)
class DenseOutput:
    """One chunk's dense output ``z`` (B, N, *spatial), detached; the region weights
    ``region`` (B, *spatial) of the targets' masks (None when a target has none); ``head``
    the head's kind."""

    z: Tensor
    region: Tensor | None
    head: str

    def region_logits(self) -> Tensor:
        """The class logits summed over the region, ``y_c = sum_s m(s) z_c(s)``, (B, N)."""
        assert self.region is not None
        return (self.z * self.region.unsqueeze(1)).flatten(2).sum(-1)


def region_weights(targets: Sequence[object], z: Tensor, required: bool) -> Tensor | None:
    """The targets' masks as weights (B, *spatial) on ``z``'s device and dtype. A mask of the
    wrong shape is an InputError naming the expected one; with ``required`` (contrast and
    causal maps), so is a target without an integer ``.category`` and a ``.mask``, or an
    empty mask. Without ``required``, None when a target has no mask."""
    masks = []
    for target in targets:
        mask = getattr(target, "mask", None)
        if mask is None or target_category(target) is None:
            if required:
                raise InputError(
                    f"target {target!r} names no region of the dense output: contrast and "
                    "causal maps of a segmentation network explain class P over a region, "
                    "from a target with an integer .category and a .mask "
                    "(SemanticSegmentationTarget(category, mask))"
                )
            return None
        weights = torch.as_tensor(mask).to(device=z.device, dtype=z.dtype)
        check_mask(weights, z[0], target)
        if required and not bool(weights.abs().sum() > 0):
            raise InputError(f"target {target!r} has an empty mask: it selects no pixel")
        masks.append(weights)
    return torch.stack(masks)


def dense_vectors(
    keys: Sequence[str],
    dense: DenseOutput,
    classes: tuple[Tensor, Tensor],
    custom: Mapping[str, Tensor],
    given: Mapping[str, Tensor],
) -> Tensor:
    """The basis vectors ``V`` (M, B, N, *spatial) on the dense output: ``given`` ones (the
    targets' gradients) as they are, the others per pixel with the region's P and Q
    (``classes``, each (B,)) and weighted by the region's mask."""
    z = dense.z
    missing = [key for key in keys if key not in given]
    rows: dict[str, Tensor] = {}
    if missing:
        if dense.region is None:
            raise InputError(f"these maps of a dense output need a region: {DENSE_TARGETS_HINT}")
        if dense.head != SOFTMAX_HEAD:
            raise InputError(refused_head(dense.head, z.shape[1]))
        batch, n = z.shape[:2]
        pixels = math.prod(z.shape[2:])

        def per_pixel(values: Tensor) -> Tensor:
            return values.to(z.device).repeat_interleave(pixels, dim=0)

        flat = z.movedim(1, -1).reshape(-1, n)
        p, q = (per_pixel(c) for c in classes)
        targets = {k: per_pixel(t.to(z.device).expand(batch, -1)) for k, t in custom.items()}
        vectors = basis_vectors(missing, flat, p, q, targets, Head(SOFTMAX_HEAD, n))
        vectors = vectors.view(len(missing), batch, *z.shape[2:], n).movedim(-1, 2)
        rows = dict(zip(missing, vectors * dense.region[None, :, None], strict=True))
    return torch.stack([given[k].to(z) if k in given else rows[k] for k in keys])


def refused_head(head: str, n_outputs: int) -> str:
    """Why contrast and causal maps refuse a dense output read with a sigmoid head."""
    return (
        "contrast and causal maps of a dense output are defined per pixel over N >= 2 "
        f"exclusive classes (a softmax head); this output has N = {n_outputs} read as "
        f'head="{head}" (docs/method.md, "Dense outputs"); Grad-CAM and the CAM family '
        "work with any target"
    )
