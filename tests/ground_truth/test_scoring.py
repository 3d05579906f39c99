"""Ground-truth scores, the two-stage bootstrap, the predictions and their JSON form."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from causalcam.errors import InputError
from causalcam.ground_truth import (
    DELTA,
    EPSILON,
    GroundTruthScore,
    Prediction,
    bootstrap_means,
    estimate,
    predictions,
    score_callable,
)
from causalcam.ground_truth.scoring import POINT_CAUSE, POINT_CONTEXT, POINT_ELSEWHERE
from causalcam.ground_truth.verdicts import (
    ABOVE,
    BELOW,
    FAILS,
    HOLDS,
    UNRESOLVED,
    WITHIN,
    BenchmarkResult,
    ConfigResult,
    MapRow,
    NetworkSummary,
    Verdict,
    comparison,
    deciding,
    reading_verdicts,
)
from causalcam.results.ablation import Estimate
from causalcam.synthetic import Design, generate


def _regions() -> tuple[torch.Tensor, torch.Tensor]:
    cause = torch.zeros(3, 16, 16, dtype=torch.bool)
    context = torch.zeros(3, 16, 16, dtype=torch.bool)
    cause[:, 2:6, 2:6] = True
    context[:, 10:14, 10:14] = True
    return cause, context


def test_shares_and_pointing() -> None:
    cause, context = _regions()
    maps = torch.zeros(3, 16, 16)
    maps[0] = cause[0].float()  # all on the cause
    maps[1, 2:6, 2:6], maps[1, 10:14, 10:14] = 0.5, 1.0  # a third on the cause
    scores = GroundTruthScore(tolerance=0)(maps, cause, context)  # image 2: empty map
    np.testing.assert_allclose(scores.cause, [1.0, 1 / 3, 0.0])
    np.testing.assert_allclose(scores.context, [0.0, 2 / 3, 0.0])
    np.testing.assert_allclose(scores.separation, [1.0, -1 / 3, 0.0])
    assert scores.point.tolist() == [POINT_CAUSE, POINT_CONTEXT, POINT_ELSEWHERE]
    assert scores.empty.tolist() == [False, False, True]
    with pytest.raises(InputError, match="regions"):
        GroundTruthScore()(maps[:, :8], cause, context)


def test_pointing_tolerance() -> None:
    cause, context = _regions()
    maps = torch.zeros(3, 16, 16)
    maps[:, 7, 7] = 1.0  # one pixel beside the cause
    assert (GroundTruthScore(tolerance=0)(maps, cause, context).point == POINT_ELSEWHERE).all()
    assert (GroundTruthScore(tolerance=2)(maps, cause, context).point == POINT_CAUSE).all()


def test_a_users_callable() -> None:
    """A bright-pixel detector finds the glyph: its mass is on the context, not the cause."""
    data = generate(Design("shortcut", rho=1.0), 80, seed=0, split="test")

    def brightest(inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        assert target.shape == (inputs.shape[0],)
        return (
            inputs[:, 0] > inputs[:, 0].flatten(1).quantile(0.995, dim=1)[:, None, None]
        ).float()

    scores = score_callable(brightest, data)
    assert len(scores.cause) == int(data.explained.sum())
    assert scores.context.mean() > 0.5 > scores.cause.mean()
    with pytest.raises(InputError, match="returned"):
        score_callable(lambda x, t: x[:, 0, :8], data)


def test_bootstrap() -> None:
    rng = np.random.default_rng(0)
    nets = [rng.normal(0.2, 0.1, 50), rng.normal(0.3, 0.1, 60)]
    a, b = bootstrap_means(nets, 300, seed=1), bootstrap_means(nets, 300, seed=1)
    np.testing.assert_array_equal(a, b)
    value = estimate(nets, 500)
    assert value.low < value.value < value.high
    assert value.value == pytest.approx(np.mean([n.mean() for n in nets]))
    paired = estimate([n - n for n in nets], 200)
    assert paired.low == paired.high == 0.0
    one = estimate([nets[0]], 500)
    assert one.high - one.low == pytest.approx(4 * 0.1 / math.sqrt(50), rel=0.3)
    with pytest.raises(InputError):
        bootstrap_means([np.array([])])


@pytest.mark.parametrize(
    ("kind", "bound", "interval", "outcome"),
    [
        (ABOVE, DELTA, (0.06, 0.2), HOLDS),
        (ABOVE, DELTA, (-0.2, 0.04), FAILS),
        (ABOVE, DELTA, (0.0, 0.2), UNRESOLVED),
        (BELOW, -DELTA, (-0.2, -0.06), HOLDS),
        (BELOW, -DELTA, (0.0, 0.1), FAILS),
        (WITHIN, EPSILON, (-0.04, 0.04), HOLDS),
        (WITHIN, EPSILON, (0.06, 0.1), FAILS),
        (WITHIN, EPSILON, (-0.01, 0.07), UNRESOLVED),
        (ABOVE, DELTA, (math.nan, math.nan), UNRESOLVED),
    ],
)
def test_judge(kind: str, bound: float, interval: tuple[float, float], outcome: str) -> None:
    value = Estimate(sum(interval) / 2, *interval)
    assert Prediction("m", "S", kind, bound).judge(value) == outcome


def test_predictions_follow_method_md() -> None:
    methods = ["gradcam", "contrast_pq", "contrast_p", "context[bce,none]", "causal[bce,none,set]"]
    null = predictions(Design("shortcut", rho=0.5), methods)
    assert [(p.method, p.kind) for p in null] == [("causal[bce,none,set]", WITHIN)]
    shared = {(p.method, p.quantity, p.kind) for p in predictions(Design("shared"), methods)}
    assert ("contrast_pq", "S", BELOW) in shared and ("context[bce,none]", "S", BELOW) in shared
    assert ("causal[bce,none,set]", "S - S(Grad-CAM)", ABOVE) in shared
    contrast = predictions(Design("contrast"), methods)
    assert Prediction("gradcam", "S", ABOVE, DELTA) in contrast
    assert Prediction("causal[bce,none,set]", "S - S(Grad-CAM)", ABOVE, -EPSILON) in contrast


def test_json_round_trip() -> None:
    e = Estimate(0.1, 0.06, 0.2)
    row = MapRow("causal[bce,none,set]", e, e, e, e, e, 0.5, 0.1, 0.0)
    ref = MapRow("gradcam", e, e, e, e, e, 0.5, 0.1, 0.0)
    tests = predictions(Design("shared"), [row.method])
    config = ConfigResult(
        Design("shared"),
        0.0,
        10,
        (NetworkSummary(0, 0.0, {"clean": 1.0}, 0.9),),
        (ref, row),
        tuple(Verdict(test, e, test.judge(e)) for test in tests),
    )
    assert deciding(config, row.method).prediction == comparison(config.design, row.method)
    result = BenchmarkResult({"seeds": 1}, (config,), tuple(reading_verdicts([config])))
    assert result.readings[0].separates
    back = BenchmarkResult.from_json(result.to_json())
    assert back == result
