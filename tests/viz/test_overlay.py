"""Overlays: perceptual colour map, blending, input checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from causalcam.errors import InputError
from causalcam.viz import as_grey_uint8, as_unit_map, colorize, overlay, save_overlay


def _luminance(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float64) @ np.array([0.2126, 0.7152, 0.0722])


def test_colormap_brightness_grows_with_the_map_value() -> None:
    ramp = np.linspace(0.0, 1.0, 64, dtype=np.float32)[None, :]
    brightness = _luminance(colorize(ramp))[0]
    assert np.all(np.diff(brightness) >= 0)
    assert brightness[-1] - brightness[0] > 150


def test_overlay_keeps_anatomy_where_the_map_is_zero_and_colours_where_high() -> None:
    grey = np.full((8, 8), 200, dtype=np.uint8)
    saliency = np.zeros((8, 8), dtype=np.float32)
    saliency[:4] = 1.0
    rgb = overlay(grey, saliency, alpha=0.5)
    assert rgb.shape == (8, 8, 3) and rgb.dtype == np.uint8
    low, high = rgb[6, 6].astype(int), rgb[1, 1].astype(int)
    assert np.abs(low - 200).max() < 0.5 * 0.3 * 255  # mostly the scan
    assert high[0] > high[2]  # inferno's top is yellow: red over blue


def test_overlay_accepts_tensors_and_float_images() -> None:
    grey = torch.rand(16, 16)
    rgb = overlay(grey, torch.rand(16, 16))
    assert rgb.shape == (16, 16, 3)
    assert as_grey_uint8(torch.ones(1, 4, 4)).max() == 255


def test_nan_maps_are_zero_and_values_are_clipped() -> None:
    values = as_unit_map(np.array([[np.nan, -1.0], [0.5, 3.0]]))
    np.testing.assert_allclose(values, [[0.0, 0.0], [0.5, 1.0]])


@pytest.mark.parametrize(
    ("image", "saliency", "alpha", "cmap", "message"),
    [
        (np.zeros((4, 4)), np.zeros((5, 4)), 0.5, "inferno", "differ"),
        (np.zeros((4, 4)), np.zeros((4, 4)), 1.5, "inferno", "alpha"),
        (np.zeros((4, 4)), np.zeros((4, 4)), 0.5, "no-such-map", "colour map"),
        (np.zeros((2, 4, 4, 4)), np.zeros((4, 4)), 0.5, "inferno", "grey image"),
    ],
)
def test_bad_inputs_are_named(
    image: np.ndarray, saliency: np.ndarray, alpha: float, cmap: str, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        overlay(image, saliency, alpha=alpha, cmap=cmap)


def test_save_overlay_writes_a_png_of_the_image_size(tmp_path: Path) -> None:
    path = save_overlay(tmp_path / "sub" / "o.png", np.zeros((12, 20), np.uint8), np.ones((12, 20)))
    with Image.open(path) as written:
        assert written.size == (20, 12) and written.mode == "RGB"
