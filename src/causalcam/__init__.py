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
    SemanticSegmentationTarget,
    XGradCAM,
    map_function,
)
from .models import load_model
from .network import Network

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
    "Network",
    "RandomCAM",
    "ScoreCAM",
    "SemanticSegmentationTarget",
    "XGradCAM",
    "__version__",
    "load_model",
    "map_function",
]
