"""grad-cam 1.5.7's perturbation metrics under its names and call shape
``metric(input_tensor, cams, targets, model) -> float32 (B,)``, within 1e-4 of its values.

Each metric scores the explained target ``s_b = target_b(model(x)_b)`` before and after a
perturbation ``x'`` built from the map; the base metric returns the change ``s(x') - s(x)``
(an absolute change of the target's score, a logit for ``ClassifierOutputTarget``):

- ``CamMultImageConfidenceChange``: ``x' = x * cam`` (the map multiplies every channel);
  ``DropInConfidence``: ``max(0, s(x) - s(x'))``; ``IncreaseInConfidence``: ``1[s(x') > s(x)]``.
- ROAD (Rong et al. 2022, "A Consistent and Efficient Evaluation Strategy for Attribution
  Methods"): ``ROADMostRelevantFirst(p)`` removes the pixels whose map value is at or above
  the map's ``p``-th percentile and imputes them (:mod:`.imputation`),
  ``ROADLeastRelevantFirst(p)`` those of ``1 - cam`` (the least relevant ``100 - p`` %);
  the ``...Average`` forms average over percentiles (10, ..., 90) and ``ROADCombined`` is
  ``(LeRF average - MoRF average) / 2``.

Unlike grad-cam: a missing ``targets`` (None) explains the predicted class; the model runs in
eval mode (restored after); the imputation's noise is seeded (``noise``, ``seed``) and
``noise=0`` gives the noiseless imputation; each metric also gives a typed
:class:`~causalcam.results.metrics.MetricScores` through ``measure``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

import numpy as np
import torch
from torch import Tensor, nn

from ..errors import InputError
from ..network import eval_mode
from ..results.metrics import MetricScores, Setting
from .checks import Target, check_inputs, check_maps, model_outputs, resolve_targets, target_scores
from .imputation import ROAD_NOISE, impute

#: grad-cam's percentiles of the ROAD averages.
ROAD_PERCENTILES: Final[tuple[int, ...]] = (10, 20, 30, 40, 50, 60, 70, 80, 90)

#: A batched perturbation: inputs (B, C, H, W) on the CPU and maps (B, H, W) -> perturbed inputs.
Perturbation = Callable[[Tensor, Tensor], Tensor]


def multiply_tensor_with_cam(input_tensor: Tensor, cam: Tensor) -> Tensor:
    """``x * cam``: every channel of each (normalised) input times its map."""
    return input_tensor * cam.unsqueeze(-3)


class _Metric:
    """The shared call: check the data, evaluate the model in eval mode, score the change."""

    #: The metric's name in tables (its class name).
    name: str = ""
    #: Whether a higher score means a better explanation.
    higher_is_better: bool = True
    batch_size: int = 64

    def __call__(
        self,
        input_tensor: Tensor,
        cams: np.ndarray | Tensor,
        targets: Sequence[Target] | None,
        model: nn.Module,
    ) -> np.ndarray:
        check_inputs(input_tensor)
        maps = check_maps(cams, input_tensor)
        with eval_mode(model):
            outputs = model_outputs(model, input_tensor, self.batch_size)
            chosen = resolve_targets(targets, outputs)
            before = target_scores(chosen, outputs)
            return self.evaluate(input_tensor, maps, chosen, model, before)

    def evaluate(
        self,
        input_tensor: Tensor,
        maps: Tensor,
        targets: list[Target],
        model: nn.Module,
        before: np.ndarray,
    ) -> np.ndarray:
        """The scores given the targets' scores ``before`` on the clean inputs (so several
        metrics share one clean forward pass); ``maps`` as :func:`.checks.check_maps`
        returns them, the model in eval mode."""
        raise NotImplementedError

    def settings(self) -> dict[str, Setting]:
        """The metric's construction settings (for tables)."""
        return {}

    def measure(
        self,
        input_tensor: Tensor,
        cams: np.ndarray | Tensor,
        targets: Sequence[Target] | None,
        model: nn.Module,
        method: str = "",
    ) -> MetricScores:
        """The call's per-image scores as a typed result."""
        scores = self(input_tensor, cams, targets, model)
        return MetricScores(
            metric=self.name or type(self).__name__,
            scores=tuple(float(s) for s in scores),
            higher_is_better=self.higher_is_better,
            method=method,
            settings=self.settings(),
        )


