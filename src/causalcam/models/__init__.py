"""Networks (the paper's five and any torchvision classifier), checkpoints, and your own
classifier from its weights (:func:`load_model`)."""

from .checkpoint import (
    BUNDLED_MODELS,
    BUNDLED_VOLUME_MODELS,
    DEFAULT_BUNDLED,
    CheckpointMeta,
    LoadedModel,
    bundled_model,
    default_model,
    export_checkpoint,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
)
from .registry import PAPER_ARCHS, available, build, default_target_layer
from .volume import VOLUME_ARCHS, SmallCNN3d, VolumeGrid, volume_input
from .weights import load_model

__all__ = [
    "BUNDLED_MODELS",
    "BUNDLED_VOLUME_MODELS",
    "DEFAULT_BUNDLED",
    "PAPER_ARCHS",
    "VOLUME_ARCHS",
    "CheckpointMeta",
    "LoadedModel",
    "SmallCNN3d",
    "VolumeGrid",
    "available",
    "build",
    "bundled_model",
    "default_model",
    "default_target_layer",
    "export_checkpoint",
    "load_checkpoint",
    "load_model",
    "read_checkpoint",
    "save_checkpoint",
    "volume_input",
]
