"""Sanity checks for saliency maps (Adebayo et al. 2018, "Sanity Checks for Saliency Maps").

- **Model-parameter randomisation**, from the top layer down: the units of the model (its
  top-level blocks with parameters; a ``Sequential``'s blocks one by one; see
  :func:`randomisation_units`) are re-initialised with their own ``reset_parameters`` from
  a seeded generator, *cascading* (each step keeps the units randomised before it) or
  *independent* (one unit at a time, the rest trained). Every randomised model costs one
  forward pass and one batched VJP for all methods (one ``Explainer.explain`` call); the
  explained classes P and Q stay those of the trained model.
- **Random logit** (Sixt et al. 2020, Quantus's ``RandomLogit``): the map of a randomly
  chosen other class (seeded) against the map of P.

Similarity per image: the Spearman rank correlation of the maps' absolute values (ties
share their mean rank) and SSIM (Wang et al. 2004, scikit-image's defaults: a 7x7 uniform
window, K1 = 0.01, K2 = 0.03, sample covariances, data range 1 for maps in [0, 1]).

Pass rule (fixed before measuring; docs/metrics.md): Adebayo et al. call a method that
produces similar maps for the trained and the randomised model insensitive to the model,
and so failing; they set no numeric cut. causalcam applies: a method passes a test when the
upper end of the 95% bootstrap interval of the mean similarity over the images is below
``threshold`` (0.5), for both Spearman and SSIM after the cascading randomisation of every
unit and for SSIM in the random-logit test. Independent randomisation is reported, not
judged.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch import Tensor, nn
from tqdm import tqdm

from .._io import atomic_path
from ..errors import InputError
from ..evaluate.summary import bootstrap_mean
from ..explain import Explainer
from ..explain.methods import check_choice
from ..network import eval_mode
from ..results.metrics import SanityResult, SanityVerdict, SimilarityRow
from .maps import NamedMaps, explain_named

CASCADING: Final = "cascading"
INDEPENDENT: Final = "independent"
RANDOM_LOGIT: Final = "random_logit"
#: The tests, in the order they run.
SANITY_TESTS: Final[tuple[str, ...]] = (CASCADING, INDEPENDENT, RANDOM_LOGIT)
SPEARMAN: Final = "spearman"
SSIM: Final = "ssim"
#: The pass rule's cut on the upper end of the mean similarity's interval.
PASS_THRESHOLD: Final = 0.5
#: SSIM's constants (scikit-image defaults).
SSIM_WINDOW: Final = 7
SSIM_K1: Final = 0.01
SSIM_K2: Final = 0.03


def spearman(a: Tensor | np.ndarray, b: Tensor | np.ndarray) -> np.ndarray:
    """Per image, the Spearman rank correlation of ``|a|`` and ``|b|`` (B, ...) (NaN where
    either map is constant)."""
    x, y = (np.abs(_numpy(m)).reshape(len(m), -1) for m in (a, b))
    out = np.full(len(x), np.nan)
    for i, (u, v) in enumerate(zip(x, y, strict=True)):
        ru, rv = _ranks(u), _ranks(v)
        ru, rv = ru - ru.mean(), rv - rv.mean()
        scale = np.sqrt((ru * ru).sum() * (rv * rv).sum())
        if scale > 0:
            out[i] = float((ru * rv).sum() / scale)
    return out


def _ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their mean rank."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return (ends - (counts - 1) / 2.0)[inverse]


def ssim(a: Tensor | np.ndarray, b: Tensor | np.ndarray, data_range: float = 1.0) -> np.ndarray:
    """Per image, the mean SSIM of maps (B, H, W) as scikit-image's ``structural_similarity``
    computes it with its defaults (7x7 uniform window, borders cropped)."""
    x, y = (torch.as_tensor(_numpy(m), dtype=torch.float64).unsqueeze(1) for m in (a, b))
    if x.shape != y.shape or x.ndim != 4:
        raise InputError(f"SSIM needs two stacks of maps (B, H, W) alike, got {x.shape}, {y.shape}")
    if min(x.shape[-2:]) < SSIM_WINDOW:
        raise InputError(f"SSIM needs maps of at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels")
    n = SSIM_WINDOW**2
    mean = [F.avg_pool2d(t, SSIM_WINDOW, stride=1) for t in (x, y, x * x, y * y, x * y)]
    ux, uy, uxx, uyy, uxy = mean
    scale = n / (n - 1)
    vx, vy, vxy = scale * (uxx - ux * ux), scale * (uyy - uy * uy), scale * (uxy - ux * uy)
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return s.mean(dim=(1, 2, 3)).numpy()


def _numpy(maps: Tensor | np.ndarray) -> np.ndarray:
    return maps.detach().cpu().numpy() if isinstance(maps, Tensor) else np.asarray(maps)


def randomisation_units(model: nn.Module) -> list[str]:
    """The units randomised, top layer first: the model's direct children that hold
    parameters, a ``Sequential``/``ModuleList`` child's children one by one (ResNet-18:
    ``fc, layer4.1, layer4.0, ..., layer1.0, bn1, conv1``)."""
    units: list[str] = []
    for name, child in model.named_children():
        if isinstance(child, nn.Sequential | nn.ModuleList) and len(child) > 1:
            units.extend(
                f"{name}.{sub}" for sub, block in child.named_children() if _has_parameters(block)
            )
        elif _has_parameters(child):
            units.append(name)
    return units[::-1]


def _has_parameters(module: nn.Module) -> bool:
    return next(module.parameters(), None) is not None


def randomise(model: nn.Module, unit: str, seed: int) -> None:
    """Re-initialise every submodule of ``unit`` that has ``reset_parameters`` (in place),
    from a generator seeded ``seed``; batch-norm statistics are reset too."""
    module = model.get_submodule(unit)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for sub in module.modules():
            reset = getattr(sub, "reset_parameters", None)
            if callable(reset):
                reset()


@dataclass(frozen=True)
class Snapshots:
    """The maps of one image as the units are randomised (cascading), for the figure:
    ``maps[method]`` holds the trained model's map then one per unit."""

    image: int
    units: tuple[str, ...]
    maps: dict[str, list[np.ndarray]] = field(default_factory=dict)


