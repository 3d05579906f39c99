"""ROAD's noisy linear imputation (Rong et al. 2022), built vectorised and solved in batches.

A removed pixel ``i`` takes the weighted mean of its eight neighbours inside the image
(weight 1/6 for the four direct neighbours, 1/12 for the diagonals): with ``U`` the removed
pixels and ``K`` the kept ones,

    sum_{j in N(i)} w_ij x_i - sum_{j in N(i) & U} w_ij x_j = sum_{j in N(i) & K} w_ij v_j,

one sparse linear system per image and the same matrix for every channel (the right-hand
side has one column per channel). The systems of a batch of images are stacked into one
block-diagonal matrix and solved by one sparse LU factorisation (scipy's SuperLU on a
minimum-degree ordering, without pivoting: the matrix is symmetric and diagonally
dominant). With ``noise > 0`` the imputed values get Gaussian noise of that standard
deviation from a seeded generator. An image with no kept pixel becomes zeros (plus noise),
as grad-cam's solve of its singular system returns.

grad-cam 1.5.7 (``pytorch_grad_cam.metrics.road.NoisyLinearImputer``) builds the same system
entry by entry in a ``lil_matrix`` and solves each image alone; with ``noise=0`` the two
agree within 1e-4 (float32 results of the same float64 solve).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import torch
from torch import Tensor

from ..errors import InputError
from ..extras import require

#: (row offset, column offset, weight) of the eight neighbours, as in ROAD.
NEIGHBOUR_WEIGHTS: Final[tuple[tuple[int, int, float], ...]] = (
    (1, 1, 1 / 12),
    (0, 1, 1 / 6),
    (-1, 1, 1 / 12),
    (1, -1, 1 / 12),
    (0, -1, 1 / 6),
    (-1, -1, 1 / 12),
    (1, 0, 1 / 6),
    (-1, 0, 1 / 6),
)
#: ROAD's default noise (standard deviation, in input units).
ROAD_NOISE: Final = 0.01


def _system(
    keep: np.ndarray, image: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One image's system: COO rows, columns and values, the right-hand side (n, C) and the
    flat indices of the removed pixels. ``keep`` (H, W) bool, ``image`` (C, H, W) float64."""
    height, width = keep.shape
    flat_keep = keep.reshape(-1)
    values = image.reshape(image.shape[0], -1)
    removed = np.flatnonzero(~flat_keep)
    variable = np.full(flat_keep.size, -1, dtype=np.int64)
    variable[removed] = np.arange(removed.size)
    row0, col0 = np.divmod(removed, width)
    rhs = np.zeros((removed.size, image.shape[0]))
    if removed.size == flat_keep.size:  # nothing kept: zeros, the solution grad-cam's solve gives
        index = np.arange(removed.size)
        return index, index, np.ones(removed.size), rhs, removed
    diagonal = np.zeros(removed.size)
    rows, cols, vals = [], [], []
    for dr, dc, weight in NEIGHBOUR_WEIGHTS:
        r, c = row0 + dr, col0 + dc
        inside = (r >= 0) & (r < height) & (c >= 0) & (c < width)
        diagonal[inside] += weight
        ids = np.flatnonzero(inside)
        neighbour = r[inside] * width + c[inside]
        known = flat_keep[neighbour]
        rhs[ids[known]] -= weight * values[:, neighbour[known]].T
        rows.append(ids[~known])
        cols.append(variable[neighbour[~known]])
        vals.append(np.full(int((~known).sum()), weight))
    index = np.arange(removed.size)
    rows.append(index)
    cols.append(index)
    vals.append(-diagonal)
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(vals), rhs, removed


def impute(
    images: Tensor,
    keep: Tensor,
    noise: float = ROAD_NOISE,
    seed: int = 0,
    batch_size: int = 16,
) -> Tensor:
    """Images (B, C, H, W) with the pixels where ``keep`` (B, H, W) is False replaced by the
    noisy linear imputation of the kept ones; ``batch_size`` images share one sparse solve.
    Returns float32 on ``images``' device; noise from ``torch.Generator`` seeded ``seed``."""
    sparse = require("scipy.sparse", "ROAD's imputation")
    linalg = require("scipy.sparse.linalg", "ROAD's imputation")
    if images.ndim != 4 or keep.shape != (images.shape[0], *images.shape[2:]):
        raise InputError(
            f"imputation needs images (B, C, H, W) and masks (B, H, W) of the same size, got "
            f"{tuple(images.shape)} and {tuple(keep.shape)}"
        )
    pixels = images.detach().cpu().to(torch.float64).numpy()
    masks = keep.detach().cpu().numpy().astype(bool)
    out = images.detach().cpu().to(torch.float32).clone()
    flat = out.view(out.shape[0], out.shape[1], -1)
    generator = torch.Generator().manual_seed(seed)
    for start in range(0, len(pixels), batch_size):
        systems = [
            _system(masks[b], pixels[b]) for b in range(start, min(start + batch_size, len(pixels)))
        ]
        sizes = [s[4].size for s in systems]
        if sum(sizes) == 0:
            continue
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        rows = np.concatenate([s[0] + o for s, o in zip(systems, offsets, strict=True)])
        cols = np.concatenate([s[1] + o for s, o in zip(systems, offsets, strict=True)])
        vals = np.concatenate([s[2] for s in systems])
        total = int(sum(sizes))
        matrix = sparse.csc_matrix((vals, (rows, cols)), shape=(total, total))
        rhs = np.concatenate([s[3] for s in systems])
        # The matrix is symmetric and diagonally dominant: LU without pivoting on a
        # minimum-degree ordering of A^T + A (about twice as fast as spsolve's default).
        factor = linalg.splu(
            matrix,
            permc_spec="MMD_AT_PLUS_A",
            diag_pivot_thresh=0.0,
            options={"SymmetricMode": True},
        )
        solution = factor.solve(rhs).reshape(total, -1)
        filled = torch.from_numpy(solution).to(torch.float32)
        for (_, _, _, _, removed), offset, size, b in zip(
            systems, offsets, sizes, range(start, start + len(systems)), strict=True
        ):
            values = filled[offset : offset + size].T
            if noise:
                values = values + noise * torch.randn(values.shape, generator=generator)
            flat[b][:, torch.from_numpy(removed)] = values
    return out.to(images.device)
