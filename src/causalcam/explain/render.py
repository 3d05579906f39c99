"""From map terms to maps: raw layer-resolution maps and normalised input-size maps."""

from __future__ import annotations

import torch
from torch import Tensor

from .method_table import MapTerms
from .methods import eigen_map, flat_maps, raw_map, to_input_size


def render(
    terms: dict[str, MapTerms],
    activations: Tensor,
    size: tuple[int, ...],
    device: torch.device,
    eigen_smooth: bool = False,
) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """Raw maps (B, *s) and input-size maps (B, *size) in [0, 1] (flat maps are zeros;
    ``size`` (H, W) for images, (D, H, W) for volumes, resized bi- or trilinearly):
    ``ReLU(sum_k w_k A_k)`` or ``ReLU(sum_k T_k)``, or with ``eigen_smooth`` (and always
    for projected terms) the ReLU of the terms' first principal component. Terms shared by
    two names (``causal`` and its variant's name) are rendered once."""
    done: dict[int, tuple[Tensor, Tensor]] = {}
    magnitudes: Tensor | None = None
    with torch.no_grad():
        for item in terms.values():
            if id(item) in done:
                continue
            if item.weights is not None and not (eigen_smooth or item.projected):
                if magnitudes is None:
                    magnitudes = activations.abs()
                raw = raw_map(item.weights, activations)
                flat = flat_maps(raw, item.weights, activations, magnitudes)
            else:
                summands = item.summands(activations)
                projected = eigen_smooth or item.projected
                raw = eigen_map(summands) if projected else summands.sum(dim=1).clamp_min(0)
                ones = summands.new_ones(summands.shape[:2])
                flat = flat_maps(raw, ones, summands)
            done[id(item)] = (raw, to_input_size(raw, size, flat).to(device))
    raw_maps = {k: done[id(t)][0] for k, t in terms.items()}
    maps = {k: done[id(t)][1] for k, t in terms.items()}
    return raw_maps, maps
