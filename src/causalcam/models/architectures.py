"""Architecture families the package knows by structure: vision transformers (torchvision,
timm, Hugging Face ViT and Swin), their default CAM layer and the reshape of their token
outputs to (B, C, h, w) feature maps. Used by ``models`` and ``explain`` alike."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torchvision
from torch import Tensor, nn

from ..errors import InputError

__all__ = ["ChannelsLast", "TokenGrid", "known_reshape", "transformer_layer"]


def _names(model: nn.Module) -> set[str]:
    return {name for name, _ in model.named_modules() if name}


@dataclass(frozen=True)
class TokenGrid:
    """ViT tokens (B, T, C) -> (B, C, h, w): drop ``prefix`` class/register tokens and lay
    the rest on a square grid (grad-cam's ViT ``reshape_transform``)."""

    prefix: int = 1

    def __call__(self, tensor: Tensor) -> Tensor:
        if tensor.ndim != 3:
            raise InputError(f"ViT tokens must be (B, T, C), got {tuple(tensor.shape)}")
        tokens = tensor[:, self.prefix :, :]
        side = math.isqrt(tokens.shape[1])
        if side * side != tokens.shape[1]:
            raise InputError(
                f"{tokens.shape[1]} patch tokens do not form a square grid (non-square input?); "
                "pass your own reshape_transform"
            )
        return tokens.reshape(tensor.shape[0], side, side, tensor.shape[2]).permute(0, 3, 1, 2)


@dataclass(frozen=True)
class ChannelsLast:
    """Swin feature maps (B, h, w, C) -> (B, C, h, w)."""

    def __call__(self, tensor: Tensor) -> Tensor:
        if tensor.ndim != 4:
            raise InputError(f"Swin features must be (B, h, w, C), got {tuple(tensor.shape)}")
        return tensor.permute(0, 3, 1, 2)


def _family(model: nn.Module) -> tuple[str, str, Callable[[Tensor], Tensor]] | None:
    """``(last block's path, its first norm, reshape)`` for a known transformer family."""
    kind, module = type(model).__name__, type(model).__module__
    if isinstance(model, torchvision.models.VisionTransformer):
        return "encoder.layers", "ln_1", TokenGrid(1)
    if isinstance(model, torchvision.models.SwinTransformer):
        return "features", "norm1", ChannelsLast()
    if module.startswith("timm.") and kind == "VisionTransformer":
        return "blocks", "norm1", TokenGrid(int(getattr(model, "num_prefix_tokens", 1)))
    if module.startswith("timm.") and kind == "SwinTransformer":
        return "layers", "blocks", ChannelsLast()
    if module.startswith("transformers.") and kind == "ViTForImageClassification":
        names = _names(model)
        path = "vit.layers" if "vit.layers" in names else "vit.encoder.layer"  # v5 / v4
        return path, "layernorm_before", TokenGrid(1)
    return None


def transformer_layer(model: nn.Module) -> str | None:
    """The first norm of the last block of a known ViT/Swin, where attention still mixes
    the tokens (later layers of a ViT only reach the logits through the class token)."""
    family = _family(model)
    if family is None:
        return None
    path, norm, _ = family
    last = f"{path}.{_last_child(model, path)}"
    if norm == "blocks":  # timm Swin: stages hold blocks
        return f"{last}.blocks.{_last_child(model, f'{last}.blocks')}.norm1"
    if isinstance(model, torchvision.models.SwinTransformer):  # stages are block lists
        last = f"{last}.{_last_child(model, last)}"
    return f"{last}.{norm}"


def _last_child(model: nn.Module, path: str) -> str:
    return list(model.get_submodule(path).named_children())[-1][0]


def known_reshape(model: nn.Module, layer: str) -> Callable[[Tensor], Tensor] | None:
    """The reshape of a known transformer's token layers (None for other layers/models)."""
    family = _family(model)
    if family is None:
        return None
    path, _, reshape = family
    return reshape if layer.startswith(path) or layer == "norm" else None
