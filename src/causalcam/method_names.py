"""Names and display titles of the explanation methods, defined once (no torch import, so the
command line can list them without loading the engine).

A method name is what ``Explainer.explain(methods=...)`` accepts; ``causal[loss,normalize,
sign]`` names one causal variant (see :class:`causalcam.explain.CausalOptions`).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

GRADCAM: Final = "gradcam"
GRADCAM_PP: Final = "gradcam++"
CONTRAST_PQ: Final = "contrast_pq"
CONTRAST_NONE: Final = "contrast_none"
CONTRAST_P: Final = "contrast_p"
CAUSAL: Final = "causal"
#: The ICIP 2020 contrast "why P, rather than Q?" (cross-entropy with class Q).
CONTRAST_CE: Final = "contrast_ce"
#: pytorch-grad-cam's methods that need only the one forward pass and its batched VJP.
HIRESCAM: Final = "hirescam"
GRADCAM_ELEMENTWISE: Final = "gradcam_elementwise"
XGRADCAM: Final = "xgradcam"
LAYERCAM: Final = "layercam"
EIGENCAM: Final = "eigencam"
EIGENGRADCAM: Final = "eigengradcam"
FINERCAM: Final = "finercam"
#: The baseline a metric must beat: random channel weights (seeded).
RANDOMCAM: Final = "randomcam"
#: Score-CAM: one forward pass per channel of the target layer (not from the one pass).
SCORECAM: Final = "scorecam"

#: The six maps of the paper, in the engine's order: the default of ``Explainer.explain``.
PAPER_MAPS: Final[tuple[str, ...]] = (
    GRADCAM,
    GRADCAM_PP,
    CONTRAST_PQ,
    CONTRAST_NONE,
    CONTRAST_P,
    CAUSAL,
)
#: Every map from the one forward pass and one batched VJP: the paper's six, the ICIP 2020
#: contrast and pytorch-grad-cam's gradient family.
ONE_PASS_METHODS: Final[tuple[str, ...]] = (
    *PAPER_MAPS,
    CONTRAST_CE,
    HIRESCAM,
    GRADCAM_ELEMENTWISE,
    XGRADCAM,
    LAYERCAM,
    EIGENCAM,
    EIGENGRADCAM,
    FINERCAM,
    RANDOMCAM,
)
#: Every method name ``Explainer.explain(methods=...)`` and ``causalcam explain --methods``
#: accept (each is one entry of the engine's method table, ``causalcam.explain.METHODS``).
METHOD_NAMES: Final[tuple[str, ...]] = (*ONE_PASS_METHODS, SCORECAM)
#: The maps of the paper's Fig. 2c-h, in its order; what ``causalcam explain`` draws by default.
PAPER_METHODS: Final[tuple[str, ...]] = (GRADCAM, GRADCAM_PP, CAUSAL, CONTRAST_PQ, CONTRAST_P)
#: The methods of the deletion/insertion curves (Fig. 2a-b).
CURVE_METHODS: Final[tuple[str, ...]] = (GRADCAM, GRADCAM_PP, CAUSAL)

#: Where Eq. 3's Grad-CAM term ``G`` takes its channel weight from: ``logit`` (Grad-CAM as
#: published, ``a_P = J^T e_P``) or ``ce`` (the descent direction of the cross-entropy loss
#: of class P, ``J^T (e_P - softmax(z))``: Grad-CAM "through the loss", a further reading).
GRADCAM_TERMS: Final[tuple[str, ...]] = ("logit", "ce")

#: The default causal variant (``causalcam.explain.CausalOptions()``), chosen by the
#: measured ablation over three training seeds (README, "Reproduction";
#: ``causalcam.ablation.seeds``): on COVID-CT (three CPU-profile ResNet-18s, 203 test scans)
#: ``mse_prob, none, set`` has the highest seed-averaged deletion accuracy at matched Huffman
#: budgets of all 22 readings and is the only one better than Grad-CAM in all three seeds;
#: its edge (+0.3 points, 95% CI -0.1 to +0.7) is not significant. ``bce, none, set`` (the
#: single-network winner before) ties on the mean but swings from +3.1 to -2.3 points between
#: seeds. The paper's literal reading (``mse, none, literal``) gives chance accuracy; it stays
#: available by name: ``CausalOptions.literal()``.
DEFAULT_CAUSAL: Final[Mapping[str, str]] = MappingProxyType(
    {"loss": "mse_prob", "normalize": "none", "sign": "set"}
)

#: The paper's literal reading: MSE on the logits, no normalisation, Eq. 4's signs.
LITERAL_CAUSAL: Final[Mapping[str, str]] = MappingProxyType(
    {"loss": "mse", "normalize": "none", "sign": "literal"}
)


def causal_variant_name(
    loss: str, normalize: str, sign: str, gradcam_term: str = GRADCAM_TERMS[0]
) -> str:
    """The key of one causal variant's map, e.g. ``causal[mse,none,literal]``; a Grad-CAM
    term other than ``logit`` is a fourth part: ``causal[bce,none,set,ce]``."""
    parts = [loss, normalize, sign]
    if gradcam_term != GRADCAM_TERMS[0]:
        parts.append(gradcam_term)
    return f"{CAUSAL}[{','.join(parts)}]"


#: Titles in figures (matplotlib mathtext, may span two lines).
METHOD_TITLES: Final[dict[str, str]] = {
    GRADCAM: "Grad-CAM",
    GRADCAM_PP: "Grad-CAM++",
    CAUSAL: "Causal (ours)\n$C_P \\setminus B_P$",
    CONTRAST_PQ: "Contrast $C_{P,Q}$\nwhy P or Q?",
    CONTRAST_NONE: "Contrast $C_{\\bar{P},\\bar{Q}}$\nwhy neither P nor Q?",
    CONTRAST_P: "Contrast $C_{P}$\nwhy not P for sure?",
    CONTRAST_CE: "Contrast $C_{CE}$\nwhy P, rather than Q?",
    HIRESCAM: "HiResCAM",
    GRADCAM_ELEMENTWISE: "Grad-CAM\nelement-wise",
    XGRADCAM: "XGrad-CAM",
    LAYERCAM: "LayerCAM",
    EIGENCAM: "Eigen-CAM",
    EIGENGRADCAM: "EigenGrad-CAM",
    FINERCAM: "Finer-CAM",
    RANDOMCAM: "Random CAM",
    SCORECAM: "Score-CAM",
}
#: Labels in text and tables (one line, no markup).
METHOD_LABELS: Final[dict[str, str]] = {
    GRADCAM: "Grad-CAM",
    GRADCAM_PP: "Grad-CAM++",
    CAUSAL: "causal",
    CONTRAST_PQ: "C_PQ",
    CONTRAST_NONE: "C_none",
    CONTRAST_P: "C_P",
    CONTRAST_CE: "C_CE",
    HIRESCAM: "HiResCAM",
    GRADCAM_ELEMENTWISE: "Grad-CAM element-wise",
    XGRADCAM: "XGrad-CAM",
    LAYERCAM: "LayerCAM",
    EIGENCAM: "Eigen-CAM",
    EIGENGRADCAM: "EigenGrad-CAM",
    FINERCAM: "Finer-CAM",
    RANDOMCAM: "Random CAM",
    SCORECAM: "Score-CAM",
}


def method_title(method: str) -> str:
    """Figure title of a method name (``"gradcam++"`` -> ``"Grad-CAM++"``); unknown names as is."""
    return METHOD_TITLES.get(method, method)


def method_label(method: str) -> str:
    """Text label of a method name (``"gradcam"`` -> ``"Grad-CAM"``); unknown names as is."""
    return METHOD_LABELS.get(method, method)
