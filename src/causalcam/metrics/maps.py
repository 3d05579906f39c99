"""Maps of several methods, by name, from one ``Explainer.explain`` call (one forward pass
and one batched VJP for every gradient method)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor

from ..explain import CausalOptions, Explainer
from ..method_names import CAUSAL


def explain_named(
    explainer: Explainer, inputs: Tensor, methods: Sequence[str], **options: Any
) -> dict[str, Tensor]:
    """``{name: maps (B, H, W)}`` for method names as the engine knows them (``causal`` is
    the default variant, ``causal[loss,normalize,sign]`` names another); ``options`` go to
    :meth:`Explainer.explain` (``target_class``, ``contrast_class``, ...)."""
    variants = {m: CausalOptions.parse(m) for m in methods if m.startswith(CAUSAL)}
    others = tuple(dict.fromkeys(m for m in methods if m not in variants))
    asked = (*others, CAUSAL) if variants else others
    causal = tuple(dict.fromkeys(variants.values())) or None
    with explainer:
        result = explainer.explain(inputs, methods=asked, causal=causal, **options)
    return {m: result.maps[variants[m].name if m in variants else m] for m in methods}
