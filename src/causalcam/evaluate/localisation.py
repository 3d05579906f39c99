"""Do the maps look at the lungs? Lung masks of CT scans and the share of each map's mass
inside them (the energy-based pointing game of Wang et al., Score-CAM 2020; the relevance
mass of Arras et al. 2022), with bootstrap intervals over images.

A lung mask is found without labels (needs the ``localisation`` extra, scikit-image):

1. smooth the grey scan (Gaussian, ``sigma`` px) and split it at Otsu's threshold into
   bright (tissue, bone, table, text) and dark (air, lungs);
2. the *closed chest* is the largest bright component with its holes filled (the lungs are
   holes of the chest wall); the *hull* adds the convex hull of all bright pixels, for
   crops where the chest wall runs off the image;
3. the lungs are among the dark pixels inside the hull, opened by a disk (radius
   ``opening`` of the image side). Dark components outside the closed chest whose grey
   values are flat (std < ``air_texture``) are the air around the patient (lungs show
   vessels) and thin ones (minor axis under ``min_width`` of the image side) are air under
   the table: both are dropped. The ``max_lungs`` largest remaining components of at least
   ``min_fraction`` of the image are kept, each grown into the lung-like dark components
   outside the hull that it touches (a lung running off a crop), holes (vessels) filled.
   ``status`` is ``"ok"`` when the lungs lie inside the closed chest, ``"hull"`` when they
   reach outside it (an open crop), ``"empty"`` when none is found (the scan is left out
   of the statistics, and counted).

For a map ``M >= 0`` and a region ``R`` the share is ``sum(M * R) / sum(M)``; a map spread
uniformly scores the region's area fraction (``chance``), so ``lift = share / chance``.
The pointing game counts the scans whose map maximum lies inside the lungs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn
from tqdm import tqdm

from .._io import atomic_write_json, atomic_write_text
from ..data.cache import first_per_class, load_split
from ..data.covidct import CLASSES
from ..errors import InputError
from ..explain import PAPER_MAPS, Explainer
from ..extras import require
from ..models.checkpoint import default_model, load_checkpoint
from ..preprocess import Preprocessing, to_model_input
from ..results.localisation import LocalisationResult, LocalisationRow, verdicts
from ..viz.masks import mask_grid
from ..viz.panels import save_figure
from .summary import bootstrap_weights
from .tables import rows_to_csv

MASK_STATUSES: tuple[str, ...] = ("ok", "hull", "empty")


@dataclass(frozen=True)
class LungMaskOptions:
    """Parameters of :func:`lung_mask` (fractions are of the image area)."""

    sigma: float = 1.0
    min_fraction: float = 0.01
    max_lungs: int = 2
    opening: float = 0.015  # radius of the disk that opens the dark region (of the image side)
    air_texture: float = 0.03  # grey std (0-1) below which a border component is outside air
    min_width: float = 0.1  # thinner components (minor axis / image side) are not lungs


@dataclass
class LungMask:
    """Lungs and body (the closed chest with its holes, plus the lungs; without table and
    text) of one scan, boolean ``(H, W)``, and how they were found."""

    lungs: npt.NDArray[np.bool_]
    body: npt.NDArray[np.bool_]
    status: str  # one of MASK_STATUSES


def _skimage() -> tuple[Any, ...]:
    """scipy.ndimage and the scikit-image modules the masks use (extra ``localisation``)."""
    purpose = "lung masks"
    return tuple(
        require(name, purpose)
        for name in ("scipy.ndimage", "skimage.filters", "skimage.measure", "skimage.morphology")
    )


def _largest(labels: npt.NDArray[np.int_], count: int, min_area: float) -> npt.NDArray[np.bool_]:
    """Union of the ``count`` largest labelled components of at least ``min_area`` pixels."""
    areas = np.bincount(labels.ravel())
    areas[0] = 0
    keep = [i for i in np.argsort(areas)[::-1][:count] if areas[i] >= max(min_area, 1)]
    return np.isin(labels, keep)


def lung_mask(image: npt.ArrayLike, options: LungMaskOptions = LungMaskOptions()) -> LungMask:
    """The lung mask of one grey scan ``(H, W)`` (uint8 or float in [0, 1])."""
    ndimage, filters, measure, morphology = _skimage()
    grey = np.asarray(image, dtype=np.float64)
    if grey.ndim != 2:
        raise InputError(f"expected a grey image (H, W), got shape {grey.shape}")
    if grey.max() > 1:
        grey = grey / 255.0
    smooth = filters.gaussian(grey, sigma=options.sigma)
    if np.ptp(smooth) < 1e-6:
        empty = np.zeros(grey.shape, dtype=bool)
        return LungMask(empty, empty, "empty")
    bright = smooth > filters.threshold_otsu(smooth)
    tissue = _largest(measure.label(bright), 1, 0)
    closed = ndimage.binary_fill_holes(tissue)
    hull = closed | morphology.convex_hull_image(bright)
    min_area = options.min_fraction * grey.size
    radius = max(1, round(options.opening * min(grey.shape)))
    dark_all = ndimage.binary_opening(~bright, morphology.disk(radius))
    thin = options.min_width * min(grey.shape)

    def lung_like(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.int_]:
        labels = measure.label(mask)
        for region in measure.regionprops(labels, intensity_image=grey):
            if region.axis_minor_length < thin or _is_outside_air(region, closed, options):
                labels[labels == region.label] = 0
        return labels

    seeds = _largest(lung_like(dark_all & hull), options.max_lungs, min_area)
    # a lung running off a crop continues past the hull, through lung-like dark regions only
    allowed = seeds | (lung_like(dark_all & ~hull) > 0)
    grown = measure.label(allowed)
    lungs = ndimage.binary_fill_holes(np.isin(grown, np.unique(grown[seeds])) & (grown > 0))
    status = "ok" if (lungs & ~closed).sum() == 0 else "hull"
    if not lungs.any():
        status = "empty"
    return LungMask(lungs.astype(bool), (closed | lungs).astype(bool), status)


def _is_outside_air(region: Any, closed: npt.NDArray[np.bool_], options: LungMaskOptions) -> bool:
    """A dark component that is not a hole of the closed chest wall and has a flat inside:
    the air around the patient or under the table (lungs show vessels and texture)."""
    top, left, bottom, right = region.bbox
    inside = closed[top:bottom, left:right][region.image].all()
    values = region.image_intensity[region.image]
    return bool(not inside and values.std() < options.air_texture)


def lung_masks(
    images: torch.Tensor, options: LungMaskOptions = LungMaskOptions(), progress: bool = False
) -> list[LungMask]:
    """:func:`lung_mask` of each grey image of a ``(B, H, W)`` batch."""
    return [
        lung_mask(image.cpu().numpy(), options)
        for image in tqdm(images, desc="lung masks", disable=not progress, leave=False)
    ]


def mass_share(maps: torch.Tensor, regions: torch.Tensor) -> torch.Tensor:
    """``sum(M * R) / sum(M)`` per image of maps ``(B, H, W)`` (or volumes ``(B, D, H, W)``)
    ``>= 0`` and boolean regions of the same shape; NaN for an all-zero map."""
    maps = maps.double().clamp_min(0)
    total = maps.flatten(1).sum(1)
    inside = (maps * regions.to(maps.device).double()).flatten(1).sum(1)
    return torch.where(total > 0, inside / total.clamp_min(1e-300), torch.nan)


def pointing_hits(maps: torch.Tensor, regions: torch.Tensor) -> torch.Tensor:
    """Whether each map's maximum (first one, row-major) lies inside its region."""
    flat = maps.flatten(1).argmax(1)
    return regions.flatten(1).to(maps.device).gather(1, flat[:, None])[:, 0]


