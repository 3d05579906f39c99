"""Volumes onto a network's grid with their spacing, and maps back onto the source voxels."""

from __future__ import annotations

import pytest
import torch

from causalcam.errors import InputError
from causalcam.medical.resample import place, to_grid

ONE = (1.0, 1.0, 1.0)


def test_a_volume_already_on_the_grid_is_unchanged() -> None:
    volume = torch.rand(8, 10, 12)
    placement = place((8, 10, 12), ONE, (8, 10, 12), ONE)
    assert placement.scale == pytest.approx((1.0, 1.0, 1.0))
    torch.testing.assert_close(to_grid(volume, placement), volume)
    torch.testing.assert_close(placement.to_source(volume[None])[0], volume)


def test_spacing_sets_one_scale_for_every_axis_and_the_volume_fits_centred() -> None:
    # 20 x 2.5 mm = 50 mm deep, 64 x 0.5 = 32 mm, 80 x 0.5 = 40 mm: depth sets the step
    placement = place((20, 64, 80), (2.5, 0.5, 0.5), (32, 32, 32), ONE)
    assert placement.step == pytest.approx((50 / 32,) * 3)
    volume = torch.zeros(20, 64, 80)
    volume[10, 20, 30] = 1.0  # at (26.25, 10.25, 15.25) mm; source centre (25, 16, 20) mm
    grid = to_grid(volume, placement)
    assert grid.shape == (32, 32, 32)
    peak = torch.tensor([int(i) for i in torch.unravel_index(grid.argmax(), grid.shape)]).float()
    expected = torch.tensor([26.25 - 25, 10.25 - 16, 15.25 - 20]) / (50 / 32) + 15.5
    assert (peak - expected).abs().max() <= 1.0


def test_a_map_goes_back_to_every_source_voxel() -> None:
    placement = place((20, 64, 80), (2.5, 0.5, 0.5), (32, 32, 32), ONE)
    maps = torch.zeros(2, 32, 32, 32)
    maps[1] = 1.0
    maps[0, :16] = 1.0  # the inferior half of the grid
    back = placement.to_source(maps)
    assert back.shape == (2, 20, 64, 80)
    torch.testing.assert_close(back[1], torch.ones(20, 64, 80))
    assert back[0, :9].min() > 0.999 and back[0, 11:].max() < 1e-6  # the volume fills depth


def test_bad_spacing_and_shapes_are_refused() -> None:
    with pytest.raises(InputError, match="spacing"):
        place((4, 4, 4), (1.0, float("nan"), 1.0), (4, 4, 4), ONE)
    placement = place((4, 4, 4), ONE, (8, 8, 8), ONE)
    with pytest.raises(InputError, match="expected"):
        to_grid(torch.zeros(4, 4, 5), placement)
    with pytest.raises(InputError, match="grid"):
        placement.to_source(torch.zeros(1, 4, 4, 4))
