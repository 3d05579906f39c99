"""Classification networks by name: the paper's five and any torchvision classifier.

Weights are never downloaded. ``build(..., weights=PATH)`` initialises from a local file
of torchvision's published ImageNet weights (a plain state dict) and then replaces the
1000-way head by a freshly initialised ``num_classes``-way one; ``load_encoder`` loads a
self-supervised encoder of ``causalcam pretrain`` into every layer but the head.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch import nn
from torchvision.models._utils import IntermediateLayerGetter

from ..errors import CheckpointError, InputError
from .architectures import transformer_layer
from .volume import VOLUME_ARCHS, VOLUME_TARGET_LAYERS, SmallCNN3d, build_volume_network

PAPER_ARCHS: tuple[str, ...] = ("resnet18", "resnet34", "resnet50", "densenet121", "densenet169")
_IMAGENET_CLASSES = 1000


#: torchvision's segmentation networks (an (N, H, W) output of class scores per image).
SEGMENTATION_ARCHS: tuple[str, ...] = tuple(
    torchvision.models.list_models(module=torchvision.models.segmentation)
)


def available() -> list[str]:
    """Names ``build`` accepts: torchvision's classification and segmentation models and
    causalcam's 3-D networks (:data:`~causalcam.models.volume.VOLUME_ARCHS`)."""
    return sorted(
        [*torchvision.models.list_models(module=torchvision.models), *SEGMENTATION_ARCHS,
         *VOLUME_ARCHS]
    )  # fmt: skip


def segmentation_network(name: str, num_classes: int | None = None) -> nn.Module:
    """A randomly initialised torchvision segmentation network (backbone included: nothing is
    downloaded), without the auxiliary head."""
    classes = {} if num_classes is None else {"num_classes": num_classes}
    return torchvision.models.get_model(
        name, weights=None, weights_backbone=None, aux_loss=False, **classes
    )


def _check_name(name: str) -> None:
    if name not in available():
        raise InputError(
            f"unknown architecture {name!r}; the paper's are {', '.join(PAPER_ARCHS)} "
            "(any torchvision classification or segmentation model name is accepted)"
        )


def _replace_head(model: nn.Module, num_classes: int) -> None:
    """Swap the last 1000-way ``Linear`` (or 1x1 ``Conv2d``) for a new ``num_classes`` one."""
    heads = [
        (name, module)
        for name, module in model.named_modules()
        if (isinstance(module, nn.Linear) and module.out_features == _IMAGENET_CLASSES)
        or (isinstance(module, nn.Conv2d) and module.out_channels == _IMAGENET_CLASSES)
    ]
    if not heads:
        raise InputError(f"cannot find the 1000-way ImageNet head of {type(model).__name__}")
    name, old = heads[-1]
    new: nn.Module
    if isinstance(old, nn.Linear):
        new = nn.Linear(old.in_features, num_classes, bias=old.bias is not None)
    else:
        assert isinstance(old, nn.Conv2d)
        new = nn.Conv2d(old.in_channels, num_classes, kernel_size=1)
    parent = model.get_submodule(name.rpartition(".")[0]) if "." in name else model
    setattr(parent, name.rpartition(".")[2], new)


def _read(file: Path, what: str) -> Any:
    """``torch.load`` of a local file (``weights_only=True``), errors naming ``what`` it is."""
    try:
        return torch.load(file, map_location="cpu", weights_only=True)
    except FileNotFoundError as error:
        raise CheckpointError(f"{what} file {file} does not exist") from error
    except Exception as error:  # torch raises many types for a bad file
        raise CheckpointError(f"cannot read {what} file {file}: {error}") from error


def load_imagenet_weights(model: nn.Module, path: str | os.PathLike[str]) -> None:
    """Load a local torchvision ImageNet state dict (``weights_only=True``) into ``model``."""
    file = Path(path)
    state = _read(file, "ImageNet weights")
    if not isinstance(state, dict):
        raise CheckpointError(f"{file} is not a state dict of torchvision weights")
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        first = str(error).splitlines()[0]
        raise CheckpointError(
            f"{file} does not match {type(model).__name__} ImageNet weights: {first}"
        ) from error


def head_name(model: nn.Module) -> str:
    """Dotted name of a classifier's output layer: its last ``nn.Linear``."""
    linears = [name for name, module in model.named_modules() if isinstance(module, nn.Linear)]
    if not linears:
        raise InputError(f"{type(model).__name__} has no nn.Linear output layer")
    return linears[-1]


