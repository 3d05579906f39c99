"""The explanation engine: Grad-CAM, Grad-CAM++, contrast and causal maps and pytorch-grad-cam's
CAM family, every gradient method from one forward pass and one batched VJP (docs/method.md)."""

from ..method_names import METHOD_NAMES, ONE_PASS_METHODS, PAPER_MAPS
from .compat import (
    CausalCAM,
    ContrastCAM,
    EigenCAM,
    EigenGradCAM,
    FinerCAM,
    GradCAM,
    GradCAMElementWise,
    GradCAMPlusPlus,
    HiResCAM,
    LayerCAM,
    RandomCAM,
    ScoreCAM,
    XGradCAM,
)
from .engine import Explainer, Explanation, MapFn, batched_vjp, map_function
from .method_table import METHODS, Method
from .methods import (
    CAUSAL_LOSSES,
    DEFAULT_CAUSAL,
    LITERAL_CAUSAL,
    NORMALIZATIONS,
    SIGNS,
    CausalOptions,
)
from .targets import (
    ClassifierOutputTarget,
    FinerOptions,
    FinerWeightedTarget,
    SemanticSegmentationTarget,
)

__all__ = [
    "CAUSAL_LOSSES",
    "DEFAULT_CAUSAL",
    "LITERAL_CAUSAL",
    "METHODS",
    "METHOD_NAMES",
    "NORMALIZATIONS",
    "ONE_PASS_METHODS",
    "PAPER_MAPS",
    "SIGNS",
    "CausalCAM",
    "CausalOptions",
    "ClassifierOutputTarget",
    "ContrastCAM",
    "EigenCAM",
    "EigenGradCAM",
    "Explainer",
    "Explanation",
    "FinerCAM",
    "FinerOptions",
    "FinerWeightedTarget",
    "GradCAM",
    "GradCAMElementWise",
    "GradCAMPlusPlus",
    "HiResCAM",
    "LayerCAM",
    "MapFn",
    "Method",
    "RandomCAM",
    "ScoreCAM",
    "SemanticSegmentationTarget",
    "XGradCAM",
    "batched_vjp",
    "map_function",
]