class SanityChecks:
    """Model-parameter randomisation (cascading and independent) and the random-logit test.

    Settings: ``tests`` (from :data:`SANITY_TESTS`), ``units`` (None: every unit of
    :func:`randomisation_units`, top first), ``seed``, ``n_boot`` (bootstrap resamples of
    the verdicts' intervals), ``threshold`` (the pass rule), ``figure_image`` (the image
    whose maps are kept for the figure), ``chunk_size``, ``progress``. Call with the model,
    the inputs, the method names (gradient methods: one pass each) and the target layer.
    """

    def __init__(
        self,
        tests: Sequence[str] = SANITY_TESTS,
        units: Sequence[str] | None = None,
        seed: int = 0,
        n_boot: int = 1000,
        threshold: float = PASS_THRESHOLD,
        figure_image: int = 0,
        chunk_size: int = 16,
        progress: bool = False,
    ) -> None:
        self.tests = tuple(check_choice("sanity test", t, SANITY_TESTS) for t in tests)
        self.units = None if units is None else tuple(units)
        self.seed = seed
        self.n_boot = n_boot
        self.threshold = threshold
        self.figure_image = figure_image
        self.chunk_size = chunk_size
        self.progress = progress

    def __call__(
        self,
        model: nn.Module,
        inputs: Tensor,
        methods: Sequence[str],
        target_layer: str | None = None,
        trained: NamedMaps | None = None,
    ) -> tuple[SanityResult, Snapshots]:
        """The similarities, verdicts and figure snapshots. ``trained``: the trained
        model's maps of ``methods`` (at least) for its predicted classes, when the caller
        has them (saves one explanation)."""
        methods = tuple(methods)
        if not methods:
            raise InputError("the sanity checks need at least one method")
        units = list(self.units) if self.units is not None else randomisation_units(model)
        for unit in units:
            try:
                model.get_submodule(unit)
            except AttributeError as error:
                raise InputError(f"the model has no module {unit!r} to randomise") from error
        with eval_mode(model):
            explainer = Explainer(model, target_layer=target_layer, chunk_size=self.chunk_size)
            if trained is None:
                trained = explain_named(explainer, inputs, methods)
            layer = trained.layer
            classes = (trained.target, trained.contrast)
            before = trained.maps
            snapshots = Snapshots(
                self.figure_image,
                tuple(units),
                {m: [_image(before[m], self.figure_image)] for m in methods},
            )
            rows: list[SimilarityRow] = []
            steps = [(t, u) for t in (CASCADING, INDEPENDENT) if t in self.tests for u in units]
            cascade = copy.deepcopy(model)
            for index, (test, unit) in enumerate(
                tqdm(steps, desc="sanity", unit="model", disable=not self.progress)
            ):
                randomised = cascade if test == CASCADING else copy.deepcopy(model)
                randomise(randomised, unit, self.seed + index)
                maps = self._maps(randomised, inputs, methods, layer, classes)
                rows.extend(_rows(before, maps, methods, test, unit))
                if test == CASCADING:
                    for m in methods:
                        snapshots.maps[m].append(_image(maps[m], self.figure_image))
            if RANDOM_LOGIT in self.tests:
                other = _other_classes(classes[0], trained.n_classes, self.seed)
                maps = explain_named(explainer, inputs, methods, target_class=other).maps
                rows.extend(_rows(before, maps, methods, RANDOM_LOGIT, ""))
        result = SanityResult(tuple(rows), self._verdicts(rows, methods, units), tuple(units))
        return result, snapshots

    def _maps(
        self,
        model: nn.Module,
        inputs: Tensor,
        methods: tuple[str, ...],
        layer: str,
        classes: tuple[Tensor, Tensor],
    ) -> dict[str, Tensor]:
        explainer = Explainer(model, target_layer=layer, chunk_size=self.chunk_size)
        with eval_mode(model):
            return explain_named(
                explainer, inputs, methods, target_class=classes[0], contrast_class=classes[1]
            ).maps

    def _verdicts(
        self, rows: list[SimilarityRow], methods: tuple[str, ...], units: list[str]
    ) -> tuple[SanityVerdict, ...]:
        judged = [
            (CASCADING, units[-1] if units else "", (SPEARMAN, SSIM)),
            (RANDOM_LOGIT, "", (SSIM,)),
        ]
        verdicts = []
        for test, layer, statistics in judged:
            for method in methods:
                row = next(
                    (r for r in rows if (r.method, r.test, r.layer) == (method, test, layer)), None
                )
                if row is None:
                    continue
                for statistic in statistics:
                    values = np.asarray(row.spearman if statistic == SPEARMAN else row.ssim)
                    estimate, _ = bootstrap_mean(values, self.n_boot, self.seed)
                    passed = bool(np.isfinite(estimate.high) and estimate.high < self.threshold)
                    verdicts.append(
                        SanityVerdict(method, test, statistic, estimate, self.threshold, passed)
                    )
        return tuple(verdicts)