class PerturbationConfidenceMetric(_Metric):
    """``s(perturbation(x, cam)) - s(x)`` per image (or ``s(x')`` with ``return_diff=False``).

    ``perturbation``: batched, inputs (B, C, H, W) and maps (B, H, W) on the CPU ->
    perturbed inputs (grad-cam's takes one image at a time)."""

    def __init__(self, perturbation: Perturbation, batch_size: int = 64) -> None:
        if not callable(perturbation):
            raise InputError("perturbation must be a function (inputs, maps) -> inputs")
        self.perturbation = perturbation
        self.batch_size = batch_size

    def perturbed(self, input_tensor: Tensor, maps: Tensor) -> Tensor:
        """The perturbed inputs on ``input_tensor``'s device."""
        out = self.perturbation(input_tensor.detach().cpu(), maps)
        return out.to(input_tensor.device, input_tensor.dtype)

    def evaluate(
        self,
        input_tensor: Tensor,
        maps: Tensor,
        targets: list[Target],
        model: nn.Module,
        before: np.ndarray,
    ) -> np.ndarray:
        perturbed = model_outputs(model, self.perturbed(input_tensor, maps), self.batch_size)
        return self.combine(target_scores(targets, perturbed) - before)

    def combine(self, change: np.ndarray) -> np.ndarray:
        """The per-image scores from the change ``s(x') - s(x)``."""
        return change.astype(np.float32)


class CamMultImageConfidenceChange(PerturbationConfidenceMetric):
    """``s(x * cam) - s(x)``: the target's score change when the input is multiplied by its
    map (grad-cam's name)."""

    def __init__(self, batch_size: int = 64) -> None:
        super().__init__(multiply_tensor_with_cam, batch_size)


class DropInConfidence(CamMultImageConfidenceChange):
    """``max(0, s(x) - s(x * cam))``: grad-cam's absolute drop of the target's score (lower is
    better); not torchcam's relative Average Drop (:class:`RelativeConfidenceChange`)."""

    higher_is_better = False

    def combine(self, change: np.ndarray) -> np.ndarray:
        return np.maximum(-change, 0).astype(np.float32)


class IncreaseInConfidence(CamMultImageConfidenceChange):
    """``1[s(x * cam) > s(x)]`` per image (grad-cam's; the mean is the increase rate)."""

    def combine(self, change: np.ndarray) -> np.ndarray:
        return (change > 0).astype(np.float32)


def percentile_keep(maps: Tensor, percentile: float) -> Tensor:
    """Pixels kept by a ROAD step: below each map's ``percentile``-th percentile (numpy's
    linear percentile, compared in float32 as grad-cam does)."""
    if isinstance(percentile, str) or not 0 <= percentile <= 100:
        raise InputError(f"a ROAD percentile must be a number in [0, 100], got {percentile!r}")
    thresholds = [float(np.percentile(m.numpy(), percentile)) for m in maps]
    return torch.stack([m < t for m, t in zip(maps, thresholds, strict=True)])


class ROADMostRelevantFirst(PerturbationConfidenceMetric):
    """ROAD, most relevant first: the score change after imputing the pixels at or above the
    map's ``percentile``-th percentile (lower is better). ``noise``: the imputation's noise
    (standard deviation, 0 for none), drawn from a generator seeded ``seed``."""

    higher_is_better = False
    _least_first = False

    def __init__(
        self,
        percentile: float = 80,
        noise: float = ROAD_NOISE,
        seed: int = 0,
        batch_size: int = 64,
    ) -> None:
        self.percentile = percentile
        self.noise = noise
        self.seed = seed
        super().__init__(self._remove, batch_size)

    def _remove(self, inputs: Tensor, maps: Tensor) -> Tensor:
        relevance = 1 - maps if self._least_first else maps
        keep = percentile_keep(relevance, self.percentile)
        return impute(inputs, keep, noise=self.noise, seed=self.seed)

    def settings(self) -> dict[str, Setting]:
        return {"percentile": self.percentile, "noise": self.noise, "seed": self.seed}


