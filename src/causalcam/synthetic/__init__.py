"""CT-like synthetic images with planted features of known role (the ground-truth benchmark).

``phantom`` draws scenes (anatomy, feature places, noise) and renders them in 2-D or 3-D;
``designs`` turns scenes into labelled data sets of the three designs of docs/method.md
("Ground truth: planted cause and context"), with every feature's mask kept for every image,
and re-renders them under interventions. Seeded, vectorised, nothing downloaded.
"""

from .designs import (
    DESIGN_NAMES,
    INTERVENTIONS,
    LESION,
    SHORTCUT_RHOS,
    Design,
    SyntheticSet,
    default_designs,
    generate,
    intervene,
    parse_design,
)
from .phantom import FEATURES, Scene, draw_scene, feature_masks, render

__all__ = [
    "DESIGN_NAMES",
    "FEATURES",
    "INTERVENTIONS",
    "LESION",
    "SHORTCUT_RHOS",
    "Design",
    "Scene",
    "SyntheticSet",
    "default_designs",
    "draw_scene",
    "feature_masks",
    "generate",
    "intervene",
    "parse_design",
    "render",
]
