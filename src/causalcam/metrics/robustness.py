"""Quantus's Max-Sensitivity (Yeh et al. 2019) with its default settings.

For ``nr_samples`` draws of uniform noise ``u ~ U[-r, r]^D`` on every input value
(``r = lower_bound``, 0.2 by default, in normalised input units), the map of the perturbed
input for the same class, ``a(x + u)``, is compared with the map ``a(x)``:

    MaxSens(x) = max_s ||a(x) - a(x + u_s)||_2 / ||a(x)||_2     (lower is better)

The noise comes from ``numpy.random.RandomState(seed)``: draw for draw the stream Quantus
uses after ``numpy.random.seed(seed)``, so with the same maps the values equal Quantus's.
Every method is measured from the same perturbed inputs: one explain call per draw gives
all methods' maps (the engine's one forward pass and one batched VJP).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
from torch import Tensor
from tqdm import tqdm

from ..errors import InputError
from ..results.metrics import MetricScores

#: ``explain(inputs (B, C, H, W), classes (B,)) -> {method: maps (B, H, W)}``.
ExplainFn = Callable[[Tensor, Tensor], Mapping[str, Tensor]]


class MaxSensitivity:
    """Max-Sensitivity of each method's maps. Settings: ``nr_samples`` (Quantus: 200),
    ``lower_bound`` (the noise half-width, 0.2), ``seed``."""

    name = "MaxSensitivity"
    higher_is_better = False

    def __init__(
        self, nr_samples: int = 200, lower_bound: float = 0.2, seed: int = 0, progress: bool = False
    ) -> None:
        if nr_samples < 1:
            raise InputError(f"nr_samples must be at least 1, got {nr_samples}")
        self.nr_samples = nr_samples
        self.lower_bound = lower_bound
        self.seed = seed
        self.progress = progress

    def __call__(
        self,
        explain: ExplainFn,
        inputs: Tensor,
        maps: Mapping[str, Tensor | np.ndarray],
        classes: Tensor | Sequence[int],
    ) -> dict[str, MetricScores]:
        """Per method, the per-image Max-Sensitivity of ``maps`` (name -> (B, H, W), the
        maps of ``inputs`` for ``classes``)."""
        batch = inputs.shape[0]
        flat = {k: _flat(v, batch, k) for k, v in maps.items()}
        norms = {k: np.linalg.norm(v, axis=-1) for k, v in flat.items()}
        worst = {k: np.full(batch, -np.inf) for k in flat}
        x = inputs.detach().cpu().numpy().reshape(batch, -1)
        labels = torch.as_tensor(classes).reshape(-1)
        rng = np.random.RandomState(self.seed)
        draws = tqdm(range(self.nr_samples), desc="max-sensitivity", disable=not self.progress)
        for _ in draws:
            noise = rng.uniform(low=-self.lower_bound, high=self.lower_bound, size=x.shape)
            noisy = torch.from_numpy((x + noise).astype(x.dtype)).reshape(inputs.shape)
            perturbed = explain(noisy.to(inputs.device), labels)
            for k in flat:
                b = _flat(perturbed[k], batch, k)
                ratio = np.linalg.norm(flat[k] - b, axis=-1) / norms[k]
                worst[k] = np.fmax(worst[k], ratio)
        settings = {
            "nr_samples": self.nr_samples,
            "lower_bound": self.lower_bound,
            "seed": self.seed,
        }
        return {
            k: MetricScores(self.name, tuple(float(v) for v in worst[k]), False, k, settings)
            for k in flat
        }


def _flat(maps: Tensor | np.ndarray, batch: int, name: str) -> np.ndarray:
    array = maps.detach().cpu().numpy() if isinstance(maps, Tensor) else np.asarray(maps)
    if array.shape[0] != batch:
        raise InputError(f"maps of {name!r} hold {array.shape[0]} images for {batch} inputs")
    return array.reshape(batch, -1).astype(np.float64)