def _rows(
    before: dict[str, Tensor],
    after: dict[str, Tensor],
    methods: tuple[str, ...],
    test: str,
    layer: str,
) -> list[SimilarityRow]:
    return [
        SimilarityRow(
            method=m,
            test=test,
            layer=layer,
            spearman=tuple(float(v) for v in spearman(before[m], after[m])),
            ssim=tuple(float(v) for v in ssim(before[m].abs(), after[m].abs())),
        )
        for m in methods
    ]


def _image(maps: Tensor, index: int) -> np.ndarray:
    return maps[min(index, len(maps) - 1)].detach().cpu().numpy()


def _other_classes(target: Tensor, n_classes: int, seed: int) -> Tensor:
    """A uniformly drawn class other than each image's P (seeded)."""
    if n_classes < 2:
        raise InputError("the random-logit test needs a model with at least two classes")
    generator = torch.Generator().manual_seed(seed)
    shift = torch.randint(1, n_classes, (len(target),), generator=generator)
    return (target.cpu() + shift) % n_classes


def sanity_figure(
    snapshots: Snapshots, path: str | os.PathLike[str], titles: dict[str, str] | None = None
) -> Path:
    """The classic figure: one row per method, the trained model's map then the maps as the
    units are randomised (cascading, top first). Written atomically as PNG."""
    methods = list(snapshots.maps)
    columns = ["trained", *snapshots.units]
    figure = Figure(figsize=(1.3 * len(columns), 1.4 * len(methods) + 0.4))
    axes = figure.subplots(len(methods), len(columns), squeeze=False)
    for r, method in enumerate(methods):
        for c, image in enumerate(snapshots.maps[method]):
            ax = axes[r][c]
            ax.imshow(image, cmap="jet", vmin=0.0, vmax=1.0)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(columns[c], fontsize=7, rotation=45 if c else 0)
            if c == 0:
                label = (titles or {}).get(method, method)
                ax.set_ylabel(label.replace("\n", " "), fontsize=7)
        for c in range(len(snapshots.maps[method]), len(columns)):
            axes[r][c].axis("off")
    figure.suptitle("Cascading randomisation, top layer first", fontsize=9)
    target = Path(path)
    with atomic_path(target) as tmp:
        figure.savefig(tmp, format="png", dpi=110, facecolor="white")
    return target