def compute_method_maps(
    model: nn.Module,
    images: torch.Tensor,
    preprocessing: Preprocessing,
    methods: Sequence[str] = PAPER_MAPS,
    batch_size: int = 32,
    progress: bool = False,
) -> dict[str, torch.Tensor]:
    """Maps ``(B, H, W)`` of every method for grey uint8 ``images``, one explainer call per
    batch; the model's device is used."""
    device = next(model.parameters()).device
    chunks: dict[str, list[torch.Tensor]] = {m: [] for m in methods}
    with Explainer(model) as explainer:
        for batch in tqdm(images.split(batch_size), desc="maps", disable=not progress):
            result = explainer.explain(to_model_input(batch.to(device), preprocessing), methods)
            for method in methods:
                chunks[method].append(result.maps[method].detach().float().cpu())
    return {m: torch.cat(c) for m, c in chunks.items()}


def localisation_table(
    maps: dict[str, torch.Tensor],
    masks: Sequence[LungMask],
    model: str = "model",
    n_boot: int = 1000,
    seed: int = 0,
    ci: float = 0.95,
) -> LocalisationResult:
    """:class:`LocalisationResult` of precomputed ``maps`` against ``masks``; scans without
    a lung mask are left out (and counted)."""
    if not maps:
        raise InputError("no maps to localise")
    n_images = len(masks)
    keep = torch.tensor([m.status != "empty" for m in masks])
    if not keep.any():
        raise InputError(f"no lung mask was found in any of the {n_images} scans")
    lungs = torch.from_numpy(np.stack([m.lungs for m in masks]))[keep]
    body = torch.from_numpy(np.stack([m.body for m in masks]))[keep]
    chance = lungs.double().mean((1, 2))
    rows = []
    for method, method_maps in maps.items():
        if method_maps.shape[0] != n_images or method_maps.shape[1:] != lungs.shape[1:]:
            raise InputError(
                f"maps of {method!r} have shape {tuple(method_maps.shape)}, masks "
                f"{(n_images, *lungs.shape[1:])}"
            )
        kept = method_maps[keep]
        share = mass_share(kept, lungs).numpy()
        valid = np.isfinite(share)
        body_share = mass_share(kept, body).numpy()[valid]
        samples = _Samples(share[valid], chance.numpy()[valid], body_share)
        rows.append(_row(method, samples, kept[valid], lungs[valid], n_boot, seed, ci))
    status = {s: sum(m.status == s for m in masks) for s in MASK_STATUSES}
    result = LocalisationResult(model, int(lungs.shape[-1]), n_images, status, rows, n_boot, ci)
    result.notes = verdicts(rows)
    return result


