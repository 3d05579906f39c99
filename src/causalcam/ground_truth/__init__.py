"""The ground-truth benchmark (docs/ground-truth.md): networks trained on
:mod:`causalcam.synthetic` images, every map scored against the planted cause and context,
and the verdicts of docs/method.md ("Ground truth: planted cause and context").

Public: :class:`GroundTruthScore` and :func:`score_callable` (score any map, a user's own
included), :func:`estimate` (two-stage bootstrap), :func:`run_benchmark` with
:class:`BenchmarkConfig`, and the result classes with their JSON form.
"""

from .maps import CONTEXT_ESTIMATE, DEFAULT_CONTEXT, compute_maps, context_name, readings
from .networks import (
    ARCHS,
    TARGET_LAYERS,
    Reliance,
    SmallCNN,
    TrainSettings,
    build_network,
    reliance,
    train_network,
)
from .run import BenchmarkConfig, run_benchmark, with_overrides
from .scoring import (
    GroundTruthScore,
    ImageScores,
    TargetMapFn,
    bootstrap_means,
    estimate,
    score_callable,
)
from .verdicts import (
    DELTA,
    EPSILON,
    BenchmarkResult,
    ConfigResult,
    MapRow,
    NetworkSummary,
    Prediction,
    ReadingVerdict,
    Verdict,
    predictions,
)

__all__ = [
    "ARCHS",
    "CONTEXT_ESTIMATE",
    "DEFAULT_CONTEXT",
    "DELTA",
    "EPSILON",
    "TARGET_LAYERS",
    "BenchmarkConfig",
    "BenchmarkResult",
    "ConfigResult",
    "GroundTruthScore",
    "ImageScores",
    "MapRow",
    "NetworkSummary",
    "Prediction",
    "ReadingVerdict",
    "Reliance",
    "SmallCNN",
    "TargetMapFn",
    "TrainSettings",
    "Verdict",
    "bootstrap_means",
    "build_network",
    "compute_maps",
    "context_name",
    "estimate",
    "predictions",
    "readings",
    "reliance",
    "run_benchmark",
    "score_callable",
    "train_network",
    "with_overrides",
]
