"""The explanation engine: Grad-CAM, Grad-CAM++, contrast and causal maps (docs/method.md)."""

from .compat import CausalCAM, ContrastCAM, GradCAM, GradCAMPlusPlus
from .engine import Explainer, Explanation, MapFn, batched_vjp, map_function
from .methods import (
    ALL_METHODS,
    CAUSAL_LOSSES,
    DEFAULT_CAUSAL,
    KNOWN_METHODS,
    LITERAL_CAUSAL,
    NORMALIZATIONS,
    SIGNS,
    CausalOptions,
)
from .targets import ClassifierOutputTarget

__all__ = [
    "ALL_METHODS",
    "CAUSAL_LOSSES",
    "DEFAULT_CAUSAL",
    "KNOWN_METHODS",
    "LITERAL_CAUSAL",
    "NORMALIZATIONS",
    "SIGNS",
    "CausalCAM",
    "CausalOptions",
    "ClassifierOutputTarget",
    "ContrastCAM",
    "Explainer",
    "Explanation",
    "GradCAM",
    "GradCAMPlusPlus",
    "MapFn",
    "batched_vjp",
    "map_function",
]
