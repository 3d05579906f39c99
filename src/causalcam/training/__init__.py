"""Training the paper's networks on COVID-CT.

- :mod:`.recipes`: :class:`Recipe`, :data:`RECIPES`, :func:`recipe_label`.
- :mod:`.augmentation`: batched augmentation on tensors (:func:`augment`, :func:`mix`).
- :mod:`.metrics`: :func:`classification_metrics`, :func:`evaluate` on one split.
- :mod:`.loop`: :class:`TrainConfig` and :func:`train` (resumable per epoch), behind
  ``causalcam train``; returns a :class:`TrainingRun`.
- :mod:`.all_networks`: :func:`train_all`, one run folder per network, behind
  ``causalcam train-all``.
- :mod:`.pretraining`: self-supervised pretraining behind ``causalcam pretrain``.
"""

from .all_networks import summary_markdown, train_all
from .augmentation import augment, mix
from .loop import TrainConfig, TrainingRun, train, trained_precision
from .metrics import classification_metrics, evaluate, predict, roc_auc
from .pretraining import PretrainConfig, pretrain
from .recipes import RECIPES, Recipe, parse_override, recipe_changes, recipe_label

__all__ = [
    "RECIPES",
    "PretrainConfig",
    "Recipe",
    "TrainConfig",
    "TrainingRun",
    "augment",
    "classification_metrics",
    "evaluate",
    "mix",
    "parse_override",
    "predict",
    "pretrain",
    "recipe_changes",
    "recipe_label",
    "roc_auc",
    "summary_markdown",
    "train",
    "train_all",
    "trained_precision",
]
