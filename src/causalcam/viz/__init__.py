"""Pictures of explanations: overlays, paper-style panels (Fig. 2c-h, Fig. 3) and curves.

Everything draws on matplotlib's Agg canvas and writes PNGs atomically; nothing needs a display.
"""

from ..method_names import METHOD_TITLES, PAPER_METHODS, method_title
from .curves import IDEAL_DIRECTION, accuracy_curve_figure, save_accuracy_curves
from .overlay import (
    DEFAULT_CMAP,
    as_grey_uint8,
    as_image_uint8,
    as_unit_map,
    colorize,
    overlay,
    save_overlay,
)
from .panels import (
    MaskedView,
    explanation_panel,
    figure_png,
    keep_mask,
    masked_panel,
    prediction_title,
    save_figure,
)

__all__ = [
    "DEFAULT_CMAP",
    "IDEAL_DIRECTION",
    "METHOD_TITLES",
    "PAPER_METHODS",
    "MaskedView",
    "accuracy_curve_figure",
    "as_grey_uint8",
    "as_image_uint8",
    "as_unit_map",
    "colorize",
    "explanation_panel",
    "figure_png",
    "keep_mask",
    "masked_panel",
    "method_title",
    "overlay",
    "prediction_title",
    "save_accuracy_curves",
    "save_figure",
    "save_overlay",
]
