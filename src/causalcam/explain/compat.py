"""pytorch-grad-cam call compatibility: switch by changing an import.

``with GradCAM(model=m, target_layers=[m.layer4]) as cam: maps = cam(input_tensor=x,
targets=None)`` returns float32 numpy (B, H, W) in [0, 1], like the grad-cam package; a
volume batch (B, C, D, H, W) of a 3-D network gives (B, D, H, W).
These classes are thin adapters over :class:`~causalcam.explain.Explainer`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..errors import InputError
from ..method_names import (
    CAUSAL,
    CONTRAST_CE,
    EIGENCAM,
    EIGENGRADCAM,
    FINERCAM,
    GRADCAM,
    GRADCAM_ELEMENTWISE,
    GRADCAM_PP,
    HIRESCAM,
    LAYERCAM,
    RANDOMCAM,
    SCORECAM,
    XGRADCAM,
)
from .engine import Explainer
from .methods import (
    CAUSAL_LOSSES,
    CAUSAL_TARGETS,
    DEFAULT_CAUSAL,
    CausalOptions,
    check_choice,
    minmax,
    per_map,
    upsample,
)
from .targets import FinerOptions

#: ContrastCAM's named targets: "pq" -> e_P + e_Q, "none" -> 0, "p" -> e_P, "q" (ce only).
CONTRAST_TARGET_NAMES: tuple[str, ...] = ("pq", "none", "p")


#: grad-cam's default ``aug_smooth`` transforms (ttach): horizontal flip x brightness.
AUG_FLIPS: tuple[bool, ...] = (False, True)
AUG_FACTORS: tuple[float, ...] = (0.9, 1.0, 1.1)


class _CamAdapter:
    """Common behaviour: one or more target layers, grad-cam style targets, numpy output."""

    method: str = GRADCAM

    def __init__(
        self,
        model: nn.Module,
        target_layers: Sequence[nn.Module | str],
        reshape_transform: Callable[[Tensor], Tensor] | None = None,
        **explainer_options: Any,
    ) -> None:
        if isinstance(target_layers, nn.Module | str) or not list(target_layers):
            raise InputError("target_layers must be a non-empty list of layers")
        self.model = model
        self.explainers = [
            Explainer(
                model, target_layer=layer, reshape_transform=reshape_transform, **explainer_options
            )
            for layer in target_layers
        ]

    def _options(self) -> dict[str, Any]:
        return {}

    def __call__(
        self,
        input_tensor: Tensor,
        targets: Sequence[object] | None = None,
        aug_smooth: bool = False,
        eigen_smooth: bool = False,
    ) -> np.ndarray:
        """Maps (B, H, W) (volumes: (B, D, H, W)) float32 in [0, 1]; ``targets`` None
        explains the predicted class; ``aug_smooth`` averages the maps of copies flipped
        along the last axis (W) and brightness-scaled (grad-cam's default test-time
        augmentation, all copies in one batch); ``eigen_smooth`` uses the first principal
        component of the weighted activations."""
        if not aug_smooth:
            maps = self._maps(input_tensor, targets, eigen_smooth)
            return maps.detach().to("cpu", torch.float32).numpy()
        if not isinstance(input_tensor, Tensor) or input_tensor.ndim not in (4, 5):
            raise InputError("aug_smooth needs inputs of shape (B, C, H, W) or (B, C, D, H, W)")
        copies = [(flip, factor) for flip in AUG_FLIPS for factor in AUG_FACTORS]
        batch = torch.cat(
            [(input_tensor.flip(-1) if flip else input_tensor) * f for flip, f in copies]
        )
        repeated = None if targets is None else list(targets) * len(copies)
        parts = self._maps(batch, repeated, eigen_smooth).chunk(len(copies))
        restored = [m.flip(-1) if flip else m for m, (flip, _) in zip(parts, copies, strict=True)]
        return torch.stack(restored).mean(0).detach().to("cpu", torch.float32).numpy()

    def _maps(
        self, input_tensor: Tensor, targets: Sequence[object] | None, eigen_smooth: bool
    ) -> Tensor:
        options = {
            "methods": (self.method,),
            "targets": targets,
            "eigen_smooth": eigen_smooth,
            **self._options(),
        }
        if len(self.explainers) == 1:
            return self.explainers[0].explain(input_tensor, **options).maps[self.method]
        return self._multi_layer(input_tensor, options)

    def _multi_layer(self, input_tensor: Tensor, options: dict[str, Any]) -> Tensor:
        """grad-cam's aggregation: per layer min-max then resize, mean, min-max again (a
        flat map, zeros in ``maps``, stays zeros)."""
        size = tuple(input_tensor.shape[2:])
        per_layer = []
        for explainer in self.explainers:
            result = explainer.explain(input_tensor, return_raw=True, **options)
            assert result.raw is not None
            kept = result.maps[self.method].flatten(1).amax(dim=1) > 0
            layer_map = upsample(minmax(result.raw[self.method]), size)
            per_layer.append(layer_map * per_map(kept, layer_map))
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


class HiResCAM(_CamAdapter):
    """HiResCAM (grad-cam 1.5.7's formula): ``ReLU(sum_k G_k * A_k)``, grad-cam call style."""

    method = HIRESCAM


class GradCAMElementWise(_CamAdapter):
    """Grad-CAM element-wise: ``ReLU(sum_k ReLU(G_k * A_k))``, grad-cam call style."""

    method = GRADCAM_ELEMENTWISE


class XGradCAM(_CamAdapter):
    """XGrad-CAM: ``w_k = sum_hw G_k A_k / (sum_hw A_k + 1e-7)``, grad-cam call style."""

    method = XGRADCAM


class LayerCAM(_CamAdapter):
    """LayerCAM: ``ReLU(sum_k ReLU(G_k) * A_k)``, grad-cam call style."""

    method = LAYERCAM


class EigenCAM(_CamAdapter):
    """Eigen-CAM: the activations' first principal component (no gradient), grad-cam call
    style (the forward pass and VJP are still one pass; targets do not change the map)."""

    method = EIGENCAM


class EigenGradCAM(_CamAdapter):
    """EigenGrad-CAM: the first principal component of ``G * A``, grad-cam call style."""

    method = EIGENGRADCAM


class RandomCAM(_CamAdapter):
    """Random CAM, the baseline: channel weights ``U(-1, 1)``, grad-cam call style; unlike
    grad-cam's, seeded (``seed``; image i of a call draws from ``seed`` and i)."""

    method = RANDOMCAM

    def __init__(
        self,
        model: nn.Module,
        target_layers: Sequence[nn.Module | str],
        reshape_transform: Callable[[Tensor], Tensor] | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(model, target_layers, reshape_transform)
        self.seed = seed

    def _options(self) -> dict[str, Any]:
        return {"seed": self.seed}


class ScoreCAM(_CamAdapter):
    """Score-CAM (grad-cam 1.5.7's masks and weights), grad-cam call style.

    Cost: one forward pass per channel of the target layer and image (512 per image for
    ResNet-18's ``layer4``), ``batch_size`` masked inputs at a time (grad-cam: 16), in
    ``precision`` (``fp32``, ``bf16``, ``fp16``, ``auto``: see ``causalcam.precision``).
    """

    method = SCORECAM

    def __init__(
        self,
        model: nn.Module,
        target_layers: Sequence[nn.Module | str],
        reshape_transform: Callable[[Tensor], Tensor] | None = None,
        batch_size: int = 64,
        precision: str = "fp32",
    ) -> None:
        super().__init__(
            model, target_layers, reshape_transform, chunk_size=batch_size, precision=precision
        )


class FinerCAM(_CamAdapter):
    """Finer-CAM over Grad-CAM, grad-cam's call shape: ``cam(input_tensor, targets=None,
    eigen_smooth=False, alpha=1, comparison_categories=None, target_idx=None)``.

    Without targets, image b's score compares its class P (``target_idx``, else the
    predicted class) with the classes whose logits come closest to ``z_P``, at the
    positions ``comparison_categories`` of that order (default 1, 2, 3), weighted by their
    probabilities (``FinerWeightedTarget``); with targets, it is Grad-CAM of the targets.
    """

    method = FINERCAM

    def __call__(  # type: ignore[override]
        self,
        input_tensor: Tensor,
        targets: Sequence[object] | None = None,
        eigen_smooth: bool = False,
        alpha: float = 1,
        comparison_categories: Sequence[int] | None = None,
        target_idx: int | None = None,
    ) -> np.ndarray:
        categories = (1, 2, 3) if comparison_categories is None else comparison_categories
        self._finer = FinerOptions(alpha, tuple(int(c) for c in categories))
        self._target_idx = target_idx
        return super().__call__(input_tensor, targets, eigen_smooth=eigen_smooth)

    def _options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"finer": getattr(self, "_finer", FinerOptions())}
        if getattr(self, "_target_idx", None) is not None:
            options["target_class"] = self._target_idx
        return options


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
        reshape_transform: Callable[[Tensor], Tensor] | None = None,
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
        reshape_transform: Callable[[Tensor], Tensor] | None = None,
        gradcam_term: str = "logit",
    ) -> None:
        super().__init__(model, target_layers, reshape_transform)
        self.options = CausalOptions(
            loss=loss, normalize=normalize, sign=sign, gradcam_term=gradcam_term
        )
        self.contrast_class = contrast_class

    def _options(self) -> dict[str, Any]:
        return {"causal": self.options, "contrast_class": self.contrast_class}
