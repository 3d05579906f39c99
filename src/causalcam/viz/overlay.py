"""Heat-map overlays: explanation maps in a perceptual colour map over grey scans or colour
images.

Maps are drawn with a perceptually uniform colour map (``inferno`` by default), so equal
steps in map value look like equal steps in colour, and the scale is always [0, 1]
(maps are min-max normalised by the engine), so colours mean the same in every image.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import matplotlib as mpl
import numpy as np
import numpy.typing as npt
import torch
from PIL import Image

from .._io import atomic_write_bytes
from ..errors import InputError

DEFAULT_CMAP = "inferno"

ArrayLike = npt.NDArray[np.generic] | torch.Tensor


def as_grey_uint8(image: ArrayLike) -> npt.NDArray[np.uint8]:
    """Return a grey image ``(H, W)`` as uint8; floats are read as values in [0, 1]."""
    array = _to_numpy(image)
    if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[-1] not in (1, 3):
        array = array[0]
    elif array.ndim == 3 and array.shape[-1] in (1, 3):
        array = array[..., 0]
    if array.ndim != 2:
        raise InputError(f"expected a grey image of shape (H, W), got shape {array.shape}")
    if array.dtype == np.uint8:
        return array.astype(np.uint8, copy=False)
    return (np.clip(array.astype(np.float64), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def as_image_uint8(image: ArrayLike) -> npt.NDArray[np.uint8]:
    """Return a colour image ``(H, W, 3)`` (or ``(3, H, W)``) as uint8 ``(H, W, 3)`` and any
    other image as grey uint8 ``(H, W)`` (:func:`as_grey_uint8`)."""
    array = _to_numpy(image)
    if array.ndim == 3 and array.shape[0] == 3 and array.shape[-1] != 3:
        array = array.transpose(1, 2, 0)
    if array.ndim != 3 or array.shape[-1] != 3:
        return as_grey_uint8(array)
    if array.dtype == np.uint8:
        return np.ascontiguousarray(array)
    return (np.clip(array.astype(np.float64), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def as_unit_map(saliency: ArrayLike) -> npt.NDArray[np.float32]:
    """Return a map ``(H, W)`` as float32 clipped to [0, 1] (NaN becomes 0)."""
    array = _to_numpy(saliency).astype(np.float32)
    if array.ndim != 2:
        raise InputError(f"expected a map of shape (H, W), got shape {array.shape}")
    return np.clip(np.nan_to_num(array, nan=0.0), 0.0, 1.0)


def colorize(saliency: ArrayLike, cmap: str = DEFAULT_CMAP) -> npt.NDArray[np.uint8]:
    """Map values in [0, 1] to RGB ``(H, W, 3)`` uint8 through the colour map ``cmap``."""
    colours = _colormap(cmap)(as_unit_map(saliency))[..., :3]
    return (colours * 255.0 + 0.5).astype(np.uint8)


def overlay(
    image: ArrayLike,
    saliency: ArrayLike,
    alpha: float = 0.55,
    cmap: str = DEFAULT_CMAP,
) -> npt.NDArray[np.uint8]:
    """Blend a map over a grey scan or a colour image: ``rgb = (1 - a) * image + a * cmap(map)``.

    The blend weight grows with the map, ``a = alpha * (0.3 + 0.7 * map)``, so the anatomy
    stays readable where the map is low and the explanation dominates where it is high.
    ``image`` and ``saliency`` must have the same size.
    """
    if not 0.0 <= alpha <= 1.0:
        raise InputError(f"overlay alpha must be in [0, 1], got {alpha}")
    base = as_image_uint8(image).astype(np.float32)
    values = as_unit_map(saliency)
    if base.shape[:2] != values.shape:
        raise InputError(f"image of shape {base.shape} and map of shape {values.shape} differ")
    heat = colorize(values, cmap).astype(np.float32)
    weight = (alpha * (0.3 + 0.7 * values))[..., None]
    blended = (1.0 - weight) * (base if base.ndim == 3 else base[..., None]) + weight * heat
    return np.clip(blended + 0.5, 0, 255).astype(np.uint8)


def png_bytes(rgb_or_grey: npt.NDArray[np.uint8]) -> bytes:
    """Encode a uint8 ``(H, W)`` or ``(H, W, 3)`` array as PNG bytes."""
    buffer = io.BytesIO()
    Image.fromarray(rgb_or_grey).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def save_overlay(
    path: str | os.PathLike[str],
    image: ArrayLike,
    saliency: ArrayLike,
    alpha: float = 0.55,
    cmap: str = DEFAULT_CMAP,
) -> Path:
    """Write :func:`overlay` of ``saliency`` on ``image`` to ``path`` (PNG, atomic)."""
    return atomic_write_bytes(path, png_bytes(overlay(image, saliency, alpha=alpha, cmap=cmap)))


def _colormap(name: str) -> mpl.colors.Colormap:
    try:
        return mpl.colormaps[name]
    except KeyError as error:
        raise InputError(f"unknown matplotlib colour map {name!r}") from error


def _to_numpy(value: ArrayLike) -> npt.NDArray[np.generic]:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)
