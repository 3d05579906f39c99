"""Display windows: the formula at its ends, presets, parsing."""

from __future__ import annotations

import numpy as np
import pytest

from causalcam.errors import InputError
from causalcam.medical import DEFAULT_WINDOW, WINDOW_PRESETS, Window, apply_window, parse_window


def test_lung_window_maps_its_ends_to_0_and_255() -> None:
    assert DEFAULT_WINDOW == WINDOW_PRESETS["lung"] == Window(1500.0, -600.0, "lung")
    hu = np.array([-3000.0, -1350.0, -600.0, 150.0, 3000.0])
    assert apply_window(hu, DEFAULT_WINDOW).tolist() == [0, 0, 128, 255, 255]


def test_window_is_linear_inside() -> None:
    hu = np.linspace(-100, 100, 9)
    grey = apply_window(hu, Window(200.0, 0.0)).astype(float)
    np.testing.assert_allclose(grey, np.rint(255 * (hu + 100) / 200), atol=0)


def test_minmax_stretches_each_image() -> None:
    values = np.array([[1000, 1500], [2000, 3000]])
    assert apply_window(values, WINDOW_PRESETS["minmax"]).tolist() == [[0, 64], [128, 255]]
    assert apply_window(np.full((2, 2), 7), WINDOW_PRESETS["minmax"]).max() == 0


def test_parse_window() -> None:
    assert parse_window("Lung") is WINDOW_PRESETS["lung"]
    assert parse_window("400,40") == Window(400.0, 40.0)
    for bad in ("wide", "400", "0,40", "-5,40", "1,2,3"):
        with pytest.raises(InputError, match="--window"):
            parse_window(bad)
