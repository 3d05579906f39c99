"""Runs (or resumes) every stage of a profile in one run folder and writes the report.

Each stage's typed result (:mod:`causalcam.results`) is stored under ``results/<stage>.json``
with a fingerprint of what it was computed from (profile, seed, data, upstream result, the
default causal variant, the layout of the stage files), so an interrupted run picks up where
it stopped, a finished one recomputes nothing and files of another layout are recomputed.
The stages of the maps' source network alone (:data:`SOURCE_STAGES`) are keyed on that
network alone, so adding a network to a profile recomputes only training, Tables 1-2 and the
localisation.

Under torchrun (several processes) the stages of :data:`SHARDED_STAGES` share the test images
among the processes; rank 0 alone reads and writes the run folder, computes the qualitative
figures and the report and hands its results to the others. Training is not distributed: a
run whose networks are not trained yet is refused (train them with one process first,
``--stop-after train``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

import torch

from ..distributed import current
from ..errors import InputError
from ..evaluate.store import ResultStore, digest_of
from ..evaluate.summary import majority_rate
from ..evaluate.tables import jsonable
from ..explain import CausalOptions
from ..extras import installed
from ..network import Network
from ..precision import resolve_precision
from ..report import build_report
from ..results import STAGE_FORMAT, STAGE_VERSIONS, TrainResult
from .context import RunContext, RunSettings, TestSet, load_test_set
from .manifest import finish_stage, read_manifest, skip_stage, start_manifest
from .profiles import Profile, get_profile
from .qualitative import stage_qualitative
from .stages import (
    bundled_identity,
    load_networks,
    stage_ablation,
    stage_curves,
    stage_localisation,
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
    "localisation",
    "qualitative",
    "report",
)


def default_variant() -> dict[str, str]:
    """The options plain ``causal`` stands for (part of every stage's fingerprint)."""
    return CausalOptions().to_dict()


class StageResult(Protocol):
    """What a stage returns: a typed result with a JSON form."""

    def to_json(self) -> dict[str, Any]: ...


NetworkStage = Callable[[RunContext, Mapping[str, Network], TestSet], StageResult]


#: the stages whose images are shared among the processes of a torchrun launch
SHARDED_STAGES: tuple[str, ...] = ("curves", "transfer", "ablation", "rise")

NETWORK_STAGES: dict[str, NetworkStage] = {
    "curves": stage_curves,
    "transfer": stage_transfer,
    "ablation": stage_ablation,
    "rise": stage_rise,
    "localisation": stage_localisation,
    "qualitative": stage_qualitative,
}

#: the stages that read only the profile's first network (the maps' source): keyed on it
#: alone, so a network added to the profile recomputes none of them
SOURCE_STAGES: tuple[str, ...] = ("curves", "ablation", "rise", "qualitative")

#: the stages that classify masked images in the run's precision (the ablation and the
#: qualitative figures stay fp32): the precision is part of their fingerprint alone
PRECISION_STAGES: tuple[str, ...] = ("curves", "transfer", "rise")

#: stages that need an extra (``pip install 'causalcam[EXTRA]'``); skipped without it
STAGE_EXTRAS: dict[str, str] = {"localisation": "localisation"}


def skip_reason(stage: str, profile: Profile) -> str | None:
    """Why ``stage`` cannot run here (an extra not installed, Tables 1-2 without a network
    beside their source), or None."""
    if stage in STAGE_EXTRAS and not installed(STAGE_EXTRAS[stage]):
        return f"pip install 'causalcam[{STAGE_EXTRAS[stage]}]' to run it"
    if stage == "transfer" and len(profile.archs) < 2:
        return f"Tables 1-2 need networks beside {profile.archs[0]} (--archs)"
    return None


def reproduce(
    run_dir: str | os.PathLike[str],
    profile: str | Profile = "quick",
    *,
    data_root: str | os.PathLike[str] | None = None,
    settings: RunSettings | None = None,
    log: Callable[[str], None] = print,
    stop_after: str | None = None,
) -> Path | None:
    """Run (or resume) every stage of ``profile`` in ``run_dir``.

    Args:
        run_dir: the run folder (created; an earlier run's stages are reused).
        profile: a profile or its name (:data:`PROFILES`).
        data_root: the COVID-CT folder (or pack).
        settings: seed, device, precision and progress bars (default :class:`RunSettings`).
        log: receives one line per stage.
        stop_after: a stage before the report: the run stops after it.

    Returns:
        The report.html path, or ``None`` when the run stopped after ``stop_after``.

    Raises:
        InputError: an unknown stage or profile, or untrained networks under torchrun.
    """
    settings = settings or RunSettings()
    device = settings.device or torch.device("cpu")
    settings = replace(settings, precision=resolve_precision(settings.precision, device))
    if stop_after is not None and stop_after not in STAGES:
        raise InputError(f"unknown stage {stop_after!r} to stop after; one of {', '.join(STAGES)}")
    chosen = profile if isinstance(profile, Profile) else get_profile(profile)
    data = Path(data_root) if data_root is not None else None
    ctx = RunContext(Path(run_dir), chosen, data, settings, log)
    manifest = start_manifest(ctx)
    test = load_test_set(chosen.size, chosen.limit, ctx.data_root)
    manifest["data"] = {
        "test_images": int(test.labels.numel()),
        "test_checksum": test.checksum,
        "size": chosen.size,
        "majority_rate": majority_rate(test.labels),
    }
    bundled = bundled_identity(chosen)
    trained = _stage(ctx, manifest, "train", test, bundled, lambda: stage_train(ctx, test))
    if stop_after == "train":
        return None
    networks = load_networks(ctx, TrainResult.from_json(trained))
    rows = [_portable(row, ctx.run_dir) for row in trained["networks"]]
    upstream = digest_of(rows)
    source_upstream = digest_of([row for row in rows if row["arch"] == chosen.archs[0]])
    for name, function in NETWORK_STAGES.items():

        def compute(function: NetworkStage = function) -> StageResult:
            return function(ctx, networks, test)

        reason = skip_reason(name, chosen)
        if reason is not None:
            log(f"[{name}] skipped: {reason}")
            if current().is_main:
                skip_stage(ctx, manifest, name, reason)
        else:
            keyed_on = source_upstream if name in SOURCE_STAGES else upstream
            _stage(ctx, manifest, name, test, keyed_on, compute)
        if stop_after == name:
            return None
    html = ctx.run_dir / "report.html"
    if current().is_main:
        started = time.perf_counter()
        html = build_report(ctx.run_dir).html
        finish_stage(ctx, manifest, "report", time.perf_counter() - started, skipped=False)
        log(f"report: {html}")
    return html


def _portable(row: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """A network's row as the stages after training depend on it: a checkpoint inside the
    run folder named relative to it, so that the same network in another folder keys alike."""
    path = Path(row["checkpoint"])
    if path.is_relative_to(run_dir):
        return {**row, "checkpoint": path.relative_to(run_dir).as_posix()}
    return row


def stage_key(ctx: RunContext, name: str, test: TestSet, upstream: str | None) -> str:
    """The fingerprint of stage ``name``: what its result is computed from (the profile's
    settings but its prose, the seed, the test images, the upstream result, the default causal
    variant, the stage files' layout, the precision of the stages after training). The stages
    of the source network (:data:`SOURCE_STAGES`) leave out the other networks."""
    profile = ctx.profile.to_dict()
    profile.pop("description")  # words, not settings
    if name in SOURCE_STAGES:  # the source network alone: other networks change nothing
        profile["archs"] = list(ctx.profile.archs[:1])
        profile.pop("weights", None)
    keyed: dict[str, Any] = {
        "profile": profile,
        "seed": ctx.settings.seed,
        "data": test.checksum,
        "n": int(test.labels.numel()),
        "stage": name,
        "upstream": upstream,
        # plain "causal" means the default variant: a new default recomputes the stages
        # that explain (not training)
        "causal_default": default_variant() if name in NETWORK_STAGES else None,
        "format": STAGE_FORMAT,
        "precision": ctx.settings.precision if name in PRECISION_STAGES else None,
        "version": STAGE_VERSIONS.get(name, 0),
    }
    return digest_of(keyed)


def adopt_stage(
    ctx: RunContext, manifest: dict[str, Any], name: str, key: str
) -> dict[str, Any] | None:
    """Stage ``name``'s result from the committed results (``RunSettings.committed``) when it was
    computed from the same inputs (same fingerprint ``key``): copied into the run folder with
    the time and date the committed manifest records for it; ``None`` otherwise."""
    committed = ctx.settings.committed
    if committed is None:
        return None
    result = ResultStore(committed).load_json("results", (name,), key, format=STAGE_FORMAT)
    if result is None:
        return None
    ResultStore(ctx.run_dir).save_json("results", (name,), key, result, format=STAGE_FORMAT)
    recorded = read_manifest(committed).get("stages", {}).get(name, {})
    manifest["stages"][name] = {**recorded, "adopted_from": str(committed)}
    finish_stage(ctx, manifest, name, None, skipped=True, fingerprint=key)
    ctx.log(f"[{name}] taken from {committed} (same inputs)")
    return dict(result)


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
    key = stage_key(ctx, name, test, upstream)
    launch = current()
    stored = launch.broadcast(
        store.load_json("results", (name,), key, format=STAGE_FORMAT) if launch.is_main else None
    )
    if stored is not None:
        ctx.log(f"[{name}] done before, reused")
        if launch.is_main:
            finish_stage(ctx, manifest, name, None, skipped=True, fingerprint=key)
        return dict(stored)
    adopted = launch.broadcast(adopt_stage(ctx, manifest, name, key) if launch.is_main else None)
    if adopted is not None:
        return dict(adopted)
    if launch.distributed and name == "train":
        raise InputError(
            f"the networks of {ctx.run_dir} are not trained yet, and training does not run "
            f"under torchrun: train them with one process first (python -m causalcam "
            f"reproduce --profile {ctx.profile.name} --out {ctx.run_dir} --stop-after train), "
            "then rerun this command"
        )
    ctx.log(f"[{name}] running")
    started = time.perf_counter()
    result: Any = None
    if name in SHARDED_STAGES or launch.is_main:
        result = jsonable(compute().to_json())
    if name not in SHARDED_STAGES:
        result = launch.broadcast(result)
    if launch.is_main:
        store.save_json("results", (name,), key, result, format=STAGE_FORMAT)
        finish_stage(ctx, manifest, name, time.perf_counter() - started, False, fingerprint=key)
    return dict(result)
