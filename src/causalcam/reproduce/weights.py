"""The reproduction's committed networks: fp16 weights with a sidecar record each.

A trained run folder (``best.pt`` and ``metrics.json`` of :func:`causalcam.training.train`)
becomes ``DEST/NAME.pt``, the model in fp16 in the bundled checkpoint format, and
``DEST/NAME.json``, a :class:`WeightsRecord`: the architecture, every option of the recipe,
the seed, the epochs, the selected epoch, the validation and test accuracy measured on the
fp16 file itself, its SHA-256 and the command that trains it again. The ``full-cpu`` profile
of ``causalcam reproduce`` reads networks from such a folder instead of training them.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
from pathlib import Path
from typing import Any

from .._io import atomic_write_json, sha256_file
from ..data.cache import cached_split, eval_resize
from ..errors import CheckpointError, InputError
from ..models.checkpoint import export_checkpoint, load_checkpoint
from ..results import WeightsRecord
from ..training import Recipe, TrainConfig, evaluate, recipe_changes, trained_precision


def train_command(arch: str, seed: int, recipe: dict[str, Any], precision: str, out: str) -> str:
    """The ``causalcam train`` command line that trains this network with this recipe."""
    parts = ["causalcam", "train", "--arch", arch, "--recipe", str(recipe["name"])]
    parts += ["--seed", str(seed)]
    for key, value in recipe_changes(recipe).items():
        text = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
        parts += ["--set", f"{key}={text}"]
    parts += ["--precision", precision, "--out", out, "--resume"]
    return shlex.join(parts)


def retrain_config(record: WeightsRecord, out: Path, data_root: Path | None = None) -> TrainConfig:
    """The training run that made ``record``'s network, into ``out`` (resumable)."""
    return TrainConfig(
        arch=record.arch,
        recipe=str(record.recipe["name"]),
        out_dir=out,
        data_root=data_root,
        seed=record.seed,
        resume=True,
        precision=record.precision,
        overrides=recipe_changes(record.recipe),
    )


def export_weights(
    run_dir: Path, dest: Path, name: str, data_root: Path | None = None, progress: bool = False
) -> WeightsRecord:
    """Write ``run_dir``'s selected model to ``dest/NAME.pt`` in fp16 and its record to
    ``dest/NAME.json``; the accuracies are measured on the fp16 file (fp32 compute).

    Raises:
        InputError: ``run_dir`` holds no finished run (``best.pt`` and ``metrics.json``).
    """
    best, metrics_file = run_dir / "best.pt", run_dir / "metrics.json"
    if not best.is_file() or not metrics_file.is_file():
        raise InputError(f"{run_dir} holds no finished training run (best.pt and metrics.json)")
    metrics = json.loads(metrics_file.read_text(encoding="utf-8"))
    target = export_checkpoint(best, dest / f"{name}.pt", half=True)
    loaded = load_checkpoint(target)
    size = loaded.meta.preprocessing.size
    scores = {
        split: evaluate(
            loaded.model,
            tensors.images,
            tensors.labels,
            loaded.meta.preprocessing,
        )
        for split in ("val", "test")
        for tensors in [cached_split(split, eval_resize(size), size, data_root, progress)]
    }
    recipe = dataclasses.asdict(Recipe(**_recipe_fields(metrics["recipe"])))
    precision = trained_precision(metrics)
    record = WeightsRecord(
        name=name,
        arch=str(metrics["arch"]),
        sha256=sha256_file(target),
        size=size,
        seed=int(metrics["config"]["seed"]),
        epochs=int(recipe["epochs"]),
        best_epoch=int(metrics["best_epoch"]) + 1,
        recipe=recipe,
        precision=precision,
        val_accuracy=float(scores["val"]["accuracy"]),
        test_accuracy=float(scores["test"]["accuracy"]),
        test_auc=scores["test"]["auc"],
        train_seconds=float(metrics.get("train_seconds") or 0.0),
        command=train_command(
            str(metrics["arch"]),
            int(metrics["config"]["seed"]),
            recipe,
            precision,
            f"runs/retrain/{name}",
        ),
    )
    atomic_write_json(dest / f"{name}.json", record.to_json())
    return record


def _recipe_fields(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored recipe as :class:`Recipe` arguments (fields added since take their defaults)."""
    known = {f.name for f in dataclasses.fields(Recipe)}
    fields = {key: value for key, value in stored.items() if key in known}
    fields["scale"] = tuple(fields.get("scale", Recipe.scale))
    return fields


def read_weights(folder: Path) -> dict[str, WeightsRecord]:
    """Every record in ``folder`` by name, each checked against its file's SHA-256.

    Raises:
        CheckpointError: a record without its ``.pt`` file, or a file whose bytes changed.
    """
    records = {}
    for sidecar in sorted(folder.glob("*.json")):
        record = WeightsRecord.from_json(json.loads(sidecar.read_text(encoding="utf-8")), sidecar)
        weights = sidecar.with_suffix(".pt")
        if not weights.is_file():
            raise CheckpointError(f"{sidecar} describes {weights.name}, which is missing")
        if sha256_file(weights) != record.sha256:
            raise CheckpointError(f"{weights}: its SHA-256 differs from the one in {sidecar.name}")
        records[record.name] = record
    return records
