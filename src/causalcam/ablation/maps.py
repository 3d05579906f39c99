"""Every method's maps from one explain pass, what identifies them in the evaluation store,
and which methods' maps are identical (evaluated once).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ..evaluate import Network, as_network
from ..evaluate.store import model_fingerprint
from ..explain import CausalOptions, Explainer
from ..explain.methods import MethodRequest
from ..method_names import CAUSAL, GRADCAM, GRADCAM_PP
from ..preprocess import to_model_input
from ..results import SANITY_TAU

#: the methods every variant is measured against
BASELINES: tuple[str, ...] = (GRADCAM, GRADCAM_PP)


def explain_methods(
    model: Network | Any,
    images: Tensor,
    methods: Sequence[str],
    *,
    target_layer: str | None = None,
    batch_size: int = 32,
) -> tuple[dict[str, Tensor], str]:
    """Maps (B, H, W) in [0, 1] of every named method (``causal`` is the default variant,
    ``causal[loss,normalize,sign]`` names another) from one ``Explainer.explain`` call per
    batch of ``batch_size`` uint8 scans, and the explained layer's name. ``model``: a
    :class:`Network`, a loaded checkpoint or an ``nn.Module``."""
    network = as_network(model)
    request = MethodRequest.parse(methods)
    parts: dict[str, list[Tensor]] = {m: [] for m in methods}
    with Explainer(network.model, target_layer=target_layer, chunk_size=batch_size) as explainer:
        for start in range(0, images.shape[0], batch_size):
            batch = images[start : start + batch_size].to(network.device)
            inputs = to_model_input(batch, network.preprocessing)
            result = explainer.explain(inputs, methods=request.methods, causal=request.variants)
            for method in methods:
                parts[method].append(result.maps[request.keys[method]].detach().float().cpu())
        layer = str(explainer.layer_name)
    return {m: torch.cat(chunks) for m, chunks in parts.items()}, layer


def explain_all(
    network: Network,
    images: Tensor,
    variants: Sequence[CausalOptions],
    *,
    target_layer: str | None = None,
    batch_size: int = 32,
) -> tuple[dict[str, Tensor], str]:
    """:func:`explain_methods` of Grad-CAM, Grad-CAM++ and every variant (keyed by
    ``variant.name``)."""
    names = [*BASELINES, *(v.name for v in variants)]
    return explain_methods(network, images, names, target_layer=target_layer, batch_size=batch_size)


def cache_keys(model: Network | Any, layer: str, methods: Sequence[str]) -> dict[str, Any]:
    """What identifies each method's maps for :func:`causalcam.evaluate.evaluate_maps`: the
    model's weights, the explained layer, the method and its causal options."""
    weights = model_fingerprint(as_network(model).model)
    return {
        m: {
            "model": weights,
            "layer": layer,
            "method": m,
            "options": CausalOptions.parse(m).to_dict() if m.startswith(CAUSAL) else None,
        }
        for m in methods
    }


def identical_groups(maps: Mapping[str, Tensor]) -> dict[str, str]:
    """``name -> representative``: the first earlier name whose maps are bit-identical."""
    representative: dict[str, str] = {}
    seen: list[str] = []
    for name, values in maps.items():
        same = next((s for s in seen if torch.equal(maps[s], values)), None)
        representative[name] = same or name
        if same is None:
            seen.append(name)
    return representative


@dataclass(frozen=True)
class MapSanity:
    """Mean fraction of pixels a deletion mask keeps at ``tau`` (``m > tau``) and the
    fraction of images whose map is all zeros (nothing to keep at any threshold)."""

    kept_at_tau: float
    zero_maps: float


def map_sanity(maps: Mapping[str, Tensor], tau: float = SANITY_TAU) -> dict[str, MapSanity]:
    """:class:`MapSanity` of every method's maps."""
    return {
        name: MapSanity(
            float((values > tau).float().mean()),
            float((values.flatten(1).amax(dim=1) == 0).float().mean()),
        )
        for name, values in maps.items()
    }