def encoder_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The ``state_dict`` of ``model`` without its output layer (what pretraining keeps)."""
    head = head_name(model) + "."
    return {k: v for k, v in model.state_dict().items() if not k.startswith(head)}


ENCODER_FORMAT = "causalcam-encoder"


def load_encoder(model: nn.Module, path: str | os.PathLike[str], arch: str) -> dict[str, Any]:
    """Load a pretrained encoder (``causalcam pretrain``'s ``encoder.pt``) into every layer of
    ``model`` but its output layer; return the encoder's metadata."""
    file = Path(path)
    payload = _read(file, "encoder")
    if not isinstance(payload, dict) or payload.get("format") != ENCODER_FORMAT:
        raise CheckpointError(f"{file} is not an encoder written by causalcam pretrain")
    if payload["meta"]["arch"] != arch:
        raise CheckpointError(f"{file} is a {payload['meta']['arch']} encoder, not {arch}")
    head = head_name(model) + "."
    missing, unexpected = model.load_state_dict(payload["state_dict"], strict=False)
    stray = [k for k in missing if not k.startswith(head)] + list(unexpected)
    if stray:
        raise CheckpointError(f"{file} does not fit {arch}: {', '.join(stray[:5])}")
    return dict(payload["meta"])


def build(
    name: str, num_classes: int = 2, weights: str | os.PathLike[str] | None = None
) -> nn.Module:
    """A torchvision classifier ``name`` with a ``num_classes``-way head.

    ``weights``: optional local file of torchvision's ImageNet weights for ``name``
    (e.g. ``resnet18-f37072fd.pth``); without it the network starts from random weights.
    """
    _check_name(name)
    if num_classes < 2:
        raise InputError(f"num_classes must be at least 2, got {num_classes}")
    if name in VOLUME_ARCHS or name in SEGMENTATION_ARCHS:
        if weights is not None:
            raise InputError(f"{name} has no ImageNet weights here; it starts from random weights")
        if name in SEGMENTATION_ARCHS:
            return segmentation_network(name, num_classes)
        return build_volume_network(name, num_classes)
    if weights is None:
        return torchvision.models.get_model(name, num_classes=num_classes)
    model = torchvision.models.get_model(name, num_classes=_IMAGENET_CLASSES)
    load_imagenet_weights(model, weights)
    _replace_head(model, num_classes)
    return model


def default_target_layer(model_or_name: nn.Module | str) -> str:
    """Dotted name of the layer a CAM reads: ``block4`` of causalcam's 3-D ``small3d``, the
    last stage of a torchvision segmentation network's backbone (``backbone.layer4``), the
    first norm of the last block of a ViT or
    Swin (its tokens reshaped by the explainer), ResNet-style ``layer4``, DenseNet
    ``features.norm5``, a timm CNN's last feature stage (its ``feature_info``), otherwise the
    last block of ``features`` or the last ``Conv2d``."""
    if isinstance(model_or_name, str):
        _check_name(model_or_name)
        if model_or_name in VOLUME_TARGET_LAYERS:
            return VOLUME_TARGET_LAYERS[model_or_name]
        with torch.device("meta"):
            model = (
                segmentation_network(model_or_name)
                if model_or_name in SEGMENTATION_ARCHS
                else torchvision.models.get_model(model_or_name)
            )
    else:
        model = model_or_name
    if isinstance(model, SmallCNN3d):
        return VOLUME_TARGET_LAYERS["small3d"]
    backbone = getattr(model, "backbone", None)
    if isinstance(backbone, IntermediateLayerGetter):  # torchvision's segmentation networks
        return f"backbone.{list(dict(backbone.named_children()))[-1]}"
    transformer = transformer_layer(model)
    if transformer is not None:
        return transformer
    names = dict(model.named_modules())
    for candidate in ("layer4", "features.norm5"):
        if candidate in names:
            return candidate
    stages = getattr(model, "feature_info", None)  # timm: one entry per feature stage
    if isinstance(stages, list) and stages and stages[-1].get("module") in names:
        return str(stages[-1]["module"])
    features = names.get("features")
    if isinstance(features, nn.Sequential) and len(features) > 0:
        return f"features.{len(features) - 1}"
    convs = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise InputError(f"{type(model).__name__} has no convolution layer for a CAM")
    return convs[-1]
