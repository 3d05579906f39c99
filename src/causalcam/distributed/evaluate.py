"""Threshold deletion/insertion and RISE over several processes: the test images are sharded.

Every per-image result of a :class:`~causalcam.evaluate.Curve` (correct flags, Huffman
bits) depends on that image alone, so each rank evaluates its chunks of images with
:func:`~causalcam.evaluate.evaluate_maps` and the curves are joined along the image
axis in the original order. Chunks hold :data:`CHUNK` images (a multiple of the map batch),
so maps are computed over the same batches as in a single process. Chunk markers live under
``out_dir/sharded/<job>/`` and serve as the cache of a rerun.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..evaluate.rise import RiseResult, RiseSettings, rise_auc
from ..evaluate.settings import EvaluationSettings
from ..evaluate.store import digest_of, model_fingerprint, tensor_fingerprint
from ..evaluate.threshold import Curve, evaluate_maps
from ..network import Network, as_network
from .context import Context, current
from .shards import Chunk, ShardedJob, preferred_chunk, run_sharded

CHUNK = 64


def sharded_evaluate_maps(
    models: Mapping[str, Network | nn.Module | Any],
    maps: Mapping[str, torch.Tensor],
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    source: str,
    settings: EvaluationSettings | None = None,
    cache_keys: Mapping[str, Any] | None = None,
) -> list[Curve]:
    """:func:`~causalcam.evaluate.evaluate_maps` with the images shared among the ranks of
    the running launch (a single process runs it unchanged).

    Every rank holds all ``maps`` and scores its chunks; ``cache_keys`` (how each method's
    maps were made) and the settings identify the job, so the ranks must agree on them.
    Every rank returns the full curves.
    """
    ctx = current()
    settings = settings or EvaluationSettings()
    if not ctx.distributed:
        return evaluate_maps(
            models, maps, images, labels, source=source, settings=settings, cache_keys=cache_keys
        )
    networks = {name: as_network(model) for name, model in models.items()}
    quiet = settings.replace(out_dir=None, progress=False)
    keys = dict(cache_keys or {})

    def chunk_curves(chunk: range) -> list[Curve]:
        part = slice(chunk.start, chunk.stop)
        return evaluate_maps(
            networks,
            {method: values[part] for method, values in maps.items()},
            images[part],
            labels[part],
            source=source,
            settings=quiet,
            cache_keys=keys,
        )

    identity = {**settings.identity(), "source": source, "keys": keys, "methods": list(maps)}
    return sharded_curves(
        ctx,
        networks,
        images,
        labels,
        identity,
        chunk_curves,
        out_dir=settings.out_dir,
        progress=settings.progress,
    )


def sharded_rise_auc(
    model: Network | nn.Module | Any,
    images: torch.Tensor,
    maps: torch.Tensor,
    *,
    maps_key: Any,
    out_dir: str | Path | None = None,
    settings: RiseSettings | None = None,
) -> RiseResult:
    """:func:`~causalcam.evaluate.rise_auc` with the images shared among the ranks of the
    running launch (per-image curves joined in image order on every rank). ``maps_key``
    (JSON: how the maps were made) and the settings identify the job; the ranks must agree
    on them. Chunk markers live under ``out_dir``."""
    ctx = current()
    settings = settings or RiseSettings()
    if not ctx.distributed:
        return rise_auc(model, images, maps, settings=settings)
    network = as_network(model)
    hashes = {
        "test images": tensor_fingerprint(images),
        "model": model_fingerprint(network.model),
        "options": digest_of({**settings.identity(), "maps": maps_key, "rise": True}),
    }
    job = _image_job(ctx, images, hashes, out_dir)
    quiet = dataclasses.replace(settings, progress=False)

    def work(chunks: Sequence[Chunk]) -> Iterator[tuple[int, Any]]:
        for chunk_id, chunk in chunks:
            part = slice(chunk.start, chunk.stop)
            result = rise_auc(network, images[part], maps[part], settings=quiet)
            yield (
                chunk_id,
                {
                    "fractions": result.fractions.tolist(),
                    "deletion": result.deletion.tolist(),
                    "insertion": result.insertion.tolist(),
                },
            )

    parts, _ = run_sharded(ctx, job, work, progress=settings.progress)
    return RiseResult(
        np.asarray(parts[0]["fractions"]),
        np.concatenate([np.asarray(p["deletion"]) for p in parts]),
        np.concatenate([np.asarray(p["insertion"]) for p in parts]),
    )


def _image_job(
    ctx: Context, images: torch.Tensor, hashes: Mapping[str, str], out_dir: str | Path | None
) -> ShardedJob:
    """The test images in chunks of :data:`CHUNK` (fewer where every rank needs one), their
    markers under ``out_dir/sharded/<job>``."""
    return ShardedJob(
        n_items=int(images.shape[0]),
        chunk_size=preferred_chunk(int(images.shape[0]), ctx.world_size, CHUNK),
        hashes=hashes,
        marker_dir=Path(out_dir) / "sharded" / digest_of(hashes) if out_dir else None,
        what="test images",
    )


def sharded_curves(
    ctx: Context,
    networks: Mapping[str, Network],
    images: torch.Tensor,
    labels: torch.Tensor,
    options: Mapping[str, Any],
    chunk_curves: Callable[[range], list[Curve]],
    *,
    out_dir: str | Path | None = None,
    progress: bool = True,
) -> list[Curve]:
    """Curves over the test images, each rank running ``chunk_curves(image range)`` on its
    chunks (any evaluation whose per-image results depend on that image alone, e.g.
    ``evaluate_maps`` of maps explained on the chunk); joined in image order on every rank.
    ``options`` (JSON-ready) with the images and the networks' weights identify the job."""
    hashes = {
        "test images": tensor_fingerprint(images, labels),
        "model": digest_of({name: model_fingerprint(n.model) for name, n in networks.items()}),
        "options": digest_of(
            {
                **dict(options),
                "preprocessing": {n: net.preprocessing.to_dict() for n, net in networks.items()},
            }
        ),
    }
    job = _image_job(ctx, images, hashes, out_dir)

    def work(chunks: Sequence[Chunk]) -> Iterator[tuple[int, Any]]:
        for chunk_id, chunk in chunks:
            yield chunk_id, [curve.to_json() for curve in chunk_curves(chunk)]

    results, _ = run_sharded(ctx, job, work, progress=progress)
    return join_curves([[Curve.from_json(c) for c in result] for result in results])


def join_curves(parts: Sequence[Sequence[Curve]]) -> list[Curve]:
    """Curves of consecutive image chunks joined along the image axis (same curve order)."""
    joined = []
    for pieces in zip(*parts, strict=True):
        first = pieces[0]
        for piece in pieces[1:]:
            same = (piece.source, piece.method, piece.target, piece.mode)
            if same != (first.source, first.method, first.target, first.mode) or not (
                np.array_equal(piece.thresholds, first.thresholds)
            ):
                raise RuntimeError(f"chunks disagree on curve {same}: cannot join them")
        joined.append(
            Curve(
                first.source,
                first.method,
                first.target,
                first.mode,
                first.thresholds,
                np.concatenate([p.correct for p in pieces], axis=1),
                np.concatenate([p.bits for p in pieces], axis=1),
                np.concatenate([p.original_bits for p in pieces]),
            )
        )
    return joined
