"""Scenes: shapes, seeding, masks of every feature in every image, 2-D and 3-D."""

from __future__ import annotations

import pytest
import torch

from causalcam.errors import InputError
from causalcam.synthetic import FEATURES, draw_scene, feature_masks, render


@pytest.mark.parametrize(("ndim", "size"), [(2, 64), (3, 32)])
def test_shapes_and_masks(ndim: int, size: int) -> None:
    scene = draw_scene(6, size, ndim, seed=1)
    masks = feature_masks(scene)
    assert set(masks) == set(FEATURES)
    for name, mask in masks.items():
        assert mask.shape == (6,) + (size,) * ndim and mask.dtype == torch.bool
        assert mask.flatten(1).any(1).all(), f"{name} has an empty mask"
    image = render(scene, {name: torch.ones(6, dtype=torch.bool) for name in FEATURES})
    assert image.shape == (6,) + (size,) * ndim and image.dtype == torch.uint8


def test_seeded() -> None:
    a, b, c = (render(draw_scene(4, 64, 2, seed=s), {}) for s in (3, 3, 4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_features_change_only_their_mask() -> None:
    scene = draw_scene(5, 64, 2, seed=0)
    empty = render(scene, {})
    masks = feature_masks(scene)
    for name in FEATURES:
        with_feature = render(scene, {name: torch.ones(5, dtype=torch.bool)})
        changed = with_feature != empty
        assert changed.any()
        assert not (changed & ~masks[name]).any(), f"{name} draws outside its mask"
        gain = with_feature.float()[masks[name]].mean() - empty.float()[masks[name]].mean()
        assert gain > 10, f"{name} is not visible"


def test_glyph_outside_body_lesion_in_lung() -> None:
    scene = draw_scene(50, 64, 2, seed=2)
    empty = render(scene, {}).float()
    masks = feature_masks(scene)
    assert empty[masks["glyph"]].mean() < 20  # air around the glyph
    assert empty[masks["lesion"]].mean() < 60  # lung field under the lesion


def test_bad_input() -> None:
    with pytest.raises(InputError, match="ndim"):
        draw_scene(2, 64, 4)
    scene = draw_scene(2, 64)
    with pytest.raises(InputError, match="unknown feature"):
        render(scene, {"arrow": torch.ones(2, dtype=torch.bool)})
    with pytest.raises(InputError, match="shape"):
        render(scene, {"glyph": torch.ones(3, dtype=torch.bool)})
