"""How 8-bit grey scans become model inputs.

CT scans are grey; every model sees three identical channels normalised with
the mean and standard deviation recorded in its checkpoint (ImageNet's by default).
Masking for evaluation happens on the 8-bit grey image, *before* this step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .errors import InputError

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Preprocessing:
    """Input size (square, pixels) and per-channel normalisation of a model."""

    size: int = 224
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def to_dict(self) -> dict[str, object]:
        return {"size": self.size, "mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, values: dict[str, object]) -> Preprocessing:
        mean = tuple(float(v) for v in values["mean"])  # type: ignore[attr-defined]
        std = tuple(float(v) for v in values["std"])  # type: ignore[attr-defined]
        return cls(size=int(values["size"]), mean=mean, std=std)  # type: ignore[call-overload,arg-type]


def to_model_input(
    grey: torch.Tensor, preprocessing: Preprocessing = Preprocessing()
) -> torch.Tensor:
    """Turn grey images ``(B, H, W)`` (uint8 in [0, 255], or float in [0, 1]) into
    normalised float32 model inputs ``(B, 3, H, W)`` on the same device."""
    if grey.ndim != 3:
        raise InputError(f"expected grey images of shape (B, H, W), got shape {tuple(grey.shape)}")
    scaled = grey.float() / 255.0 if grey.dtype == torch.uint8 else grey.float()
    mean = torch.tensor(preprocessing.mean, device=grey.device).view(1, 3, 1, 1)
    std = torch.tensor(preprocessing.std, device=grey.device).view(1, 3, 1, 1)
    return (scaled.unsqueeze(1).expand(-1, 3, -1, -1) - mean) / std
