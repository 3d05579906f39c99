"""Classification metrics of a trained network (causalcam.training.metrics)."""

from __future__ import annotations

import pytest
import torch

from causalcam.training import (
    classification_metrics,
    roc_auc,
)


def test_metrics_by_hand() -> None:
    labels = torch.tensor([0, 0, 0, 1, 1])
    p_covid = torch.tensor([0.9, 0.6, 0.3, 0.4, 0.1])
    metrics = classification_metrics(torch.stack([p_covid, 1 - p_covid], 1), labels)
    assert metrics["confusion"] == [[2, 1], [0, 2]]  # rows true, columns predicted
    assert metrics["accuracy"] == pytest.approx(4 / 5)
    assert metrics["precision"] == 1.0 and metrics["recall"] == pytest.approx(2 / 3)
    assert metrics["f1"] == pytest.approx(0.8)
    # pairs (pos, neg): 0.9>0.4,0.1; 0.6>0.4,0.1; 0.3<0.4, 0.3>0.1 -> 5 of 6
    assert metrics["auc"] == pytest.approx(5 / 6)
    assert roc_auc(torch.tensor([0.5, 0.5]), torch.tensor([True, False])) == 0.5
    assert classification_metrics(torch.tensor([[0.2, 0.8]]), torch.tensor([1]))["auc"] is None
