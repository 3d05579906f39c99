"""Networks (the paper's five and any torchvision classifier) and checkpoints."""

from .checkpoint import (
    BUNDLED_MODELS,
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

__all__ = [
    "BUNDLED_MODELS",
    "PAPER_ARCHS",
    "CheckpointMeta",
    "LoadedModel",
    "available",
    "build",
    "bundled_model",
    "default_model",
    "default_target_layer",
    "export_checkpoint",
    "load_checkpoint",
    "read_checkpoint",
    "save_checkpoint",
]
