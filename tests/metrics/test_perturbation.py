"""grad-cam's perturbation metrics: same values as pytorch-grad-cam 1.5.7, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from metrics_helpers import Case

from causalcam.errors import InputError
from causalcam.explain import ClassifierOutputTarget
from causalcam.metrics import (
    CamMultImageConfidenceChange,
    DropInConfidence,
    IncreaseInConfidence,
    ROADCombined,
    ROADLeastRelevantFirst,
    ROADLeastRelevantFirstAverage,
    ROADMostRelevantFirst,
    ROADMostRelevantFirstAverage,
    impute,
)

grad_cam = pytest.importorskip("pytorch_grad_cam.metrics.road")
cam_mult = pytest.importorskip("pytorch_grad_cam.metrics.cam_mult_image")


@pytest.fixture
def noiseless_peer(monkeypatch: pytest.MonkeyPatch) -> None:
    """grad-cam's imputer without noise (it draws from torch's global generator)."""
    monkeypatch.setattr(
        grad_cam.NoisyLinearImputer.__init__, "__defaults__", (0.0, grad_cam.neighbors_weights)
    )


def _cams(case: Case) -> np.ndarray:
    return case.maps["gradcam"].numpy()


def _targets(case: Case) -> list[ClassifierOutputTarget]:
    return [ClassifierOutputTarget(int(c)) for c in case.predicted]


def test_imputation_equals_grad_cams_without_noise() -> None:
    torch.manual_seed(1)
    images = torch.randn(3, 3, 20, 17)
    keep = torch.rand(3, 20, 17) > torch.tensor([0.2, 0.5, 0.8]).view(3, 1, 1)
    ours = impute(images, keep, noise=0.0, batch_size=2)
    peer = grad_cam.NoisyLinearImputer(noise=0.0)
    theirs = torch.stack([peer(images[b], keep[b].float()) for b in range(3)])
    assert torch.allclose(ours, theirs, atol=1e-4)
    assert torch.equal(
        ours[keep.unsqueeze(1).expand_as(ours)], images[keep.unsqueeze(1).expand_as(images)]
    )


def test_imputation_noise_is_seeded() -> None:
    images = torch.randn(2, 3, 12, 12)
    keep = torch.rand(2, 12, 12) > 0.5
    a, b = impute(images, keep, seed=3), impute(images, keep, seed=3)
    assert torch.equal(a, b)
    assert not torch.equal(a, impute(images, keep, seed=4))
    assert 0 < (a - impute(images, keep, noise=0.0)).std() < 0.02


def test_imputation_of_a_mask_removing_everything_is_zeros_like_grad_cams() -> None:
    images = torch.randn(2, 3, 5, 5)
    keep = torch.zeros(2, 5, 5, dtype=torch.bool)
    keep[1, 2, 2] = True
    ours = impute(images, keep, noise=0.0)
    theirs = torch.stack(
        [grad_cam.NoisyLinearImputer(noise=0.0)(images[b], keep[b].float()) for b in range(2)]
    )
    assert torch.equal(ours[0], torch.zeros(3, 5, 5))
    assert torch.allclose(ours, theirs, atol=1e-4)
    with pytest.raises(InputError, match="same size"):
        impute(images, keep[:, :4])


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (ROADMostRelevantFirst(80, noise=0.0), "ROADMostRelevantFirst(80)"),
        (ROADLeastRelevantFirst(20, noise=0.0), "ROADLeastRelevantFirst(20)"),
        (
            ROADMostRelevantFirstAverage([30, 70], noise=0.0),
            "ROADMostRelevantFirstAverage([30, 70])",
        ),
        (
            ROADLeastRelevantFirstAverage([30, 70], noise=0.0),
            "ROADLeastRelevantFirstAverage([30, 70])",
        ),
        (ROADCombined([40, 60], noise=0.0), "ROADCombined([40, 60])"),
    ],
    ids=lambda v: v if isinstance(v, str) else type(v).__name__,
)
def test_road_equals_grad_cams(case: Case, noiseless_peer: None, ours: object, theirs: str) -> None:
    peer = eval(theirs, vars(grad_cam))
    expected = peer(case.inputs, _cams(case), _targets(case), case.model)
    got = ours(case.inputs, _cams(case), _targets(case), case.model)  # type: ignore[operator]
    assert got.dtype == np.float32 and got.shape == (4,)
    np.testing.assert_allclose(got, expected, atol=1e-4)


@pytest.mark.parametrize(
    "name", ["CamMultImageConfidenceChange", "DropInConfidence", "IncreaseInConfidence"]
)
def test_confidence_metrics_equal_grad_cams(case: Case, name: str) -> None:
    ours = {
        "CamMultImageConfidenceChange": CamMultImageConfidenceChange,
        "DropInConfidence": DropInConfidence,
        "IncreaseInConfidence": IncreaseInConfidence,
    }[name]()
    expected = getattr(cam_mult, name)()(case.inputs, _cams(case), _targets(case), case.model)
    got = ours(case.inputs, _cams(case), _targets(case), case.model)
    np.testing.assert_allclose(got, expected, atol=1e-4)
    assert np.array_equal(ours(case.inputs, _cams(case), None, case.model), got)


def test_measure_gives_typed_scores(case: Case) -> None:
    result = DropInConfidence().measure(
        case.inputs, _cams(case), None, case.model, method="gradcam"
    )
    assert result.metric == "DropInConfidence" and not result.higher_is_better
    assert len(result.scores) == 4
    assert type(result).from_json(result.to_json()) == result


def test_clear_errors_and_model_state(case: Case) -> None:
    metric = CamMultImageConfidenceChange()
    with pytest.raises(InputError, match=r"cams must have shape \(B, H, W\) = \(4, 24, 24\)"):
        metric(case.inputs, _cams(case)[:, :12], None, case.model)
    with pytest.raises(InputError, match="got 3 targets for a batch of 4"):
        metric(case.inputs, _cams(case), _targets(case)[:3], case.model)
    case.model.train()
    try:
        before = metric(case.inputs, _cams(case), None, case.model)
        assert case.model.training and case.model.stem[1].training
    finally:
        case.model.eval()
    np.testing.assert_allclose(before, metric(case.inputs, _cams(case), None, case.model))
