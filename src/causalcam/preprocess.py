"""How 8-bit images become model inputs.

CT scans are grey: a model trained on them (``rgb=False``, every causalcam checkpoint) sees
three identical channels. A model of photos (``rgb=True``, e.g. your own torchvision or timm
classifier) sees the image's colour channels. Either way the channels are normalised with the
mean and standard deviation recorded for the model (ImageNet's by default). Masking for
evaluation happens on the 8-bit grey image, *before* this step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .errors import InputError

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Preprocessing:
    """Input size (square, pixels), per-channel normalisation and colour of a model: ``rgb``
    models see an image's colour channels, the others its grey value in all three."""

    size: int = 224
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    rgb: bool = False

    def __post_init__(self) -> None:
        if self.size < 1:
            raise InputError(f"input size must be a positive number of pixels, got {self.size}")
        if len(self.mean) != 3 or len(self.std) != 3:
            raise InputError(
                f"mean and std need one value per channel (3), got {len(self.mean)} and "
                f"{len(self.std)}"
            )
        if min(self.std) <= 0:
            raise InputError(f"std must be positive, got {list(self.std)}")

    def to_dict(self) -> dict[str, object]:
        """JSON form; ``rgb`` is written only when true, so a grey model's form (and the
        cache keys built from it) is the one it always had."""
        values: dict[str, object] = {
            "size": self.size,
            "mean": list(self.mean),
            "std": list(self.std),
        }
        if self.rgb:
            values["rgb"] = True
        return values

    @classmethod
    def from_dict(cls, values: dict[str, object]) -> Preprocessing:
        mean = tuple(float(v) for v in values["mean"])  # type: ignore[attr-defined]
        std = tuple(float(v) for v in values["std"])  # type: ignore[attr-defined]
        return cls(
            size=int(values["size"]),  # type: ignore[call-overload]
            mean=mean,  # type: ignore[arg-type]
            std=std,  # type: ignore[arg-type]
            rgb=bool(values.get("rgb", False)),
        )


def to_model_input(
    images: torch.Tensor, preprocessing: Preprocessing = Preprocessing()
) -> torch.Tensor:
    """Turn grey images ``(B, H, W)`` or RGB images ``(B, 3, H, W)`` (uint8 in [0, 255], or
    float in [0, 1]) into normalised float32 model inputs ``(B, 3, H, W)`` on the same device
    (grey repeated in the three channels)."""
    if images.ndim == 3:
        images = images.unsqueeze(1).expand(-1, 3, -1, -1)
    elif images.ndim != 4 or images.shape[1] != 3:
        raise InputError(
            "expected grey images (B, H, W) or RGB images (B, 3, H, W), got shape "
            f"{tuple(images.shape)}"
        )
    scaled = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
    mean = torch.tensor(preprocessing.mean, device=images.device).view(1, 3, 1, 1)
    std = torch.tensor(preprocessing.std, device=images.device).view(1, 3, 1, 1)
    return (scaled - mean) / std
