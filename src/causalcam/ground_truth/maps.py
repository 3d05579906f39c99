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

from ..explain import CAUSAL_LOSSES, CausalOptions, Explainer
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
    explainer: Explainer,
    model: nn.Module,
    layer: str,
    inputs: Tensor,
    target: Tensor,
    contrast: Tensor,
) -> dict[str, Tensor]:
    activations = _activations(model, layer, inputs)
    size = (inputs.shape[-2], inputs.shape[-1])
    pairs = dict.fromkeys((v.loss, v.normalize) for v in readings())
    out: dict[str, Tensor] = {}
    for loss in CAUSAL_LOSSES:
        norms = [n for (l_, n) in pairs if l_ == loss]
        if not norms:
            continue
        result = explainer.explain(
            inputs,
            methods=(CONTRAST_PQ, CONTRAST_NONE, CONTRAST_P),
            target_class=target,
            contrast_class=contrast,
            contrast_loss=loss,
            return_raw=True,
        )
        assert result.weights is not None
        w = result.weights
        for norm in norms:
            b = normalise(w[CONTRAST_NONE], norm) + normalise(w[CONTRAST_P], norm)
            b = b - normalise(w[CONTRAST_PQ], norm)
            raw = raw_map(b, activations)
            out[context_name(loss, norm)] = to_input_size(raw, size, flat_maps(raw, b, activations))
    return out


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
    out and reported through ``on_skip(name, reason)``."""
    names = [m for m in (methods or METHOD_NAMES) if m != CAUSAL]
    maps: dict[str, Tensor] = {}
    with Explainer(model, target_layer=layer) as explainer:
        paper = [m for m in names if m in METHOD_NAMES]
        result = explainer.explain(inputs, (*paper, CAUSAL), target, contrast, causal=readings())
        maps.update(result.maps)
        for name in (m for m in names if m not in METHOD_NAMES):
            try:  # a further method joins by name; one that cannot run here is left out
                maps.update(explainer.explain(inputs, (name,), target, contrast).maps)
            except Exception as error:
                if on_skip is not None:
                    on_skip(name, f"{type(error).__name__}: {error}")
        maps.update(_context_maps(explainer, model, layer, inputs, target, contrast))
    return {name: value.float().cpu() for name, value in maps.items()}
