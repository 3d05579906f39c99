"""Exact Huffman code lengths of 8-bit grey images (paper Sec. 4.1, docs/method.md).

``bits(x) = sum_v count_v(x) * len_v`` where ``len_v`` is the length of symbol ``v``'s code
in the Huffman code built from ``x``'s own histogram. The total never needs the codes:
it equals the sum of the weights of all internal nodes created while merging
(every merge adds one bit to each pixel below it). A one-symbol image costs 1 bit per
pixel (the shortest prefix code), an empty image 0 bits.

Everything is vectorised over a batch of histograms with the two-queue construction:
leaves sorted ascending in one queue, merged nodes (created in non-decreasing order) in
a second, so each merge step is a handful of array operations over the whole batch.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import InputError

LEVELS = 256


def huffman_bits_from_histograms(histograms: np.ndarray) -> np.ndarray:
    """Huffman code length in bits for each row of ``histograms`` (``(..., S)`` counts).

    ``bits = sum of internal node weights`` of the Huffman tree of the non-zero counts
    (equivalently ``sum_v count_v * codelength_v``); one non-zero symbol -> its count.

    Args:
        histograms: non-negative symbol counts, shape ``(..., S)``.

    Returns:
        The bits of each histogram, int64 of shape ``(...)``.

    Raises:
        InputError: a negative count or a 0-d array.
    """
    counts = np.asarray(histograms)
    if counts.ndim == 0 or np.any(counts < 0):
        raise InputError("histograms must be non-negative counts of shape (..., symbols)")
    shape = counts.shape[:-1]
    flat = counts.reshape(-1, counts.shape[-1]).astype(np.int64)
    present = flat > 0
    n_symbols = present.sum(axis=1)
    total = _merge_cost(flat, present)
    single = n_symbols == 1
    total[single] = flat[single].sum(axis=1)
    return total.reshape(shape)


def _merge_cost(flat: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Sum of merged weights of the Huffman tree of each row (two-queue method).

    Queue 1: the row's non-zero counts sorted ascending (then +inf padding); queue 2: merged
    nodes in creation order (non-decreasing). Each step pops the two smallest heads and
    appends their sum. Queues are stored position-major (``[position, row]``) so the heads of
    all rows sit close together in memory; rows with fewer symbols finish early and from then
    on only merge infinities. float32 is exact while every row totals below 2**24 pixels.
    """
    rows = flat.shape[0]
    width = int(present.sum(axis=1).max(initial=0))
    if width < 2:
        return np.zeros(rows, dtype=np.int64)
    dtype = np.float32 if int(flat.sum(axis=1).max()) < 2**24 else np.float64
    absent = np.iinfo(np.int64).max
    ordered = np.sort(np.where(present, flat, absent), axis=1)[:, :width]
    leaves = np.full((2 * width, rows), np.inf, dtype=dtype)  # a head moves <= 2 per step
    leaves[:width] = np.where(ordered == absent, np.inf, ordered).T
    merged = np.full((width, rows), np.inf, dtype=dtype)
    leaf_flat, merged_flat = leaves.ravel(), merged.ravel()
    leaf_pos = np.arange(rows, dtype=np.int64)
    node_pos = leaf_pos.copy()
    for step in range(width - 1):
        first = _pop_smallest(leaf_flat, merged_flat, leaf_pos, node_pos, rows)
        second = _pop_smallest(leaf_flat, merged_flat, leaf_pos, node_pos, rows)
        np.add(first, second, out=merged[step])
    merged[~np.isfinite(merged)] = 0
    return merged.sum(axis=0, dtype=np.float64).astype(np.int64)


def _pop_smallest(
    leaves: np.ndarray, merged: np.ndarray, leaf_pos: np.ndarray, node_pos: np.ndarray, rows: int
) -> np.ndarray:
    """Take the smaller head of the two queues per row and advance that queue (in place);
    positions are flat indices into the position-major queues (one step = ``rows``)."""
    leaf = leaves.take(leaf_pos)
    node = merged.take(node_pos)
    take_leaf = leaf <= node
    leaf_pos += take_leaf * rows
    node_pos += ~take_leaf * rows
    return np.where(take_leaf, leaf, node)


def _as_uint8_numpy(images: np.ndarray | torch.Tensor) -> np.ndarray:
    array = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else images
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise InputError(f"huffman_bits expects uint8 grey images, got dtype {array.dtype}")
    if array.ndim != 3:
        raise InputError(f"huffman_bits expects images of shape (B, H, W), got {array.shape}")
    return array


def grey_histograms(images: np.ndarray | torch.Tensor) -> np.ndarray:
    """Histogram of each uint8 image ``(B, H, W)`` -> int64 ``(B, 256)``.

    One ``bincount`` per image: on uint8 input this is faster than a single bincount over
    offset int64 indices, and needs no large temporary array.
    """
    array = _as_uint8_numpy(images)
    flat = array.reshape(array.shape[0], -1)
    out = np.empty((array.shape[0], LEVELS), dtype=np.int64)
    for row, pixels in enumerate(flat):
        out[row] = np.bincount(pixels, minlength=LEVELS)
    return out