@dataclass
class _Samples:
    """Per-scan values of one method (scans with a mask and a non-zero map)."""

    share: npt.NDArray[np.float64]
    chance: npt.NDArray[np.float64]
    body_share: npt.NDArray[np.float64]


def _row(
    method: str,
    samples: _Samples,
    maps: torch.Tensor,
    lungs: torch.Tensor,
    n_boot: int,
    seed: int,
    ci: float,
) -> LocalisationRow:
    share, n = samples.share, len(samples.share)
    if n == 0:  # every map of this method is zero (degenerate): nothing to measure
        nan = float("nan")
        return LocalisationRow(method, 0, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan)
    excess = share - samples.chance
    low = high = excess_low = excess_high = float("nan")
    if n_boot > 0:
        weights = bootstrap_weights(n, n_boot, seed)
        tail = [100 * (1 - ci) / 2, 100 - 100 * (1 - ci) / 2]
        low, high = (float(v) for v in np.percentile(weights @ share / n, tail))
        excess_low, excess_high = (float(v) for v in np.percentile(weights @ excess / n, tail))
    mean_share, mean_chance = float(share.mean()), float(samples.chance.mean())
    return LocalisationRow(
        method=method,
        n=n,
        lung_share=mean_share,
        ci_low=low,
        ci_high=high,
        chance=mean_chance,
        excess=float(excess.mean()),
        excess_low=excess_low,
        excess_high=excess_high,
        lift=mean_share / mean_chance if mean_chance > 0 else float("nan"),
        pointing=float(pointing_hits(maps, lungs).double().mean()),
        body_share=float(samples.body_share.mean()),
    )


