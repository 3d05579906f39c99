"""Networks (the paper's five and any torchvision classifier) and checkpoints."""

from .checkpoint import (
    CheckpointMeta,
    LoadedModel,
    default_model,
    export_checkpoint,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
)
from .registry import PAPER_ARCHS, available, build, default_target_layer

__all__ = [
    "PAPER_ARCHS",
    "CheckpointMeta",
    "LoadedModel",
    "available",
    "build",
    "default_model",
    "default_target_layer",
    "export_checkpoint",
    "load_checkpoint",
    "read_checkpoint",
    "save_checkpoint",
]
