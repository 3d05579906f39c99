"""Paper-style panels (Fig. 2c-h, Fig. 3): layout, titles, colour bar, files."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image

from causalcam.errors import InputError
from causalcam.viz import (
    PAPER_METHODS,
    MaskedView,
    explanation_panel,
    figure_png,
    keep_mask,
    masked_panel,
    method_title,
    prediction_title,
    save_figure,
)


@pytest.fixture
def scan() -> np.ndarray:
    rows, cols = np.mgrid[0:32, 0:32]
    return ((rows * 4 + cols * 3) % 256).astype(np.uint8)


@pytest.fixture
def maps() -> dict[str, np.ndarray]:
    rows, cols = np.mgrid[0:32, 0:32]
    return {
        m: np.exp(-((rows - 4 * i) ** 2 + (cols - 16) ** 2) / 60.0).astype(np.float32)
        for i, m in enumerate(PAPER_METHODS)
    }


def test_explanation_panel_has_scan_then_paper_methods_and_a_colour_bar(
    scan: np.ndarray, maps: dict[str, np.ndarray]
) -> None:
    shuffled = dict(reversed(list(maps.items())))
    figure = explanation_panel(scan, shuffled, prediction_title("CT_COVID", 0.873, "CT_COVID"))
    image_axes = [axis for axis in figure.axes if axis.images]
    titles = [axis.get_title() for axis in image_axes]
    assert titles[0] == "Scan"
    assert titles[1:] == [method_title(m) for m in PAPER_METHODS]
    assert len(figure.axes) == len(image_axes) + 1  # the colour bar
    suptitle = figure.get_suptitle()
    assert "predicted CT_COVID (87.3%)" in suptitle and "true CT_COVID" in suptitle


def test_explanation_panel_png_is_wide_and_not_blank(
    scan: np.ndarray, maps: dict[str, np.ndarray]
) -> None:
    with Image.open(BytesIO(figure_png(explanation_panel(scan, maps, "t")))) as picture:
        width, height = picture.size
        pixels = np.asarray(picture.convert("RGB"))
    assert width > 4 * height
    assert pixels.std() > 20


def test_methods_argument_picks_and_orders(scan: np.ndarray, maps: dict[str, np.ndarray]) -> None:
    figure = explanation_panel(scan, maps, "t", methods=["causal", "gradcam"])
    titles = [axis.get_title() for axis in figure.axes if axis.images]
    assert titles == ["Scan", method_title("causal"), "Grad-CAM"]


def test_missing_method_is_named(scan: np.ndarray, maps: dict[str, np.ndarray]) -> None:
    with pytest.raises(InputError, match="contrast_none"):
        explanation_panel(scan, maps, "t", methods=["contrast_none"])


def test_keep_mask_keeps_pixels_above_the_threshold(scan: np.ndarray) -> None:
    saliency = np.zeros((32, 32), np.float32)
    saliency[:, :10] = 0.9
    kept = keep_mask(scan, saliency, 0.5)
    np.testing.assert_array_equal(kept[:, :10], scan[:, :10])
    assert not kept[:, 10:].any()


def test_masked_panel_titles_carry_prediction_confidence_and_huffman(
    scan: np.ndarray, tmp_path: Path
) -> None:
    views = [
        MaskedView("Grad-CAM mask", scan, "CT_COVID", 0.81, 0.62),
        MaskedView("Causal mask", scan // 2, "CT_NonCOVID", 0.5),
    ]
    figure = masked_panel(scan, views, "scan.png")
    titles = [axis.get_title() for axis in figure.axes]
    assert titles[1] == "Grad-CAM mask\nCT_COVID (81.0%)\nH = 0.620"
    assert titles[2] == "Causal mask\nCT_NonCOVID (50.0%)"
    path = save_figure(tmp_path / "fig3.png", figure)
    assert path.stat().st_size > 1000
    with pytest.raises(InputError, match="at least one"):
        masked_panel(scan, [], "t")


def test_a_long_title_is_wrapped_to_the_figure_width(scan: np.ndarray) -> None:
    """A Fig. 3 panel has three narrow columns; a long scan name and prediction used to run
    off both edges of the PNG."""
    title = "2020.03.10.20032136-p27-145%4.png: true CT_COVID, predicted CT_COVID (88.9%)"
    views = [MaskedView("Grad-CAM", scan, "CT_COVID", 0.5), MaskedView("causal", scan, "x", 0.8)]
    figure = masked_panel(scan, views, title)
    lines = figure.get_suptitle().split("\n")
    assert len(lines) >= 2 and "".join(lines).replace(" ", "") == title.replace(" ", "")
    renderer = FigureCanvasAgg(figure).get_renderer()
    box = figure._suptitle.get_window_extent(renderer)  # type: ignore[union-attr]
    assert box.x0 >= 0 and box.x1 <= figure.bbox.width
