"""Maps of several methods, by name, from one ``Explainer.explain`` call (one forward pass
and one batched VJP for every gradient method), with the classes they explain."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from torch import Tensor

from ..explain import Explainer
from ..explain.methods import MethodRequest


@dataclass(frozen=True)
class NamedMaps:
    """``maps`` name -> (B, H, W); the explained classes ``target`` (P) and ``contrast``
    (Q), each (B,); the model's number of classes; the explained layer's name."""

    maps: dict[str, Tensor]
    target: Tensor
    contrast: Tensor
    n_classes: int
    layer: str

    def only(self, methods: Sequence[str]) -> NamedMaps:
        """The same explanation restricted to ``methods``."""
        return NamedMaps(
            {m: self.maps[m] for m in methods},
            self.target,
            self.contrast,
            self.n_classes,
            self.layer,
        )


def explain_named(
    explainer: Explainer, inputs: Tensor, methods: Sequence[str], **options: Any
) -> NamedMaps:
    """The maps of method names as the engine knows them (``causal`` is the default
    variant, ``causal[loss,normalize,sign]`` names another) from one call; ``options`` go to
    :meth:`Explainer.explain` (``target_class``, ``contrast_class``, ...)."""
    request = MethodRequest.parse(methods)
    with explainer:
        result = explainer.explain(
            inputs, methods=request.methods, causal=request.variants, **options
        )
    return NamedMaps(
        {m: result.maps[request.keys[m]] for m in methods},
        result.target,
        result.contrast,
        int(result.logits.shape[1]),
        result.layer,
    )
