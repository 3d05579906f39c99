"""Runs (or resumes) every stage of a profile in one run folder and writes the report.

Each stage's typed result (:mod:`causalcam.results`) is stored under ``results/<stage>.json``
with a fingerprint of what it was computed from (profile, seed, data, upstream result, the
default causal variant, the layout of the stage files), so an interrupted run picks up where
it stopped, a finished one recomputes nothing and files of another layout are recomputed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import torch

from ..core import Network
from ..evaluate.store import ResultStore, digest_of
from ..evaluate.summary import majority_rate
from ..evaluate.tables import jsonable
from ..explain import CausalOptions
from ..precision import resolve_precision
from ..report import build_report
from ..results import STAGE_FORMAT, TrainResult
from .context import RunContext, TestSet, load_test_set
from .manifest import _finish_stage, _start_manifest
from .profiles import Profile, get_profile
from .qualitative import stage_qualitative
from .stages import (
    _bundled_identity,
    _networks,
    stage_ablation,
    stage_curves,
    stage_rise,
    stage_train,
    stage_transfer,
)

STAGES: tuple[str, ...] = (
    "train",
    "curves",
    "transfer",
    "ablation",
    "rise",
    "qualitative",
    "report",
)


def default_variant() -> dict[str, str]:
    """The options plain ``causal`` stands for (part of every stage's fingerprint)."""
    return CausalOptions().to_dict()


class StageResult(Protocol):
    def to_json(self) -> dict[str, Any]: ...


NetworkStage = Callable[[RunContext, Mapping[str, Network], TestSet], StageResult]


NETWORK_STAGES: dict[str, NetworkStage] = {
    "curves": stage_curves,
    "transfer": stage_transfer,
    "ablation": stage_ablation,
    "rise": stage_rise,
    "qualitative": stage_qualitative,
}


def reproduce(
    run_dir: str | os.PathLike[str],
    profile: str | Profile = "quick",
    data_root: str | os.PathLike[str] | None = None,
    seed: int = 0,
    device: torch.device | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
    precision: str = "fp32",
) -> Path:
    """Run (or resume) every stage of ``profile`` in ``run_dir``; return the report.html path.
    ``precision``: of the masked-image classifications of the curves, transfer and RISE stages
    (maps come from one fp32 explain pass; training keeps its recipe's; the ablation and the
    qualitative figures stay fp32)."""
    chosen = profile if isinstance(profile, Profile) else get_profile(profile)
    ctx = RunContext(
        Path(run_dir),
        chosen,
        Path(data_root) if data_root is not None else None,
        seed,
        device or torch.device("cpu"),
        progress,
        log,
        resolve_precision(precision, device or torch.device("cpu")),
    )
    manifest = _start_manifest(ctx)
    test = load_test_set(chosen.size, chosen.limit, ctx.data_root)
    manifest["data"] = {
        "test_images": int(test.labels.numel()),
        "test_checksum": test.checksum,
        "size": chosen.size,
        "majority_rate": majority_rate(test.labels),
    }
    bundled = _bundled_identity(chosen)
    trained = _stage(ctx, manifest, "train", test, bundled, lambda: stage_train(ctx, test))
    networks = _networks(ctx, TrainResult.from_json(trained))
    upstream = digest_of(trained)
    for name, function in NETWORK_STAGES.items():

        def compute(function: NetworkStage = function) -> StageResult:
            return function(ctx, networks, test)

        _stage(ctx, manifest, name, test, upstream, compute)
    started = time.perf_counter()
    paths = build_report(ctx.run_dir)
    _finish_stage(ctx, manifest, "report", time.perf_counter() - started, skipped=False)
    log(f"report: {paths.html}")
    return paths.html


def _stage(
    ctx: RunContext,
    manifest: dict[str, Any],
    name: str,
    test: TestSet,
    upstream: str | None,
    compute: Callable[[], StageResult],
) -> dict[str, Any]:
    """A stage's stored result (JSON) from ``results/<name>.json`` if its fingerprint
    matches, else computed and stored."""
    store = ResultStore(ctx.run_dir)
    keyed: dict[str, Any] = {
        "profile": ctx.profile.to_dict(),
        "seed": ctx.seed,
        "data": test.checksum,
        "n": int(test.labels.numel()),
        "stage": name,
        "upstream": upstream,
        # plain "causal" means the default variant: a new default recomputes the stages
        # that explain (not training)
        "causal_default": default_variant() if name in NETWORK_STAGES else None,
        "format": STAGE_FORMAT,
    }
    if ctx.precision != "fp32" and name in NETWORK_STAGES:  # fp32 keys as before
        keyed["precision"] = ctx.precision
    key = digest_of(keyed)
    stored = store.load_json("results", (name,), key)
    if stored is not None:
        ctx.log(f"[{name}] done before, reused")
        _finish_stage(ctx, manifest, name, None, skipped=True, fingerprint=key)
        return dict(stored)
    ctx.log(f"[{name}] running")
    started = time.perf_counter()
    result = jsonable(compute().to_json())
    store.save_json("results", (name,), key, result)
    _finish_stage(ctx, manifest, name, time.perf_counter() - started, False, fingerprint=key)
    return dict(result)
