"""Classification metrics of a trained network on one split: accuracy, COVID-positive
precision/recall/F1, ROC AUC, confusion matrix and NLL.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..data.covidct import CLASSES
from ..network import eval_mode
from ..precision import ComputePlan
from ..preprocess import Preprocessing, to_model_input


def roc_auc(scores: torch.Tensor, positive: torch.Tensor) -> float:
    """Area under the ROC curve = P(score of a positive > score of a negative), ties 1/2
    (the Mann-Whitney U statistic divided by n_pos * n_neg)."""
    pos, neg = scores[positive], scores[~positive]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).double().sum()
    ties = (pos[:, None] == neg[None, :]).double().sum()
    return float((greater + 0.5 * ties) / (len(pos) * len(neg)))


def classification_metrics(probs: torch.Tensor, labels: torch.Tensor) -> dict[str, Any]:
    """Accuracy, COVID-positive precision/recall/F1 (class 0 is positive, as in He et al.),
    AUC of p(COVID), confusion matrix (rows true class, columns predicted), mean NLL."""
    predicted = probs.argmax(1)
    confusion = torch.zeros(len(CLASSES), len(CLASSES), dtype=torch.int64)
    confusion.index_put_((labels, predicted), torch.ones_like(labels), accumulate=True)
    tp, fn, fp = confusion[0, 0].item(), confusion[0, 1].item(), confusion[1, 0].item()
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    nll = F.nll_loss(probs.clamp_min(1e-12).log(), labels).item()
    auc = roc_auc(probs[:, 0], labels == 0)
    return {
        "n": len(labels),
        "accuracy": (predicted == labels).double().mean().item(),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "auc": None if math.isnan(auc) else auc,
        "loss": nll,
        "confusion": confusion.tolist(),
    }


@torch.no_grad()
def predict(
    model: nn.Module,
    images: torch.Tensor,
    preprocessing: Preprocessing,
    batch_size: int = 64,
    device: torch.device | str = "cpu",
    plan: ComputePlan | None = None,
) -> torch.Tensor:
    """Softmax probabilities ``(B, classes)`` of ``model`` (eval mode) on grey uint8 images;
    ``plan`` sets the autocast precision and input layout (default: fp32, as given)."""
    plan = plan or ComputePlan(torch.device(device))
    outputs = []
    with eval_mode(model):
        for chunk in images.split(batch_size):
            inputs = plan.inputs(to_model_input(chunk.to(device), preprocessing))
            with plan.autocast():
                outputs.append(model(inputs).float().softmax(1).cpu())
    return torch.cat(outputs)


def evaluate(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    preprocessing: Preprocessing,
    device: torch.device | str = "cpu",
    plan: ComputePlan | None = None,
) -> dict[str, Any]:
    """:func:`classification_metrics` of ``model`` on one split."""
    probs = predict(model, images, preprocessing, device=device, plan=plan)
    return classification_metrics(probs, labels)
