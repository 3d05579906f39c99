"""causalcam: causal visual features from Grad-CAM and contrast maps (ICIP 2021)."""

from .explain import (
    CausalCAM,
    CausalOptions,
    ClassifierOutputTarget,
    ContrastCAM,
    Explainer,
    Explanation,
    GradCAM,
    GradCAMPlusPlus,
    map_function,
)

__version__ = "0.1.0"

__all__ = [
    "CausalCAM",
    "CausalOptions",
    "ClassifierOutputTarget",
    "ContrastCAM",
    "Explainer",
    "Explanation",
    "GradCAM",
    "GradCAMPlusPlus",
    "__version__",
    "map_function",
]
