"""From map terms to maps: raw layer-resolution maps and normalised input-size maps."""

from __future__ import annotations

import torch
from torch import Tensor

from .method_table import MapTerms
from .methods import eigen_map, flat_maps, raw_map, to_input_size

#: A raw map (B, *s) and which of its maps are flat (B,) (``methods.flat_maps``).
RawMap = tuple[Tensor, Tensor]


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
    two names (``causal`` and its variant's name) are rendered once; the principal
    components of all projected maps are one batch, and every map is resized and
    normalised in one batch (each map's arithmetic is unchanged: one map alone or among
    others comes out the same to the last bit)."""
    unique = list({id(item): item for item in terms.values()}.values())
    with torch.no_grad():
        found = _raw_maps(unique, activations, eigen_smooth)
        raws = [found[id(item)] for item in unique]
        batch = activations.shape[0]
        resized = to_input_size(
            torch.cat([raw for raw, _ in raws]), size, torch.cat([flat for _, flat in raws])
        )
        # each map its own copy: a view would keep (and torch.save would write) all of them
        parts = [part.to(device, copy=True) for part in resized.split(batch)]
        sized = dict(zip(map(id, unique), parts, strict=True))
    raw_maps = {k: found[id(t)][0] for k, t in terms.items()}
    maps = {k: sized[id(t)] for k, t in terms.items()}
    return raw_maps, maps


def _raw_maps(unique: list[MapTerms], activations: Tensor, eigen_smooth: bool) -> dict[int, RawMap]:
    """Each item's raw map and flat marks, by ``id``: ``ReLU(sum_k w_k A_k)`` for channel
    weights, projected terms in one :func:`eigen_map` call, other terms summed over
    channels."""
    out: dict[int, RawMap] = {}
    weighted = [t for t in unique if t.weights is not None and not (eigen_smooth or t.projected)]
    magnitudes = activations.abs() if weighted else None
    for item in weighted:
        assert item.weights is not None
        raw = raw_map(item.weights, activations)
        out[id(item)] = (raw, flat_maps(raw, item.weights, activations, magnitudes))
    projected = [t for t in unique if eigen_smooth or t.projected]
    summands = [t.summands(activations) for t in projected]
    if projected:
        components = eigen_map(torch.cat(summands)).split(activations.shape[0])
        for item, terms, raw in zip(projected, summands, components, strict=True):
            out[id(item)] = _with_flat(raw, terms)
    for item in unique:
        if id(item) not in out:
            terms = item.summands(activations)
            out[id(item)] = _with_flat(terms.sum(dim=1).clamp_min(0), terms)
    return out


def _with_flat(raw: Tensor, terms: Tensor) -> RawMap:
    """A raw map of per-pixel terms (B, K, *s) with its flat marks."""
    return raw, flat_maps(raw, terms.new_ones(terms.shape[:2]), terms)
