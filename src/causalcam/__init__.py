"""causalcam: causal visual features from Grad-CAM and contrast maps (ICIP 2021)."""

from .core import Network
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
from .models import load_model

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
    "Network",
    "__version__",
    "load_model",
    "map_function",
]
