"""Quantus's complexity metrics of a map (Quantus 0.6 definitions, its default settings).

Both take ``|a|`` divided by its maximum (Quantus's ``abs=True, normalise=True`` with
``normalise_by_max``; an all-zero map stays zero) and flatten it to ``a_1..a_d``:

- ``Sparseness`` (Chalasani et al. 2020): the Gini index of the sorted values
  ``a_(1) <= ... <= a_(d)`` after adding 1e-7,
  ``G = sum_i (2i - d - 1) a_(i) / (d sum_i a_(i))``; higher is sparser (better).
- ``Complexity`` (Bhatt et al. 2020): the entropy of the map's share of mass
  ``p_i = a_i / sum_j a_j``: ``H = -sum_i p_i log(p_i + 1e-12)``; lower is simpler (better).
"""

from __future__ import annotations

import numpy as np
from torch import Tensor

from ..errors import InputError
from ..results.metrics import MetricScores

#: Quantus's guards.
SPARSENESS_EPS = 1e-7
ENTROPY_EPS = 1e-12


def _prepared(maps: np.ndarray | Tensor) -> np.ndarray:
    """``|a| / max|a|`` per map, flattened to (B, d) float64; all-zero maps stay zero."""
    array = np.asarray(maps.detach().cpu().numpy() if isinstance(maps, Tensor) else maps)
    if array.ndim < 2 or array.shape[0] == 0:
        raise InputError(f"maps must have shape (B, H, W) or (B, d), got {array.shape}")
    flat = np.abs(array.reshape(array.shape[0], -1).astype(np.float64))
    peak = flat.max(axis=1, keepdims=True)
    return np.divide(flat, peak, out=np.zeros_like(flat), where=peak > 0)


class Sparseness:
    """The Gini index of each map (Quantus ``Sparseness``); higher is better."""

    name = "Sparseness"
    higher_is_better = True

    def __call__(self, maps: np.ndarray | Tensor, method: str = "") -> MetricScores:
        a = np.sort(_prepared(maps) + SPARSENESS_EPS, axis=-1)
        d = a.shape[1]
        rank = np.arange(1, d + 1)
        gini = ((2 * rank - d - 1) * a).sum(axis=-1) / (d * a.sum(axis=-1))
        return MetricScores(self.name, tuple(float(g) for g in gini), True, method)


class Complexity:
    """The entropy of each map's mass (Quantus ``Complexity``); lower is better."""

    name = "Complexity"
    higher_is_better = False

    def __call__(self, maps: np.ndarray | Tensor, method: str = "") -> MetricScores:
        a = _prepared(maps)
        total = a.sum(axis=-1, keepdims=True)
        p = np.divide(a, total, out=np.zeros_like(a), where=total > 0)
        entropy = -(p * np.log(p + ENTROPY_EPS)).sum(axis=-1)
        return MetricScores(self.name, tuple(float(h) for h in entropy), False, method)