class ROADLeastRelevantFirst(ROADMostRelevantFirst):
    """ROAD, least relevant first: imputes the pixels at or above the ``percentile``-th
    percentile of ``1 - cam`` (higher is better)."""

    higher_is_better = True
    _least_first = True

    def __init__(
        self,
        percentile: float = 20,
        noise: float = ROAD_NOISE,
        seed: int = 0,
        batch_size: int = 64,
    ) -> None:
        super().__init__(percentile, noise, seed, batch_size)


class _ROADAverage(_Metric):
    step: type[ROADMostRelevantFirst] = ROADMostRelevantFirst

    def __init__(
        self,
        percentiles: Sequence[float] = ROAD_PERCENTILES,
        noise: float = ROAD_NOISE,
        seed: int = 0,
        batch_size: int = 64,
    ) -> None:
        if not percentiles:
            raise InputError("ROAD needs at least one percentile")
        self.percentiles = tuple(percentiles)
        self.steps = [self.step(p, noise, seed, batch_size) for p in self.percentiles]
        self.higher_is_better = self.step.higher_is_better
        self.batch_size = batch_size

    def evaluate(
        self,
        input_tensor: Tensor,
        maps: Tensor,
        targets: list[Target],
        model: nn.Module,
        before: np.ndarray,
    ) -> np.ndarray:
        scores = [s.evaluate(input_tensor, maps, targets, model, before) for s in self.steps]
        return np.mean(np.asarray(scores, dtype=np.float32), axis=0)

    def settings(self) -> dict[str, Setting]:
        step = self.steps[0]
        percentiles = ",".join(str(p) for p in self.percentiles)
        return {"percentiles": percentiles, "noise": step.noise, "seed": step.seed}


class ROADMostRelevantFirstAverage(_ROADAverage):
    """The mean of :class:`ROADMostRelevantFirst` over ``percentiles`` (lower is better)."""

    step = ROADMostRelevantFirst


class ROADLeastRelevantFirstAverage(_ROADAverage):
    """The mean of :class:`ROADLeastRelevantFirst` over ``percentiles`` (higher is better)."""

    step = ROADLeastRelevantFirst


class ROADCombined(_Metric):
    """``(LeRF average - MoRF average) / 2`` (higher is better)."""

    def __init__(
        self,
        percentiles: Sequence[float] = ROAD_PERCENTILES,
        noise: float = ROAD_NOISE,
        seed: int = 0,
        batch_size: int = 64,
    ) -> None:
        self.percentiles = tuple(percentiles)
        self.morf_averager = ROADMostRelevantFirstAverage(percentiles, noise, seed, batch_size)
        self.lerf_averager = ROADLeastRelevantFirstAverage(percentiles, noise, seed, batch_size)
        self.batch_size = batch_size

    def evaluate(
        self,
        input_tensor: Tensor,
        maps: Tensor,
        targets: list[Target],
        model: nn.Module,
        before: np.ndarray,
    ) -> np.ndarray:
        lerf = self.lerf_averager.evaluate(input_tensor, maps, targets, model, before)
        morf = self.morf_averager.evaluate(input_tensor, maps, targets, model, before)
        return self.combine(lerf, morf)

    @staticmethod
    def combine(lerf: np.ndarray, morf: np.ndarray) -> np.ndarray:
        """``(LeRF average - MoRF average) / 2`` per image, float32."""
        return np.asarray((lerf - morf) / 2, dtype=np.float32)

    def settings(self) -> dict[str, Setting]:
        return self.morf_averager.settings()
