"""causalcam: causal visual features from Grad-CAM and contrast maps (ICIP 2021)."""

from .explain import (
    CausalCAM,
    CausalOptions,
    ClassifierOutputTarget,
    ContrastCAM,
    EigenCAM,
    EigenGradCAM,
    Explainer,
    Explanation,
    FinerCAM,
    GradCAM,
    GradCAMElementWise,
    GradCAMPlusPlus,
    HiResCAM,
    LayerCAM,
    RandomCAM,
    ScoreCAM,
    XGradCAM,
    map_function,
)

__version__ = "0.1.0"

__all__ = [
    "CausalCAM",
    "CausalOptions",
    "ClassifierOutputTarget",
    "ContrastCAM",
    "EigenCAM",
    "EigenGradCAM",
    "Explainer",
    "Explanation",
    "FinerCAM",
    "GradCAM",
    "GradCAMElementWise",
    "GradCAMPlusPlus",
    "HiResCAM",
    "LayerCAM",
    "RandomCAM",
    "ScoreCAM",
    "XGradCAM",
    "__version__",
    "map_function",
]
