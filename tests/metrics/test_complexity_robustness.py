"""Sparseness, Complexity and Max-Sensitivity: equal to Quantus's values."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from metrics_helpers import METHODS, Case
from torch import Tensor

from causalcam.explain import Explainer
from causalcam.metrics import Complexity, MaxSensitivity, Sparseness, explain_named

quantus = pytest.importorskip("quantus")


def _quantus_inputs(case: Case) -> dict[str, Any]:
    return {
        "x_batch": case.inputs.numpy(),
        "y_batch": case.predicted.numpy(),
        "a_batch": case.maps["gradcam"].unsqueeze(1).numpy().copy(),
    }


@pytest.mark.parametrize(
    ("ours", "theirs"), [(Sparseness, "Sparseness"), (Complexity, "Complexity")]
)
def test_complexity_equals_quantus(case: Case, ours: Any, theirs: str) -> None:
    peer = getattr(quantus, theirs)(disable_warnings=True)
    expected = peer(model=case.model, **_quantus_inputs(case))
    result = ours()(case.maps["gradcam"], method="gradcam")
    np.testing.assert_allclose(result.scores, expected, rtol=1e-5, atol=1e-6)
    assert result.method == "gradcam" and len(result.scores) == 4


def test_sparseness_orders_a_spot_above_a_flat_map() -> None:
    spot = np.zeros((1, 8, 8))
    spot[0, 3, 3] = 1
    flat = np.ones((1, 8, 8))
    assert Sparseness()(spot).scores[0] > 0.9 > 0.1 > Sparseness()(flat).scores[0]
    assert Complexity()(spot).scores[0] < 1e-6 < Complexity()(flat).scores[0]


def test_max_sensitivity_equals_quantus(case: Case) -> None:
    explainer = Explainer(case.model, target_layer="features")

    def explain(inputs: Tensor, classes: Tensor) -> dict[str, Tensor]:
        return explain_named(explainer, inputs, METHODS, target_class=classes).maps

    def quantus_explain(
        model: Any, inputs: np.ndarray, targets: np.ndarray, **_: Any
    ) -> np.ndarray:
        maps = explain(torch.from_numpy(inputs), torch.from_numpy(np.asarray(targets)))
        return maps["gradcam"].unsqueeze(1).numpy()

    peer = quantus.MaxSensitivity(nr_samples=3, disable_warnings=True)
    np.random.seed(5)
    expected = peer(model=case.model, explain_func=quantus_explain, **_quantus_inputs(case))
    result = MaxSensitivity(nr_samples=3, seed=5)(explain, case.inputs, case.maps, case.predicted)
    assert set(result) == set(METHODS)
    np.testing.assert_allclose(result["gradcam"].scores, expected, rtol=1e-4, atol=1e-5)
    assert result["gradcam"].settings == {"nr_samples": 3, "lower_bound": 0.2, "seed": 5}
    again = MaxSensitivity(nr_samples=3, seed=5)(explain, case.inputs, case.maps, case.predicted)
    assert again == result
