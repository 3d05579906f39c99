"""Ground-truth scores of explanation maps (docs/method.md, "Ground truth: planted cause and
context"): the share of a map's mass on the planted cause and on the context, the pointing
game, and intervals from a bootstrap over networks and then images.

Any map works: maps given as a tensor (:meth:`GroundTruthScore.__call__`), or any callable
``maps = f(inputs, target)`` (:func:`score_callable`), e.g. a pytorch-grad-cam CAM wrapped in
a lambda, ``causalcam.map_function``, or a user's own method.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor

from ..errors import InputError
from ..evaluate.localisation import mass_share, pointing_hits
from ..evaluate.summary import percentile_interval
from ..preprocess import to_model_input
from ..results import JsonForm, json_codec
from ..results.ablation import Estimate
from ..synthetic import SyntheticSet
from .networks import preprocessing

#: ``f(inputs (B, 3, H, W), target (B,)) -> maps (B, H, W) >= 0``: the map of class ``target``.
TargetMapFn = Callable[[Tensor, Tensor], Tensor]
Floats = npt.NDArray[np.float64]

#: Where a map's maximum lies (the pointing game).
POINT_CAUSE, POINT_CONTEXT, POINT_ELSEWHERE = 0, 1, 2


def _shares_out(shares: Floats) -> list[float]:
    return [round(float(v), 6) for v in shares]  # shares rounded to 1e-6


def _ints_out(values: npt.NDArray[np.int64] | npt.NDArray[np.bool_]) -> list[int]:
    return [int(v) for v in values]


def _floats_in(values: list[float]) -> Floats:
    return np.asarray(values, dtype=np.float64)


def _points_in(values: list[int]) -> npt.NDArray[np.int64]:
    return np.asarray(values, dtype=np.int64)


def _empty_in(values: list[int]) -> npt.NDArray[np.bool_]:
    return np.asarray(values, dtype=np.bool_)


@dataclass(frozen=True)
class ImageScores(JsonForm):
    """Per-image scores of one map on ``n`` images: ``cause``/``context`` the shares of its
    mass on each region (0 for a map that is all zeros), ``point`` where its maximum lies
    (``POINT_CAUSE``, ``POINT_CONTEXT`` or ``POINT_ELSEWHERE``), ``empty`` whether the map
    is all zeros."""

    cause: Floats = field(metadata=json_codec(write=_shares_out, read=_floats_in))
    context: Floats = field(metadata=json_codec(write=_shares_out, read=_floats_in))
    point: npt.NDArray[np.int64] = field(metadata=json_codec(write=_ints_out, read=_points_in))
    empty: npt.NDArray[np.bool_] = field(metadata=json_codec(write=_ints_out, read=_empty_in))

    @property
    def separation(self) -> Floats:
        """``S = share_cause - share_context`` per image."""
        return self.cause - self.context


@dataclass(frozen=True)
class GroundTruthScore:
    """Scores maps against planted regions. ``tolerance``: pixels by which the regions are
    widened for the pointing game only (the shares use the exact masks)."""

    tolerance: int = 2

    def __call__(self, maps: Tensor, cause: Tensor, context: Tensor) -> ImageScores:
        """Scores of maps (n, H, W) >= 0 against boolean regions (n, H, W)."""
        if maps.ndim != 3 or maps.shape != cause.shape or maps.shape != context.shape:
            raise InputError(
                f"maps {tuple(maps.shape)} and regions {tuple(cause.shape)}, "
                f"{tuple(context.shape)} must all be (n, H, W)"
            )
        maps = maps.detach().cpu().float()
        cause_share = torch.nan_to_num(mass_share(maps, cause), nan=0.0)
        context_share = torch.nan_to_num(mass_share(maps, context), nan=0.0)
        live = maps.flatten(1).amax(1) > 0
        on_cause = pointing_hits(maps, self._widen(cause)) & live
        on_context = pointing_hits(maps, self._widen(context)) & live & ~on_cause
        point = torch.full_like(on_cause, POINT_ELSEWHERE, dtype=torch.long)
        point[on_context] = POINT_CONTEXT
        point[on_cause] = POINT_CAUSE
        return ImageScores(
            cause_share.numpy().astype(np.float64),
            context_share.numpy().astype(np.float64),
            point.numpy(),
            (~live).numpy(),
        )

    def _widen(self, region: Tensor) -> Tensor:
        if self.tolerance <= 0:
            return region.bool()
        size = 2 * self.tolerance + 1
        grown = torch.nn.functional.max_pool2d(
            region.float().unsqueeze(1), size, stride=1, padding=self.tolerance
        )
        return grown.squeeze(1) > 0


def score_callable(
    fn: TargetMapFn,
    data: SyntheticSet,
    *,
    scorer: GroundTruthScore | None = None,
    batch_size: int = 64,
) -> ImageScores:
    """Score the maps ``fn(inputs, target)`` of the images ``data`` explains (its
    ``explained`` ones, class ``data.target``) against their cause and context regions."""
    chosen = data.subset(data.explained)
    if len(chosen) == 0:
        raise InputError(f"the {data.design.label} set has no image to explain")
    prep = preprocessing(data.design.size)
    parts = []
    for start in range(0, len(chosen), batch_size):
        inputs = to_model_input(chosen.images[start : start + batch_size], prep)
        maps = torch.as_tensor(fn(inputs, chosen.target[start : start + batch_size]))
        if maps.shape != (inputs.shape[0], *inputs.shape[2:]):
            raise InputError(f"the map function returned {tuple(maps.shape)}, expected (B, H, W)")
        parts.append(maps.detach().cpu().float())
    return (scorer or GroundTruthScore())(torch.cat(parts), chosen.cause, chosen.context)


def bootstrap_means(
    per_network: Sequence[npt.ArrayLike], n_boot: int = 2000, seed: int = 0
) -> Floats:
    """``n_boot`` two-stage bootstrap replicates of the mean over networks of the mean over
    images: networks resampled with replacement, then images within each. The same ``seed``
    and image counts give the same resamples, so differences between maps are paired."""
    arrays = [np.asarray(values, dtype=np.float64) for values in per_network]
    if not arrays or any(a.ndim != 1 or a.size == 0 for a in arrays):
        raise InputError("need one non-empty 1-D array of per-image values per network")
    rng = np.random.default_rng(seed)
    means = np.stack(
        [
            rng.multinomial(a.size, np.full(a.size, 1.0 / a.size), size=n_boot) @ a / a.size
            for a in arrays
        ]
    )  # (networks, n_boot)
    picks = rng.integers(0, len(arrays), size=(n_boot, len(arrays)))
    return means[picks, np.arange(n_boot)[:, None]].mean(axis=1)


def estimate(
    per_network: Sequence[npt.ArrayLike], n_boot: int = 2000, seed: int = 0, ci: float = 0.95
) -> Estimate:
    """The mean over networks of the mean over images, with its two-stage bootstrap interval."""
    value = float(np.mean([np.mean(np.asarray(a, dtype=np.float64)) for a in per_network]))
    low, high = percentile_interval(bootstrap_means(per_network, n_boot, seed), ci)
    return Estimate(value, low, high)
