"""Names and display titles of the explanation methods, defined once (no torch import, so the
command line can list them without loading the engine).

A method name is what ``Explainer.explain(methods=...)`` accepts; ``causal[loss,normalize,
sign]`` names one causal variant (see :class:`causalcam.explain.CausalOptions`).
"""

from __future__ import annotations

from typing import Final

GRADCAM: Final = "gradcam"
GRADCAM_PP: Final = "gradcam++"
CONTRAST_PQ: Final = "contrast_pq"
CONTRAST_NONE: Final = "contrast_none"
CONTRAST_P: Final = "contrast_p"
CAUSAL: Final = "causal"

#: The six maps of the paper, in the engine's order.
METHOD_NAMES: Final[tuple[str, ...]] = (
    GRADCAM,
    GRADCAM_PP,
    CONTRAST_PQ,
    CONTRAST_NONE,
    CONTRAST_P,
    CAUSAL,
)
#: The maps of the paper's Fig. 2c-h, in its order; what ``causalcam explain`` draws by default.
PAPER_METHODS: Final[tuple[str, ...]] = (GRADCAM, GRADCAM_PP, CAUSAL, CONTRAST_PQ, CONTRAST_P)
#: The methods of the deletion/insertion curves (Fig. 2a-b).
CURVE_METHODS: Final[tuple[str, ...]] = (GRADCAM, GRADCAM_PP, CAUSAL)

#: Titles in figures (matplotlib mathtext, may span two lines).
METHOD_TITLES: Final[dict[str, str]] = {
    GRADCAM: "Grad-CAM",
    GRADCAM_PP: "Grad-CAM++",
    CAUSAL: "Causal (ours)\n$C_P \\setminus B_P$",
    CONTRAST_PQ: "Contrast $C_{P,Q}$\nwhy P or Q?",
    CONTRAST_NONE: "Contrast $C_{\\bar{P},\\bar{Q}}$\nwhy neither P nor Q?",
    CONTRAST_P: "Contrast $C_{P}$\nwhy not P for sure?",
}
#: Labels in text and tables (one line, no markup).
METHOD_LABELS: Final[dict[str, str]] = {
    GRADCAM: "Grad-CAM",
    GRADCAM_PP: "Grad-CAM++",
    CAUSAL: "causal",
    CONTRAST_PQ: "C_PQ",
    CONTRAST_NONE: "C_none",
    CONTRAST_P: "C_P",
}


def method_title(method: str) -> str:
    """Figure title of a method name (``"gradcam++"`` -> ``"Grad-CAM++"``); unknown names as is."""
    return METHOD_TITLES.get(method, method)


def method_label(method: str) -> str:
    """Text label of a method name (``"gradcam"`` -> ``"Grad-CAM"``); unknown names as is."""
    return METHOD_LABELS.get(method, method)
