"""Deterministic sharding of an ordered item list and a resumable, sharded job runner.

The items (image files, test images) are cut into contiguous chunks whose layout depends
only on the item count and the chunk size. Every rank computes the same plan: rank 0 reads
which chunks a previous attempt already finished (their marker files, written atomically
through :class:`~causalcam.evaluate.store.ResultStore`) and broadcasts the rest, which is
split into contiguous, near-equal shards, one per rank. A rank writes a chunk's marker as
soon as the chunk is done, so a killed rank loses at most its current chunk, and a rerun
(or torchrun's ``--max-restarts``) shares only the unfinished chunks among the ranks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from ..errors import InputError
from ..evaluate.store import ResultStore, digest_of
from .context import Context, check_agreement

Chunk = tuple[int, range]
ChunkWork = Callable[[Sequence[Chunk]], Iterator[tuple[int, Any]]]


def shard_indices(n_items: int, rank: int, world_size: int, strided: bool = False) -> list[int]:
    """Indices of rank ``rank``'s shard of ``n_items``: contiguous blocks whose sizes differ
    by at most one (ranks in order), or every ``world_size``-th item (``strided``)."""
    if world_size < 1 or not 0 <= rank < world_size:
        raise InputError(f"rank {rank} is not in a world of {world_size} process(es)")
    if strided:
        return list(range(rank, n_items, world_size))
    return list(range(rank * n_items // world_size, (rank + 1) * n_items // world_size))


def chunk_ranges(n_items: int, chunk_size: int) -> list[range]:
    """Contiguous chunks of ``chunk_size`` items (the last one shorter) covering ``n_items``."""
    if chunk_size < 1:
        raise InputError(f"chunk size must be >= 1, got {chunk_size}")
    return [
        range(start, min(start + chunk_size, n_items)) for start in range(0, n_items, chunk_size)
    ]


def check_enough_items(n_items: int, world_size: int, what: str) -> None:
    """Every process must get at least one item."""
    if n_items < world_size:
        raise InputError(
            f"{world_size} processes for {n_items} {what}: {world_size - n_items} process(es) "
            f"would get nothing to do; start at most {n_items} (torchrun --nproc_per_node)"
        )


@dataclass(frozen=True)
class ShardedJob:
    """One sharded piece of work: its items, chunking, identity and marker folder.

    ``hashes`` (inputs, model, options) must agree on every rank; together with each chunk's
    bounds they key the chunk markers under ``marker_dir`` (``None``: markers in memory).
    """

    n_items: int
    chunk_size: int
    hashes: Mapping[str, str]
    marker_dir: Path | None
    what: str = "items"

    def chunks(self) -> list[range]:
        return chunk_ranges(self.n_items, self.chunk_size)

    def marker_key(self, chunk: range) -> str:
        return digest_of({"job": dict(self.hashes), "chunk": [chunk.start, chunk.stop]})


@dataclass(frozen=True)
class ShardReport:
    """How a sharded job went: chunks in all, reused from markers, computed by each rank."""

    chunks: int
    reused: int
    computed: tuple[int, ...]

    def line(self) -> str:
        share = ", ".join(f"rank {r}: {n}" for r, n in enumerate(self.computed))
        return f"{self.chunks} chunk(s): {self.reused} already finished; computed {share}"


def preferred_chunk(n_items: int, world_size: int, largest: int) -> int:
    """``largest`` unless the items are too few to give every rank a chunk."""
    return max(1, min(largest, math.ceil(n_items / world_size)))


def plan(unfinished: Sequence[int], world_size: int) -> list[list[int]]:
    """Contiguous, near-equal shares of the unfinished chunk ids, one per rank."""
    count = len(unfinished)
    return [
        list(unfinished[r * count // world_size : (r + 1) * count // world_size])
        for r in range(world_size)
    ]


def run_sharded(
    ctx: Context, job: ShardedJob, work: ChunkWork, *, progress: bool = False
) -> tuple[list[Any], ShardReport]:
    """Run ``work`` on this rank's share of the unfinished chunks; every chunk's result in
    chunk order (on every rank) and a :class:`ShardReport`.

    ``work(chunks)`` receives ``(chunk_id, range)`` pairs and yields ``(chunk_id, result)``
    as each chunk is done (results are JSON-serialisable; each is stored as a marker).
    """
    check_enough_items(job.n_items, ctx.world_size, job.what)
    check_agreement(ctx, **job.hashes)
    chunks = job.chunks()
    store = ResultStore(job.marker_dir)
    finished: dict[int, Any] = {}
    if ctx.is_main:
        finished = _load_finished(store, job, chunks)
    unfinished = ctx.broadcast([c for c in range(len(chunks)) if c not in finished])
    mine = plan(unfinished, ctx.world_size)[ctx.rank]
    done: dict[int, Any] = {}
    with tqdm(
        total=sum(len(chunks[c]) for c in mine),
        desc=f"rank {ctx.rank}" if ctx.distributed else "chunks",
        unit=job.what.split()[-1],
        disable=not (progress and ctx.is_main),
    ) as bar:
        for chunk_id, result in work([(c, chunks[c]) for c in mine]):
            store.save_json(
                "chunks", (f"{chunk_id:06d}",), job.marker_key(chunks[chunk_id]), result
            )
            done[chunk_id] = result
            bar.update(len(chunks[chunk_id]))
    missing = sorted(set(mine) - set(done))
    if missing:
        raise RuntimeError(f"rank {ctx.rank}: the work skipped chunk(s) {missing}")
    gathered = ctx.all_gather({"finished": finished, "done": done})
    merged = {c: r for part in gathered for key in part for c, r in part[key].items()}
    computed = tuple(len(part["done"]) for part in gathered)
    report = ShardReport(len(chunks), len(finished), computed)
    return [merged[c] for c in range(len(chunks))], report


def _load_finished(store: ResultStore, job: ShardedJob, chunks: Iterable[range]) -> dict[int, Any]:
    found = {}
    for chunk_id, chunk in enumerate(chunks):
        stored = store.load_json("chunks", (f"{chunk_id:06d}",), job.marker_key(chunk))
        if stored is not None:
            found[chunk_id] = stored
    return found