def write_localisation(result: LocalisationResult, out_dir: str | Path) -> list[Path]:
    """``localisation.json``, ``.csv`` and ``.md`` in ``out_dir``."""
    out = Path(out_dir)
    stem = out / "localisation"
    return [
        atomic_write_json(stem.with_suffix(".json"), result.to_json()),
        atomic_write_text(
            stem.with_suffix(".csv"), rows_to_csv([r.to_json() for r in result.rows])
        ),
        atomic_write_text(stem.with_suffix(".md"), result.markdown()),
    ]


def sample_indices(n_images: int, count: int, seed: int = 0) -> list[int]:
    """``count`` scan indices drawn without replacement (sorted), for checking by eye."""
    rng = np.random.default_rng(seed)
    return sorted(int(i) for i in rng.choice(n_images, size=min(count, n_images), replace=False))


def save_mask_sample(
    images: torch.Tensor, masks: Sequence[LungMask], path: Path, count: int, seed: int = 0
) -> list[int]:
    """A PNG of ``count`` random scans with their lung and body masks (to check the masks by
    eye); the scans' indices."""
    chosen = sample_indices(len(masks), count, seed)
    figure = mask_grid(
        [images[i].numpy() for i in chosen],
        [masks[i].lungs for i in chosen],
        [masks[i].body for i in chosen],
        [f"#{i} {masks[i].status}" for i in chosen],
    )
    save_figure(path, figure, dpi=72)
    return chosen


@dataclass(frozen=True)
class LocalisationSettings:
    """How :func:`run_localisation` runs.

    Attributes:
        methods: the methods whose maps are measured.
        n_boot: bootstrap resamples of the intervals.
        grid: random scans shown with their masks in ``masks.png``.
        progress: show progress bars.
    """

    methods: tuple[str, ...] = PAPER_MAPS
    n_boot: int = 1000
    grid: int = 32
    progress: bool = False


def run_localisation(
    checkpoint: str | Path | None,
    out_dir: str | Path,
    *,
    split: str = "test",
    data_root: str | Path | None = None,
    limit: int | None = None,
    device: torch.device | str = "cpu",
    settings: LocalisationSettings | None = None,
) -> LocalisationResult:
    """Localisation table of a checkpoint on a split of COVID-CT.

    Writes ``localisation.{json,csv,md}`` and ``masks.png`` (random scans with their masks,
    to check by eye; ``masks_sample.json`` lists them) to ``out_dir``.

    Args:
        checkpoint: a checkpoint (``None``: the bundled model).
        out_dir: the output folder.
        split: ``train``, ``val`` or ``test``.
        data_root: the COVID-CT folder (or pack).
        limit: the first ``limit`` scans per class.
        device: where the model runs.
        settings: methods, bootstrap, grid, progress (default :class:`LocalisationSettings`).

    Returns:
        The localisation table.
    """
    settings = settings or LocalisationSettings()
    progress = settings.progress
    loaded = default_model() if checkpoint is None else load_checkpoint(checkpoint)
    name = "bundled model" if checkpoint is None else Path(checkpoint).name
    preprocessing = loaded.meta.preprocessing
    images, labels = load_split(split, preprocessing.size, data_root, progress)
    if limit is not None:
        keep = first_per_class(labels, limit, len(CLASSES))
        images = images[keep]
    masks = lung_masks(images, progress=progress)
    model = loaded.model.to(device)
    maps = compute_method_maps(model, images, preprocessing, settings.methods, progress=progress)
    result = localisation_table(maps, masks, f"{name} ({loaded.meta.arch})", n_boot=settings.n_boot)
    out = Path(out_dir)
    write_localisation(result, out)
    chosen = save_mask_sample(images, masks, out / "masks.png", settings.grid)
    atomic_write_json(
        out / "masks_sample.json",
        {"split": split, "indices": chosen, "statuses": result.mask_status},
    )
    return result
