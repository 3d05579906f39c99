"""``causalcam explain`` over several processes: each rank explains its share of the files.

The file list, output folder names, batches and per-image outputs are those of
:func:`causalcam.explain_files.explain_files`; a DataLoader decodes and preprocesses the next batch
while the model explains the current one (workers: ``$CAUSALCAM_WORKERS``, default from the
CPUs per process; pinned memory on CUDA). Each rank writes its images' panels, overlays and
maps, rank 0 writes ``explanations.json`` with every image's entry in the single-process order.
A chunk is one batch; its JSON records are kept as a marker until the run has finished.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from .. import models
from .._io import atomic_write_json
from ..core import eval_mode
from ..disclaimer import research_notice
from ..errors import InputError
from ..evaluate.store import digest_of, model_fingerprint
from ..explain import CausalOptions, Explainer
from ..explain_files import (
    _BATCH,
    DEFAULT_METHODS,
    ExplainRun,
    ModelSource,
    _Output,
    _summary,
    _unique_name,
    _write_one,
    check_methods,
    model_sized,
    parse_contrast_class,
)
from ..inputs import Inputs, Reading, Skipped, gather
from ..preprocess import to_model_input
from .context import Context, current
from .shards import Chunk, ShardedJob, ShardReport, preferred_chunk, run_sharded

NEAR_TIE = 1e-4
MARKERS = ".causalcam-dist"
WORKERS_VARIABLE = "CAUSALCAM_WORKERS"


@dataclass
class ShardedExplainRun(ExplainRun):
    """An :class:`ExplainRun` and how the sharding went; ``near_ties`` lists the images whose
    two top logits differ by less than :data:`NEAR_TIE` (their prediction may differ from a
    run with another process count or batch layout)."""

    report: ShardReport | None = None
    near_ties: list[dict[str, Any]] = field(default_factory=list)


_Decoding = tuple[int, torch.Tensor | None, dict[str, Any], list[Skipped]]


class _Decoded(Dataset[_Decoding]):
    """Input ``i`` decoded and preprocessed to uint8 ``(size, size)`` with its JSON facts, or
    ``None`` and why it was skipped."""

    def __init__(self, found: Inputs, size: int) -> None:
        self.items, self.size = list(found.items), size

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(
        self, index: int
    ) -> tuple[int, torch.Tensor | None, dict[str, Any], list[Skipped]]:
        one = Inputs([self.items[index]])
        scans = list(one.scans())
        if not scans:
            return index, None, {}, one.skipped
        return index, model_sized(scans, self.size)[0], scans[0].facts, one.skipped


def _as_list(batch: list[Any]) -> list[Any]:
    return batch


def loader_workers(ctx: Context) -> int:
    """``$CAUSALCAM_WORKERS``, else the CPUs this process may use beyond its own (at most 4)."""
    text = os.environ.get(WORKERS_VARIABLE)
    if text is not None:
        if not text.isdigit():
            raise InputError(f"{WORKERS_VARIABLE}={text!r}: expected a whole number >= 0")
        return int(text)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(0, min(4, (cpus or 1) // max(ctx.local_world_size, 1) - 1))


def _single_scans(found: Inputs) -> list[Path]:
    """The input files, each one 2-D scan: DICOM series and NIfTI volumes are refused."""
    volumes = [str(item.label) for item in found.items if item.count != 1]
    if volumes:
        raise InputError(
            f"{volumes[0]} is a volume or series ({len(volumes)} in all): volumes are not "
            "shared among processes yet; explain them with one process"
        )
    return [item.label for item in found.items]


def _inputs_hash(paths: Sequence[Path], truths: Mapping[Path, str]) -> str:
    entries = []
    for path in paths:
        stat = path.stat()
        entries.append([str(path), stat.st_size, stat.st_mtime_ns, truths.get(path)])
    return digest_of(entries)


def explain_files_sharded(
    inputs: Sequence[str | os.PathLike[str]],
    source: ModelSource,
    out_dir: str | os.PathLike[str],
    methods: Sequence[str] = DEFAULT_METHODS,
    target_layer: str | None = None,
    contrast_class: str | None = None,
    causal: CausalOptions | None = None,
    save_npy: bool = False,
    device: torch.device | None = None,
    progress: bool = True,
    true_classes: Mapping[Path, str] | None = None,
    reading: Reading | None = None,
    ctx: Context | None = None,
    precision: str = "fp32",
) -> ShardedExplainRun:
    """:func:`~causalcam.explain_files.explain_files` with the files shared among the ranks
    of ``ctx`` (default: the running :func:`~causalcam.distributed.session`); same arguments
    and outputs. Unreadable files are skipped and listed as in one process."""
    ctx = ctx or current()
    chosen = check_methods(methods)
    reading = reading or Reading()
    found = gather(inputs, reading)
    paths = _single_scans(found)
    contrast = parse_contrast_class(contrast_class, source.classes)
    target = device or ctx.device
    model = source.model.to(target)
    layer = target_layer or models.default_target_layer(model)
    out = Path(out_dir)
    taken: list[str] = []
    names = [_unique_name(path.stem, taken) for path in paths]
    options = causal or CausalOptions()
    output = _Output(list(source.classes), chosen, save_npy)
    truths = dict(true_classes or {})
    job = ShardedJob(
        n_items=len(paths),
        chunk_size=preferred_chunk(len(paths), ctx.world_size, _BATCH),
        hashes={
            "input files": _inputs_hash(paths, truths),
            "model": model_fingerprint(model),
            "options": digest_of(
                [
                    chosen,
                    layer,
                    contrast,
                    options.to_dict(),
                    save_npy,
                    str(out),
                    reading.to_dict(),
                    precision,
                ]
            ),
        },
        marker_dir=out / MARKERS / "explain",
        what="image files",
    )

    def work(chunks: Sequence[Chunk]) -> Iterator[tuple[int, Any]]:
        loader = DataLoader(
            _Decoded(found, source.preprocessing.size),
            batch_sampler=[list(chunk) for _, chunk in chunks],
            num_workers=loader_workers(ctx) if chunks else 0,
            collate_fn=_as_list,
            pin_memory=target.type == "cuda",
        )
        with (
            eval_mode(model),
            Explainer(model, target_layer=layer, precision=precision) as explainer,
        ):
            for (chunk_id, _), batch in zip(chunks, loader, strict=True):
                yield chunk_id, explain_chunk(explainer, batch)

    def explain_chunk(explainer: Explainer, batch: list[Any]) -> dict[str, Any]:
        skipped = [s.to_dict() for _, _, _, lost in batch for s in lost]
        readable = [(index, grey, facts) for index, grey, facts, _ in batch if grey is not None]
        if not readable:
            return {"records": [], "near_ties": [], "skipped": skipped}
        grey = torch.stack([entry[1] for entry in readable])
        explanation = explainer.explain(
            to_model_input(grey.to(target, non_blocking=True), source.preprocessing),
            methods=chosen,
            contrast_class=contrast,
            causal=options,
        )
        top2 = explanation.logits.detach().float().topk(2, dim=1).values.cpu()
        records, ties = [], []
        for row, (index, _, facts) in enumerate(readable):
            path = paths[index]
            record = _write_one(
                out / names[index], path, truths.get(path), grey[row], explanation, row, output
            )
            records.append({**record, **facts})
            margin = float(top2[row, 0] - top2[row, 1])
            if margin < NEAR_TIE:
                ties.append({"file": str(path), "logit_difference": margin})
        return {"records": records, "near_ties": ties, "skipped": skipped}

    results, report = run_sharded(ctx, job, work, progress=progress)
    run = ShardedExplainRun(out, out / "explanations.json", report=report)
    for result in results:
        run.records.extend(result["records"])
        run.near_ties.extend(result["near_ties"])
        found.skipped.extend(Skipped(**item) for item in result["skipped"])
    run.skipped = [s.to_dict() for s in found.skipped]
    if ctx.is_main:
        summary = _summary(source, layer, chosen, causal, run)
        summary.update(found.summary(), volumes=[], reading=reading.to_dict())
        summary["notice"] = research_notice()
        atomic_write_json(run.summary, summary)
        shutil.rmtree(out / MARKERS, ignore_errors=True)
    return run
