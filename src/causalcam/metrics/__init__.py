"""Metrics of explanation maps: grad-cam's (ROAD, confidence change), torchcam's relative
confidence, Quantus's complexity and robustness, and the sanity checks of Adebayo et al.
(docs/metrics.md)."""

from .complexity import Complexity, Sparseness
from .confidence import RelativeConfidenceChange
from .imputation import NEIGHBOUR_WEIGHTS, ROAD_NOISE, impute
from .maps import NamedMaps, explain_named
from .perturbation import (
    ROAD_PERCENTILES,
    CamMultImageConfidenceChange,
    DropInConfidence,
    IncreaseInConfidence,
    PerturbationConfidenceMetric,
    ROADCombined,
    ROADLeastRelevantFirst,
    ROADLeastRelevantFirstAverage,
    ROADMostRelevantFirst,
    ROADMostRelevantFirstAverage,
    multiply_tensor_with_cam,
)
from .robustness import MaxSensitivity
from .sanity import (
    PASS_THRESHOLD,
    SANITY_TESTS,
    SanityChecks,
    Snapshots,
    randomisation_units,
    randomise,
    sanity_figure,
    spearman,
    ssim,
)

__all__ = [
    "NEIGHBOUR_WEIGHTS",
    "PASS_THRESHOLD",
    "ROAD_NOISE",
    "ROAD_PERCENTILES",
    "SANITY_TESTS",
    "CamMultImageConfidenceChange",
    "Complexity",
    "DropInConfidence",
    "IncreaseInConfidence",
    "MaxSensitivity",
    "NamedMaps",
    "PerturbationConfidenceMetric",
    "ROADCombined",
    "ROADLeastRelevantFirst",
    "ROADLeastRelevantFirstAverage",
    "ROADMostRelevantFirst",
    "ROADMostRelevantFirstAverage",
    "RelativeConfidenceChange",
    "SanityChecks",
    "Snapshots",
    "Sparseness",
    "explain_named",
    "impute",
    "multiply_tensor_with_cam",
    "randomisation_units",
    "randomise",
    "sanity_figure",
    "spearman",
    "ssim",
]
