"""Fixtures of the evaluation tests: a bright-spot model and its test set."""

from __future__ import annotations

import pytest
import torch
from evaluate_helpers import IDENTITY, BrightSpotModel, spot_data

from causalcam.evaluate import Network


@pytest.fixture
def spot_network() -> Network:
    return Network(BrightSpotModel(), IDENTITY, ("dark", "bright"))


@pytest.fixture
def spot_set() -> tuple[torch.Tensor, torch.Tensor]:
    return spot_data([None, 1, 3, None, 8, 15, None, 12, 6, None])
