"""How 8-bit images become model inputs (causalcam.preprocess): grey and RGB, and the JSON form."""

from __future__ import annotations

import pytest
import torch

from causalcam.errors import InputError
from causalcam.preprocess import Preprocessing, to_model_input


def test_grey_is_repeated_and_rgb_kept_per_channel() -> None:
    prep = Preprocessing(size=2, mean=(0.0, 0.5, 0.0), std=(1.0, 0.5, 2.0))
    grey = torch.full((1, 2, 2), 255, dtype=torch.uint8)
    assert to_model_input(grey, prep)[0, :, 0, 0].tolist() == pytest.approx([1.0, 1.0, 0.5])
    rgb = torch.zeros((1, 3, 2, 2), dtype=torch.uint8)
    rgb[:, 0] = 255
    assert to_model_input(rgb, prep)[0, :, 0, 0].tolist() == pytest.approx([1.0, -1.0, 0.0])
    with pytest.raises(InputError, match=r"RGB images \(B, 3, H, W\), got shape \(1, 4, 2, 2\)"):
        to_model_input(torch.zeros((1, 4, 2, 2)), prep)


def test_json_form_of_grey_models_is_unchanged_and_rgb_round_trips() -> None:
    grey = Preprocessing(size=112)
    assert grey.to_dict() == {"size": 112, "mean": list(grey.mean), "std": list(grey.std)}
    assert Preprocessing.from_dict(grey.to_dict()) == grey
    rgb = Preprocessing(size=64, rgb=True)
    assert rgb.to_dict()["rgb"] is True and Preprocessing.from_dict(rgb.to_dict()) == rgb


def test_bad_preprocessing_is_refused() -> None:
    with pytest.raises(InputError, match="one value per channel"):
        Preprocessing(mean=(0.5, 0.5))  # type: ignore[arg-type]
    with pytest.raises(InputError, match="std must be positive"):
        Preprocessing(std=(1.0, 0.0, 1.0))
    with pytest.raises(InputError, match="positive number of pixels"):
        Preprocessing(size=0)
