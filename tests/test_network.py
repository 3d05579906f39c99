"""causalcam.network: the eval-mode context, Network construction and device choice."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from causalcam.errors import InputError
from causalcam.network import Network, as_network, eval_mode, resolve_device
from causalcam.preprocess import Preprocessing


def _model() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Dropout(0.5), nn.Flatten())


def test_eval_mode_restores_every_module_flag() -> None:
    model = _model().train()
    model[1].eval()  # a mixed state must come back exactly
    before = [m.training for m in model.modules()]
    with eval_mode(model) as inside:
        assert inside is model
        assert not any(m.training for m in model.modules())
    assert [m.training for m in model.modules()] == before


def test_eval_mode_restores_after_an_error() -> None:
    model = _model().train()
    with pytest.raises(RuntimeError, match="boom"), eval_mode(model):
        raise RuntimeError("boom")
    assert all(m.training for m in model.modules())


def test_as_network_accepts_modules_networks_and_loaded_checkpoints() -> None:
    model = _model()
    network = as_network(model)
    assert network.model is model and network.preprocessing == Preprocessing()
    assert as_network(network) is network

    class Meta:
        preprocessing = Preprocessing(size=64)
        classes = ("a", "b")

    class Loaded:
        def __init__(self) -> None:
            self.model = model
            self.meta = Meta()

    loaded = as_network(Loaded())
    assert loaded.preprocessing.size == 64 and loaded.classes == ("a", "b")
    assert Network(model).device == torch.device("cpu")
    with pytest.raises(InputError, match="cannot evaluate a str"):
        as_network("resnet18")


def test_resolve_device() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda")
    with pytest.raises(InputError, match="not a torch device"):
        resolve_device("toaster")
