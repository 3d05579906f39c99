"""The run's ``manifest.json``: profile, seed, library versions, hardware, device and the
wall time and fingerprint of each stage, written atomically after every stage.
"""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from .._io import atomic_write_json
from ..distributed import current
from ..errors import InputError
from ..models.checkpoint import library_versions
from ..precision import cpu_vector_extensions
from .context import RunContext


def hardware() -> dict[str, Any]:
    """What the run ran on."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "cpu_vector": cpu_vector_extensions(),
        "processes": current().world_size,
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.is_available(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def read_manifest(run_dir: Path) -> dict[str, Any]:
    """The ``manifest.json`` of ``run_dir`` (empty when there is none)."""
    path = run_dir / "manifest.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def start_manifest(ctx: RunContext) -> dict[str, Any]:
    """The run's ``manifest.json`` started (versions, hardware), an earlier run's stages kept."""
    previous = read_manifest(ctx.run_dir)
    if previous and previous.get("profile", {}).get("name") != ctx.profile.name:
        raise InputError(
            f"{ctx.run_dir} holds a run of profile {previous['profile']['name']!r}; "
            f"use another --out for profile {ctx.profile.name!r}"
        )
    return {
        "profile": ctx.profile.to_dict(),
        "seed": ctx.settings.seed,
        "started": previous.get("started", _now()),
        "versions": _versions(),
        "hardware": hardware(),
        "device": str(ctx.device),
        "precision": ctx.settings.precision,
        "stages": previous.get("stages", {}),
    }


def _versions() -> dict[str, str]:
    versions = library_versions()
    for package in ("matplotlib", "pillow", "typer"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "unknown"
    return versions


def finish_stage(
    ctx: RunContext,
    manifest: dict[str, Any],
    name: str,
    seconds: float | None,
    skipped: bool,
    fingerprint: str | None = None,
) -> None:
    """Record stage ``name`` as finished (its time; ``skipped``: reused from an earlier run,
    keeping when it finished) and write the manifest."""
    entry = manifest["stages"].get(name, {})
    if seconds is not None:
        entry["seconds"] = round(seconds, 2)
    if fingerprint is not None:
        entry["fingerprint"] = fingerprint
    entry["finished"] = entry.get("finished") if skipped else _now()
    entry.pop("skipped", None)  # a stage that ran is no longer skipped
    manifest["stages"][name] = entry
    manifest["updated"] = _now()
    atomic_write_json(ctx.run_dir / "manifest.json", manifest)


def skip_stage(ctx: RunContext, manifest: dict[str, Any], name: str, reason: str) -> None:
    """Record why stage ``name`` did not run this time (the report quotes it where the stage
    has no results; those of an earlier run stay, with their time)."""
    manifest["stages"][name] = {**manifest["stages"].get(name, {}), "skipped": reason}
    manifest["updated"] = _now()
    atomic_write_json(ctx.run_dir / "manifest.json", manifest)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
