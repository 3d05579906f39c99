"""torchcam's Average Drop and Increase in Confidence: equal to ClassificationMetric."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from functools import partial
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from metrics_helpers import Case
from torch import Tensor, nn

from causalcam.errors import InputError
from causalcam.metrics import RelativeConfidenceChange

torchcam_metrics = pytest.importorskip("torchcam.metrics")
torchcam_methods = pytest.importorskip("torchcam.methods")


class _FixedMaps:
    """A torchcam CAM extractor that returns given maps: torchcam's metric for any map."""

    def __init__(self, model: nn.Module, maps: Tensor) -> None:
        self.model = model
        self.maps = maps

    def __call__(
        self, class_idx: Any = None, scores: Any = None, normalized: bool = True, **_: Any
    ) -> list[Tensor]:
        return [self.maps]

    def fuse_cams(self, cams: list[Tensor]) -> Tensor:
        return cams[0]

    def _hooks_off(self) -> AbstractContextManager[None]:
        return nullcontext()


def _softmax_metric(extractor: Any) -> Any:
    return torchcam_metrics.ClassificationMetric(extractor, partial(torch.softmax, dim=-1))


def test_equals_torchcams_classification_metric_with_its_gradcam(case: Case) -> None:
    with torchcam_methods.GradCAM(case.model, "features") as extractor:
        peer = _softmax_metric(extractor)
        peer.update(case.inputs)
        expected = peer.summary()
        scores = case.model(case.inputs)
        cam = extractor.fuse_cams(extractor(scores.argmax(1).tolist(), scores))
    maps = F.interpolate(
        cam.unsqueeze(1), case.inputs.shape[2:], mode="bilinear", align_corners=False
    )
    result = RelativeConfidenceChange()(case.inputs, maps.squeeze(1).detach(), None, case.model)
    assert result.average_drop == pytest.approx(expected["avg_drop"], abs=1e-6)
    assert result.increase_in_confidence == pytest.approx(expected["conf_increase"], abs=1e-6)


@pytest.mark.parametrize("scores", ["softmax", "logits"])
def test_equals_torchcams_formula_for_any_map(case: Case, scores: str) -> None:
    maps = torch.rand(4, 24, 24, generator=torch.Generator().manual_seed(2))
    maps[0] = case.maps["causal"][0]
    classes = [0, 2, 1, 1]
    peer = (
        _softmax_metric(_FixedMaps(case.model, maps))
        if scores == "softmax"
        else torchcam_metrics.ClassificationMetric(_FixedMaps(case.model, maps))
    )
    peer.update(case.inputs, class_idx=classes)
    result = RelativeConfidenceChange(scores)(case.inputs, maps, classes, case.model, method="x")
    assert result.average_drop == pytest.approx(peer.summary()["avg_drop"], abs=1e-6)
    assert result.increase_in_confidence == pytest.approx(peer.summary()["conf_increase"], abs=1e-6)
    assert type(result).from_json(result.to_json()) == result


def test_clear_errors(case: Case) -> None:
    metric = RelativeConfidenceChange()
    with pytest.raises(InputError, match="cams must have shape"):
        metric(case.inputs, case.maps["gradcam"][:2], None, case.model)
    with pytest.raises(InputError, match="got 2 classes for a batch of 4"):
        metric(case.inputs, case.maps["gradcam"], [0, 1], case.model)
    with pytest.raises(InputError, match="unknown score"):
        RelativeConfidenceChange("probits")
