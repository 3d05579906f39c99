"""pytorch-grad-cam call compatibility: switch by changing an import.

``with GradCAM(model=m, target_layers=[m.layer4]) as cam: maps = cam(input_tensor=x,
targets=None)`` returns float32 numpy (B, H, W) in [0, 1], like the grad-cam package.
These classes are thin adapters over :class:`~causalcam.explain.Explainer`.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..errors import InputError
from .engine import Explainer
from .methods import (
    CAUSAL,
    CAUSAL_LOSSES,
    CAUSAL_TARGETS,
    CONTRAST_CE,
    DEFAULT_CAUSAL,
    GRADCAM,
    GRADCAM_PP,
    CausalOptions,
    check_choice,
    minmax,
    upsample,
)
from .targets import categories_from_targets

#: ContrastCAM's named targets: "pq" -> e_P + e_Q, "none" -> 0, "p" -> e_P, "q" (ce only).
CONTRAST_TARGET_NAMES: tuple[str, ...] = ("pq", "none", "p")


class _CamAdapter:
    """Common behaviour: one or more target layers, grad-cam style targets, numpy output."""

    method: str = GRADCAM

    def __init__(
        self,
        model: nn.Module,
        target_layers: Sequence[nn.Module | str],
        reshape_transform: Any = None,
    ) -> None:
        if reshape_transform is not None:
            raise InputError("reshape_transform is not supported: target layers must be 4-D")
        if isinstance(target_layers, nn.Module | str) or not list(target_layers):
            raise InputError("target_layers must be a non-empty list of layers")
        self.model = model
        self.explainers = [Explainer(model, target_layer=layer) for layer in target_layers]

    def _options(self) -> dict[str, Any]:
        return {}

    def __call__(
        self,
        input_tensor: Tensor,
        targets: Sequence[object] | None = None,
        aug_smooth: bool = False,
        eigen_smooth: bool = False,
    ) -> np.ndarray:
        """Maps (B, H, W) float32 in [0, 1]; ``targets`` None explains the predicted class."""
        if aug_smooth or eigen_smooth:
            raise InputError("aug_smooth and eigen_smooth are not supported by causalcam")
        batch = input_tensor.shape[0] if isinstance(input_tensor, Tensor) else 0
        categories = categories_from_targets(targets, batch)
        options = {"methods": (self.method,), **self._options()}
        if len(self.explainers) == 1:
            result = self.explainers[0].explain(input_tensor, target_class=categories, **options)
            maps = result.maps[self.method]
        else:
            maps = self._multi_layer(input_tensor, categories, options)
        return maps.detach().to("cpu", torch.float32).numpy()

    def _multi_layer(
        self, input_tensor: Tensor, categories: Tensor | None, options: dict[str, Any]
    ) -> Tensor:
        """grad-cam's aggregation: per layer min-max then resize, mean, min-max again."""
        size = (input_tensor.shape[-2], input_tensor.shape[-1])
        per_layer = []
        for explainer in self.explainers:
            result = explainer.explain(
                input_tensor, target_class=categories, return_raw=True, **options
            )
            assert result.raw is not None
            per_layer.append(upsample(minmax(result.raw[self.method]), size))
        return minmax(torch.stack(per_layer).mean(0))

    def __enter__(self) -> _CamAdapter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Nothing to release: every call removes its own hook."""


class GradCAM(_CamAdapter):
    """Grad-CAM (weights: spatial mean of the logit gradient), grad-cam call style."""

    method = GRADCAM


class GradCAMPlusPlus(_CamAdapter):
    """Grad-CAM++ (grad-cam 1.5.7's formula), grad-cam call style."""

    method = GRADCAM_PP


class ContrastCAM(_CamAdapter):
    """A contrast map: the gradient of a loss between the logits and a target.

    ``target``: ``"pq"`` (e_P + e_Q), ``"none"`` (0), ``"p"`` (e_P) or a target vector
    (N,) / (B, N) with ``loss`` ``mse``, ``bce`` or ``mse_prob``; with ``loss="ce"`` the map answers
    "why P, rather than Q?" and ``target`` must be ``"q"``. ``contrast_class``: Q per image
    (default the runner-up logit).
    """

    def __init__(
        self,
        model: nn.Module,
        target_layers: Sequence[nn.Module | str],
        target: str | Tensor = "pq",
        loss: str = DEFAULT_CAUSAL["loss"],
        contrast_class: int | Tensor | None = None,
        reshape_transform: Any = None,
    ) -> None:
        super().__init__(model, target_layers, reshape_transform)
        check_choice("contrast loss", loss, (*CAUSAL_LOSSES, "ce"))
        self.loss = loss
        self.target = target
        self.contrast_class = contrast_class
        if loss == "ce":
            if target not in ("q", "pq"):
                raise InputError('with loss="ce" the contrast target is class Q: use target="q"')
            self.method = CONTRAST_CE
        elif isinstance(target, Tensor):
            self.method = "contrast[target]"
        else:
            name = check_choice("contrast target", target, CONTRAST_TARGET_NAMES)
            self.method = list(CAUSAL_TARGETS)[CONTRAST_TARGET_NAMES.index(name)]

    def _options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"contrast_class": self.contrast_class}
        if self.loss != "ce":
            options["contrast_loss"] = self.loss
        if isinstance(self.target, Tensor):
            options["contrast_targets"] = {"target": self.target}
            options["methods"] = ()
        return options


class CausalCAM(_CamAdapter):
    """The causal map (paper Eq. 3-4) with docs/method.md's options, grad-cam call style."""

    method = CAUSAL

    def __init__(
        self,
        model: nn.Module,
        target_layers: Sequence[nn.Module | str],
        loss: str = DEFAULT_CAUSAL["loss"],
        normalize: str = DEFAULT_CAUSAL["normalize"],
        sign: str = DEFAULT_CAUSAL["sign"],
        contrast_class: int | Tensor | None = None,
        reshape_transform: Any = None,
        gradcam_term: str = "logit",
    ) -> None:
        super().__init__(model, target_layers, reshape_transform)
        self.options = CausalOptions(
            loss=loss, normalize=normalize, sign=sign, gradcam_term=gradcam_term
        )
        self.contrast_class = contrast_class

    def _options(self) -> dict[str, Any]:
        return {"causal": self.options, "contrast_class": self.contrast_class}