def huffman_bits(images: np.ndarray | torch.Tensor) -> np.ndarray:
    """Exact Huffman code length of each grey image.

    Args:
        images: uint8 grey images ``(B, H, W)`` (numpy or torch).

    Returns:
        The bits of each image, int64 of shape ``(B,)``.
    """
    return huffman_bits_from_histograms(grey_histograms(images))


def huffman_ratio(
    masked: np.ndarray | torch.Tensor, original: np.ndarray | torch.Tensor
) -> np.ndarray:
    """Per-image Huffman ratio ``H = bits(masked) / bits(original)``.

    Args:
        masked: uint8 grey masked images ``(B, H, W)``.
        original: the uint8 grey images they were masked from, ``(B, H, W)``.

    Returns:
        ``H`` of each image, float64 of shape ``(B,)``.

    Raises:
        InputError: the two batches differ in size.
    """
    masked_bits = huffman_bits(masked)
    original_bits = huffman_bits(original)
    if masked_bits.shape != original_bits.shape:
        raise InputError(
            f"masked and original batches differ in size: {masked_bits.shape[0]} "
            f"vs {original_bits.shape[0]}"
        )
    return masked_bits / np.maximum(original_bits, 1)


def threshold_levels(maps: torch.Tensor, thresholds: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Number of thresholds strictly below each map value: ``k = #{j : tau_j < m}`` (int64).

    A pixel is kept by deletion at ``tau_j`` iff ``m > tau_j`` iff ``j < k``; insertion keeps
    it iff ``j >= k``. ``m > tau`` is decided exactly as in float64; for float32 maps it is
    computed in float32 against the largest float32 ``<= tau`` (same answer, half the memory
    traffic). ``thresholds`` must be sorted ascending.
    """
    taus = np.asarray(thresholds, dtype=np.float64)
    if maps.dtype != torch.float32:
        return torch.bucketize(maps.double(), torch.as_tensor(taus, device=maps.device))
    below = taus.astype(np.float32)
    too_big = below.astype(np.float64) > taus
    below[too_big] = np.nextafter(below[too_big], np.float32(-np.inf))
    return torch.bucketize(maps, torch.as_tensor(below, device=maps.device))


def masked_histograms(
    images: np.ndarray | torch.Tensor, levels: torch.Tensor, n_thresholds: int, mode: str
) -> np.ndarray:
    """Histograms ``(B, T, 256)`` of ``mask(tau_j) * image`` for every threshold at once.

    One bincount per image over ``(level k, grey value)`` gives the histogram of the pixels
    in each threshold band; cumulative sums over bands give the kept pixels for every ``tau_j``;
    removed pixels are added to symbol 0. ``levels`` from :func:`threshold_levels`.
    """
    if mode not in ("deletion", "insertion"):
        raise InputError(f"mode must be 'deletion' or 'insertion', got {mode!r}")
    array = _as_uint8_numpy(images)
    batch = array.shape[0]
    level_array = levels.detach().cpu().numpy().reshape(batch, -1)
    flat = array.reshape(batch, -1)
    if level_array.shape != flat.shape:
        raise InputError(f"levels shape {tuple(levels.shape)} does not match images {array.shape}")
    bands = n_thresholds + 1
    band_hist = np.empty((batch, bands, LEVELS), dtype=np.int64)
    for row in range(batch):  # one small bincount per image stays in cache
        index = level_array[row].astype(np.intp) * LEVELS + flat[row]
        band_hist[row] = np.bincount(index, minlength=bands * LEVELS).reshape(bands, LEVELS)
    if mode == "deletion":  # kept at tau_j: bands k > j
        kept = np.cumsum(band_hist[:, ::-1], axis=1)[:, ::-1][:, 1:]
    else:  # insertion, kept at tau_j: bands k <= j
        kept = np.cumsum(band_hist, axis=1)[:, :-1]
    kept = np.ascontiguousarray(kept)
    kept[:, :, 0] += flat.shape[1] - kept.sum(axis=2)
    return kept


def masked_bits(
    images: np.ndarray | torch.Tensor,
    maps: torch.Tensor | None,
    thresholds: np.ndarray | torch.Tensor,
    mode: str,
    *,
    levels: torch.Tensor | None = None,
) -> np.ndarray:
    """Huffman bits of ``mask(tau) * image`` at every threshold, without building any masked
    image.

    Args:
        images: uint8 grey images ``(B, H, W)``.
        maps: maps ``(B, H, W)`` in [0, 1] (None when ``levels`` is given).
        thresholds: sorted thresholds ``(T,)`` in [0, 1].
        mode: ``"deletion"`` (keep the pixels whose map exceeds tau) or ``"insertion"``
            (remove them).
        levels: precomputed :func:`threshold_levels` of ``maps``, to skip bucketing.

    Returns:
        The bits, int64 of shape ``(T, B)``.

    Raises:
        InputError: neither ``maps`` nor ``levels`` is given.
    """
    if levels is None:
        if maps is None:
            raise InputError("masked_bits needs maps or precomputed levels")
        levels = threshold_levels(maps, thresholds)
    histograms = masked_histograms(images, levels, len(thresholds), mode)
    return huffman_bits_from_histograms(histograms).T.copy()
