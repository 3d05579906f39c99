"""Every map the ground-truth benchmark scores, for one network: each method the engine knows
(``causalcam.method_names.METHOD_NAMES``, so methods added there join by name), every causal
reading of the ablation (``CausalOptions.ablation_variants()``) and the context estimate
``B_P`` of each (loss, normalisation) a reading uses.

``B_P`` of a reading is the term its causal map subtracts from the Grad-CAM term: with
contrast weights normalised as the reading says, ``n(a^{t_none}) + n(a^{t_P}) - n(a^{t_PQ})``
for both signs (docs/method.md, "Ground truth"), drawn with the same ``M`` as every map.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from ..explain import CausalOptions, Explainer, Explanation
from ..explain.methods import (
    CAUSAL,
    CONTRAST_NONE,
    CONTRAST_P,
    CONTRAST_PQ,
    flat_maps,
    normalise,
    raw_map,
    to_input_size,
)
from ..method_names import DEFAULT_CAUSAL, METHOD_NAMES

#: The map name of the context estimate of the default reading, and of any (loss, norm).
CONTEXT_ESTIMATE = "context"


def context_name(loss: str, normalize: str) -> str:
    """``context[mse_prob,none]``: ``B_P`` of the readings with this loss and normalisation."""
    return f"{CONTEXT_ESTIMATE}[{loss},{normalize}]"


DEFAULT_CONTEXT = context_name(DEFAULT_CAUSAL["loss"], DEFAULT_CAUSAL["normalize"])
#: The contrast maps whose weights ``B_P`` combines.
_CONTRASTS = (CONTRAST_PQ, CONTRAST_NONE, CONTRAST_P)


def readings() -> tuple[CausalOptions, ...]:
    """The default reading first, then every other reading of the ablation."""
    default = CausalOptions()
    return (default, *(v for v in CausalOptions.ablation_variants() if v != default))


def _activations(model: nn.Module, layer: str, inputs: Tensor) -> Tensor:
    captured: list[Tensor] = []
    module = dict(model.named_modules())[layer]
    handle = module.register_forward_hook(lambda _m, _i, out: captured.append(out.detach()))
    try:
        with torch.no_grad():
            model(inputs)
    finally:
        handle.remove()
    return captured[0].float()


def _context_maps(
    weights: dict[str, dict[str, Tensor]], activations: Tensor, size: tuple[int, int]
) -> dict[str, Tensor]:
    """``B_P`` of every (loss, normalisation) a reading uses, from the contrast weights of
    each loss (``weights[loss][contrast map]``, the explain call's raw weights)."""
    out: dict[str, Tensor] = {}
    for loss, norm in dict.fromkeys((v.loss, v.normalize) for v in readings()):
        w = weights[loss]
        b = normalise(w[CONTRAST_NONE], norm) + normalise(w[CONTRAST_P], norm)
        b = b - normalise(w[CONTRAST_PQ], norm)
        raw = raw_map(b, activations)
        out[context_name(loss, norm)] = to_input_size(raw, size, flat_maps(raw, b, activations))
    return out


def _weights(result: Explanation) -> dict[str, Tensor]:
    assert result.weights is not None, "explain was called with return_raw=True"
    return result.weights


def compute_maps(
    model: nn.Module,
    layer: str,
    inputs: Tensor,
    target: Tensor,
    contrast: Tensor,
    *,
    methods: Sequence[str] | None = None,
    on_skip: Callable[[str, str], None] | None = None,
) -> dict[str, Tensor]:
    """Maps (n, H, W) of class ``target`` against ``contrast`` for normalised ``inputs``:
    every method of ``methods`` (default: every known method), every causal reading
    (``causal`` is the default one) and every context estimate. A method that fails is left
    out and reported through ``on_skip(name, reason)``.

    One explain call per contrast loss: the first gives every requested map, every reading
    and the contrast weights of the default reading's loss; each further loss a reading uses
    costs one call for its contrast weights."""
    names = [m for m in (methods or METHOD_NAMES) if m != CAUSAL]
    known = [m for m in names if m in METHOD_NAMES]
    first = readings()[0].loss  # the contrast loss of the first call (its first reading's)
    maps: dict[str, Tensor] = {}
    with Explainer(model, target_layer=layer) as explainer:
        request = tuple(dict.fromkeys((*known, *_CONTRASTS, CAUSAL)))
        result = explainer.explain(
            inputs, request, target, contrast, causal=readings(), return_raw=True
        )
        maps.update((k, v) for k, v in result.maps.items() if k in known or k not in _CONTRASTS)
        weights = {first: _weights(result)}
        for loss in dict.fromkeys(v.loss for v in readings() if v.loss != first):
            weights[loss] = _weights(
                explainer.explain(
                    inputs, _CONTRASTS, target, contrast, contrast_loss=loss, return_raw=True
                )
            )
        for name in (m for m in names if m not in METHOD_NAMES):
            try:  # a further method joins by name; one that cannot run here is left out
                maps.update(explainer.explain(inputs, (name,), target, contrast).maps)
            except Exception as error:
                if on_skip is not None:
                    on_skip(name, f"{type(error).__name__}: {error}")
    size = (inputs.shape[-2], inputs.shape[-1])
    maps.update(_context_maps(weights, _activations(model, layer, inputs), size))
    return {name: value.float().cpu() for name, value in maps.items()}
