"""Fingerprints and the result store behind resumable evaluation."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from causalcam.evaluate.store import (
    ResultStore,
    callable_identity,
    model_fingerprint,
    pack_bool_rows,
    tensor_fingerprint,
    unpack_bool_rows,
)


def make_map_fn(loss: str) -> Callable[[torch.Tensor], torch.Tensor]:
    helper = object()  # captured, but its repr has an address: left out of the identity

    def maps(inputs: torch.Tensor) -> torch.Tensor:
        assert helper is not None
        return inputs[:, 0] * (1.0 if loss == "mse" else 0.5)

    return maps


def scaled(inputs: torch.Tensor, factor: float) -> torch.Tensor:
    return inputs[:, 0] * factor


def test_callable_identity_separates_variants_and_is_stable() -> None:
    assert callable_identity(make_map_fn("mse")) == callable_identity(make_map_fn("mse"))
    assert callable_identity(make_map_fn("mse")) != callable_identity(make_map_fn("bce"))
    assert "0x" not in str(callable_identity(make_map_fn("mse")))
    half = callable_identity(functools.partial(scaled, factor=0.5))
    assert half != callable_identity(functools.partial(scaled, factor=2.0))
    assert half == callable_identity(functools.partial(scaled, factor=0.5))


def test_fingerprints_follow_content() -> None:
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    first = model_fingerprint(model)
    assert first == model_fingerprint(model)
    with torch.no_grad():
        model.bias[0] += 1e-3
    assert model_fingerprint(model) != first
    data = torch.arange(6, dtype=torch.uint8)
    assert tensor_fingerprint(data) == tensor_fingerprint(data.clone())
    assert tensor_fingerprint(data) != tensor_fingerprint(data.view(2, 3))
    assert tensor_fingerprint(data) != tensor_fingerprint(data.long())


def test_store_round_trips_and_rejects_stale_or_corrupt(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    store.save_json("curves", ("a/b", "m"), "k1", {"x": 1})
    assert store.load_json("curves", ("a/b", "m"), "k1") == {"x": 1}
    assert store.load_json("curves", ("a/b", "m"), "k2") is None
    path = next(tmp_path.rglob("*.json"))
    assert path.relative_to(tmp_path).as_posix() == "curves/a_b/m.json"
    path.write_text("{ truncated")
    assert store.load_json("curves", ("a/b", "m"), "k1") is None
    store.save_tensors("maps", ("s", "m"), "k", {"maps": torch.ones(2, 2)})
    loaded = store.load_tensors("maps", ("s", "m"), "k")
    assert loaded is not None and torch.equal(loaded["maps"], torch.ones(2, 2))
    assert store.load_tensors("maps", ("s", "m"), "other") is None
    memory = ResultStore(None)
    memory.save_json("curves", ("x",), "k", [1])
    assert memory.load_json("curves", ("x",), "k") == [1]
    assert not list(tmp_path.rglob("*.tmp"))


def test_bool_rows_round_trip() -> None:
    matrix = np.random.default_rng(0).random((3, 7)) > 0.5
    assert np.array_equal(unpack_bool_rows(pack_bool_rows(matrix)), matrix)
