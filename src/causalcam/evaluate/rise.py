"""Probability-based deletion/insertion AUC of RISE (Petsiuk et al., BMVC 2018).

Pixels are ranked by the map (descending; ties keep raster order). With ``P`` pixels and
``steps`` intervals, ``s = ceil(P / steps)`` and the curve is sampled at counts
``n_k = 0, s, 2s, ..., P`` (fraction ``n_k / P``):

- deletion: the ``n_k`` top-ranked pixels are replaced by the deletion baseline
  (default black, the zero of the 8-bit scan), score ``p_c(x_k)``;
- insertion: only the ``n_k`` top-ranked pixels are taken from the image, the rest from the
  insertion baseline (default a Gaussian blur of the scan, RISE's kernel 11 and sigma 5).

``c`` is the class predicted on the clean image; ``p_c`` its softmax probability. The AUC is
the trapezoid integral of ``p_c`` against the fraction (in [0, 1]; deletion: lower is better,
insertion: higher). This is exactly what ``torchcam.metrics.DeletionInsertionMetric``
computes when both baselines are the same tensor (tested against it). The perturbed
images run in channels-last memory (default on CPU and CUDA) under the chosen ``precision``
(``causalcam.precision``; fp32 by default; probabilities are computed in fp32).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torchvision.transforms.functional import gaussian_blur
from tqdm.auto import tqdm

from ..errors import InputError
from ..network import Network, as_network, eval_mode
from ..precision import compute_plan, memory_format
from ..preprocess import to_model_input
from .store import tensor_fingerprint
from .threshold import validate_maps, validate_test_set

BaselineSpec = str | torch.Tensor
BLUR_KERNEL = 11
BLUR_SIGMA = 5.0


@dataclass(frozen=True)
class RiseResult:
    """Per-image RISE curves and their AUCs.

    Attributes:
        fractions: the fractions of pixels replaced or inserted, ``(S,)``.
        deletion: the predicted class's probability along deletion, ``(B, S)``.
        insertion: the same along insertion, ``(B, S)``.
    """

    fractions: np.ndarray
    deletion: np.ndarray
    insertion: np.ndarray

    @property
    def deletion_auc(self) -> np.ndarray:
        return np.trapezoid(self.deletion, self.fractions, axis=1)

    @property
    def insertion_auc(self) -> np.ndarray:
        return np.trapezoid(self.insertion, self.fractions, axis=1)

    def summary(self) -> dict[str, float]:
        """Mean AUCs over images (torchcam's ``summary()`` keys)."""
        return {
            "deletion_auc": float(self.deletion_auc.mean()),
            "insertion_auc": float(self.insertion_auc.mean()),
        }


@dataclass(frozen=True, eq=False)
class RiseSettings:
    """How RISE deletion/insertion runs: set once, passed to every call.

    Attributes:
        steps: intervals of the curves (``steps + 1`` points).
        deletion_baseline: ``"black"``, ``"blur"``, ``"mean"`` or a model-input tensor
            (see :func:`rise_baseline`).
        insertion_baseline: the same for insertion.
        batch_size: perturbed images per forward pass.
        progress: show a progress bar.
        precision: ``fp32``, ``bf16``, ``fp16`` or ``auto`` (``causalcam.precision``).
        channels_last: the memory layout (``None``: the device's default).
    """

    steps: int = 20
    deletion_baseline: BaselineSpec = "black"
    insertion_baseline: BaselineSpec = "blur"
    batch_size: int = 32
    progress: bool = True
    precision: str = "fp32"
    channels_last: bool | None = None

    def identity(self) -> dict[str, Any]:
        """What identifies the results these settings give (JSON; a tensor baseline by its
        bytes' fingerprint); not whether progress shows."""
        return {
            "steps": self.steps,
            "deletion_baseline": _baseline_identity(self.deletion_baseline),
            "insertion_baseline": _baseline_identity(self.insertion_baseline),
            "batch_size": self.batch_size,
            "precision": self.precision,
            "channels_last": self.channels_last,
        }


def _baseline_identity(spec: BaselineSpec) -> str:
    return tensor_fingerprint(spec) if isinstance(spec, torch.Tensor) else spec


def rise_counts(n_pixels: int, steps: int) -> list[int]:
    """Perturbed pixel counts ``0, s, 2s, ..., n_pixels`` with ``s = ceil(n_pixels / steps)``."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps <= 0:
        raise InputError(f"steps must be a positive integer, got {steps!r}")
    step = -(-n_pixels // steps)
    return [*range(0, n_pixels, step), n_pixels]


def rise_baseline(images: torch.Tensor, spec: BaselineSpec, network: Network) -> torch.Tensor:
    """The baseline that RISE puts in place of removed pixels, in model-input space.

    Args:
        images: uint8 grey scans ``(B, H, W)``.
        spec: ``"black"`` (grey 0), ``"blur"`` (Gaussian blur of the scan), ``"mean"`` (0
            after normalisation: the preprocessing mean) or a tensor broadcastable to the
            inputs (already in model-input space).
        network: the network whose preprocessing makes the model inputs.

    Returns:
        The baseline, float32 ``(B, 3, H, W)``.

    Raises:
        InputError: an unknown ``spec`` or a tensor that does not broadcast.
    """
    shape = (images.shape[0], 3, images.shape[1], images.shape[2])
    if isinstance(spec, torch.Tensor):
        try:
            return torch.broadcast_to(spec.to(images.device, torch.float32), shape)
        except RuntimeError as error:
            raise InputError(
                f"baseline of shape {tuple(spec.shape)} does not fit {shape}"
            ) from error
    if spec == "black":
        return to_model_input(torch.zeros_like(images), network.preprocessing)
    if spec == "blur":
        grey = images.float().unsqueeze(1) / 255.0
        blurred = gaussian_blur(grey, [BLUR_KERNEL, BLUR_KERNEL], [BLUR_SIGMA, BLUR_SIGMA])
        return to_model_input(blurred.squeeze(1), network.preprocessing)
    if spec == "mean":
        return torch.zeros(shape, device=images.device)
    raise InputError(f"baseline must be 'black', 'blur', 'mean' or a tensor; got {spec!r}")


def rise_curves(
    model: nn.Module,
    inputs: torch.Tensor,
    maps: torch.Tensor,
    *,
    deletion_baseline: torch.Tensor,
    insertion_baseline: torch.Tensor,
    class_idx: torch.Tensor | None = None,
    settings: RiseSettings | None = None,
) -> RiseResult:
    """RISE curves on model inputs.

    Args:
        model: the classifier.
        inputs: model inputs ``(B, C, H, W)``.
        maps: maps ``(B, H, W)``; pixels are removed or inserted in their descending order.
        deletion_baseline: what replaces removed pixels, in model-input space.
        insertion_baseline: what stands for pixels not inserted yet, in model-input space.
        class_idx: the class whose probability is followed (default: the one predicted on
            ``inputs``), ``(B,)``.
        settings: steps, batch size, precision and layout (default :class:`RiseSettings`
            without a progress bar; its baselines are not used here: they are given as
            tensors).

    Returns:
        The curves, with their AUCs as properties.
    """
    settings = settings or RiseSettings(progress=False)
    steps, batch_size, progress = settings.steps, settings.batch_size, settings.progress
    plan = compute_plan(inputs.device, settings.precision, settings.channels_last)
    n_images, n_pixels = inputs.shape[0], inputs.shape[2] * inputs.shape[3]
    counts = rise_counts(n_pixels, steps)
    order = torch.argsort(maps.flatten(1), dim=1, descending=True, stable=True)
    ranks = torch.argsort(order, dim=1)

    def classify(batch: torch.Tensor) -> torch.Tensor:
        with plan.autocast():
            logits = model(plan.inputs(batch))
        return torch.softmax(logits.float(), dim=-1)

    with eval_mode(model), memory_format(model, plan.channels_last), torch.inference_mode():
        probabilities = classify(inputs)
        target = probabilities.argmax(dim=1) if class_idx is None else class_idx.to(inputs.device)
        original = probabilities.gather(1, target.view(-1, 1)).squeeze(1)
        # job (image, curve, count): curve 0 deletion (points 1..), curve 1 insertion (..-2)
        jobs = torch.tensor(
            [
                (image, curve, point)
                for image in range(n_images)
                for curve in (0, 1)
                for point in (range(1, len(counts)) if curve == 0 else range(len(counts) - 1))
            ],
            device=inputs.device,
        )
        count_values = torch.tensor(counts, device=inputs.device)
        scores = torch.empty(jobs.shape[0], device=inputs.device)
        flat_inputs = inputs.flatten(2)
        bases = torch.stack([deletion_baseline.flatten(2), insertion_baseline.flatten(2)])
        for start in tqdm(range(0, jobs.shape[0], batch_size), disable=not progress, desc="RISE"):
            image, curve, point = jobs[start : start + batch_size].unbind(1)
            top = ranks[image] < count_values[point].unsqueeze(1)
            keep = torch.where((curve == 1).unsqueeze(1), top, ~top).unsqueeze(1)
            perturbed = torch.where(keep, flat_inputs[image], bases[curve, image])
            probs = classify(perturbed.view(-1, *inputs.shape[1:]))
            scores[start : start + batch_size] = probs.gather(1, target[image].view(-1, 1))[:, 0]
    per_curve = scores.view(n_images, 2, len(counts) - 1).cpu().numpy()
    original_np = original.cpu().numpy()[:, None]
    return RiseResult(
        fractions=np.asarray(counts, dtype=np.float64) / n_pixels,
        deletion=np.concatenate([original_np, per_curve[:, 0]], axis=1),
        insertion=np.concatenate([per_curve[:, 1], original_np], axis=1),
    )


def rise_auc(
    model: Network | nn.Module | Any,
    images: torch.Tensor,
    maps: torch.Tensor,
    *,
    settings: RiseSettings | None = None,
    class_idx: torch.Tensor | None = None,
) -> RiseResult:
    """RISE deletion/insertion of grey uint8 scans under their maps, through the model's own
    preprocessing (see the module docstring).

    Args:
        model: a ``Network``, checkpoint or ``nn.Module``.
        images: uint8 grey scans ``(B, H, W)``.
        maps: their maps ``(B, H, W)`` in [0, 1].
        settings: steps, baselines, batch size, precision (default :class:`RiseSettings`).
        class_idx: the class scored per image (default: the one predicted on the scan).

    Returns:
        The per-image curves and their AUCs.

    Raises:
        InputError: bad images, maps, baselines or steps.
    """
    settings = settings or RiseSettings()
    network = as_network(model)
    validate_test_set(images, torch.zeros(images.shape[0], dtype=torch.long))
    device = network.device
    maps = validate_maps(maps, images.shape, "rise_auc").to(device)
    images = images.to(device)
    return rise_curves(
        network.model,
        to_model_input(images, network.preprocessing),
        maps,
        deletion_baseline=rise_baseline(images, settings.deletion_baseline, network),
        insertion_baseline=rise_baseline(images, settings.insertion_baseline, network),
        class_idx=class_idx,
        settings=settings,
    )
