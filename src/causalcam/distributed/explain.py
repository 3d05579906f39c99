"""``causalcam explain`` over several processes: each rank explains its share of the files.

The file list, output folder names, batches and per-image outputs are those of
:func:`causalcam.files.explain_files`; a DataLoader decodes and preprocesses the next batch
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

from ..errors import InputError
from ..evaluate.store import digest_of, model_fingerprint
from ..explain import Explainer
from ..files import (
    BATCH_SIZE,
    ExplainRun,
    ExplainSettings,
    ImageWriter,
    Inputs,
    ModelSource,
    Skipped,
    as_source,
    gather,
    model_sized,
    parse_contrast_class,
    unique_name,
    write_summary,
)
from ..network import Network, eval_mode
from ..preprocess import Preprocessing, to_model_input
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
    """Input ``i`` decoded and preprocessed to uint8 ``(size, size)`` (``(3, size, size)`` for
    an RGB model) with its JSON facts, or ``None`` and why it was skipped."""

    def __init__(self, found: Inputs, preprocessing: Preprocessing) -> None:
        self.items, self.preprocessing = list(found.items), preprocessing

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(
        self, index: int
    ) -> tuple[int, torch.Tensor | None, dict[str, Any], list[Skipped]]:
        one = Inputs([self.items[index]])
        scans = list(one.scans())
        if not scans:
            return index, None, {}, one.skipped
        prep = self.preprocessing
        return index, model_sized(scans, prep.size, prep.rgb)[0], scans[0].facts, one.skipped


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
    source: ModelSource | Network,
    out_dir: str | os.PathLike[str],
    settings: ExplainSettings | None = None,
    *,
    true_classes: Mapping[Path, str] | None = None,
    ctx: Context | None = None,
) -> ShardedExplainRun:
    """:func:`~causalcam.files.explain_files` with the files shared among the ranks
    of ``ctx`` (default: the running :func:`~causalcam.distributed.join_launch`); same
    arguments and outputs (the model runs on ``settings.device``, default the rank's own).
    Unreadable files are skipped and listed as in one process."""
    ctx = ctx or current()
    source = as_source(source)
    target = (settings or ExplainSettings()).device or ctx.device
    model = source.model.to(target)
    chosen = (settings or ExplainSettings()).resolved(model)
    if chosen.segment is not None:
        raise InputError(
            "--segment (a segmentation network's regions) runs in one process; "
            "launch without torchrun"
        )
    found = gather(inputs, chosen.reading)
    plan = _Plan(
        ctx=ctx,
        found=found,
        source=source,
        model=model,
        device=target,
        settings=chosen,
        contrast=parse_contrast_class(chosen.contrast_class, source.classes),
        writer=ImageWriter(list(source.classes), chosen.methods, chosen.save_npy),
        truths=dict(true_classes or {}),
        out=Path(out_dir),
    )
    results, report = run_sharded(ctx, plan.job(), plan.work, progress=chosen.progress)
    run = ShardedExplainRun(plan.out, plan.out / "explanations.json", report=report)
    for result in results:
        run.records.extend(result["records"])
        run.near_ties.extend(result["near_ties"])
        found.skipped.extend(Skipped(**item) for item in result["skipped"])
    run.skipped = [s.to_dict() for s in found.skipped]
    if ctx.is_main:
        write_summary(run, source, chosen, found, [])
        shutil.rmtree(plan.out / MARKERS, ignore_errors=True)
    return run


@dataclass
class _Plan:
    """What every rank of one sharded explain run shares: the files (each one scan) with
    their output folder names, the model, the settings (resolved) and where outputs go."""

    ctx: Context
    found: Inputs
    source: ModelSource
    model: torch.nn.Module
    device: torch.device
    settings: ExplainSettings
    contrast: int | None
    writer: ImageWriter
    truths: dict[Path, str]
    out: Path
    paths: list[Path] = field(init=False)
    names: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.paths = _single_scans(self.found)
        taken: list[str] = []
        self.names = [unique_name(path.stem, taken) for path in self.paths]

    def job(self) -> ShardedJob:
        """The job's chunks (one batch each) and what its markers are keyed by."""
        chosen = self.settings
        options = [
            tuple(chosen.methods),
            chosen.target_layer,
            self.contrast,
            chosen.causal.to_dict(),
            chosen.save_npy,
            str(self.out),
            chosen.reading.to_dict(),
            chosen.precision,
        ]
        return ShardedJob(
            n_items=len(self.paths),
            chunk_size=preferred_chunk(len(self.paths), self.ctx.world_size, BATCH_SIZE),
            hashes={
                "input files": _inputs_hash(self.paths, self.truths),
                "model": model_fingerprint(self.model),
                "options": digest_of(options),
            },
            marker_dir=self.out / MARKERS / "explain",
            what="image files",
        )

    def work(self, chunks: Sequence[Chunk]) -> Iterator[tuple[int, Any]]:
        """This rank's chunks, decoded by a DataLoader while the previous one is explained."""
        loader = DataLoader(
            _Decoded(self.found, self.source.preprocessing),
            batch_sampler=[list(chunk) for _, chunk in chunks],
            num_workers=loader_workers(self.ctx) if chunks else 0,
            collate_fn=_as_list,
            pin_memory=self.device.type == "cuda",
        )
        with (
            eval_mode(self.model),
            Explainer(
                self.model,
                target_layer=self.settings.target_layer,
                precision=self.settings.precision,
            ) as explainer,
        ):
            for (chunk_id, _), batch in zip(chunks, loader, strict=True):
                yield chunk_id, self._explain(explainer, batch)

    def _explain(self, explainer: Explainer, batch: list[Any]) -> dict[str, Any]:
        """One batch's records (written outputs), near ties and skipped files."""
        skipped = [s.to_dict() for _, _, _, lost in batch for s in lost]
        readable = [(index, image, facts) for index, image, facts, _ in batch if image is not None]
        if not readable:
            return {"records": [], "near_ties": [], "skipped": skipped}
        images = torch.stack([entry[1] for entry in readable])
        explanation = explainer.explain(
            to_model_input(images.to(self.device, non_blocking=True), self.source.preprocessing),
            methods=self.settings.methods,
            contrast_class=self.contrast,
            causal=self.settings.causal,
        )
        top2 = explanation.logits.detach().float().topk(2, dim=1).values.cpu()
        records, ties = [], []
        for row, (index, _, facts) in enumerate(readable):
            path = self.paths[index]
            folder = self.out / self.names[index]
            truth = self.truths.get(path)
            record = self.writer.write(folder, path, truth, images[row], explanation, row)
            records.append({**record, **facts})
            margin = float(top2[row, 0] - top2[row, 1])
            if margin < NEAR_TIE:
                ties.append({"file": str(path), "logit_difference": margin})
        return {"records": records, "near_ties": ties, "skipped": skipped}
