"""The quantitative stages of a run: training (or reusing) the networks, Fig. 2a-b curves,
Tables 1-2 transference, the ablation of causal variants and RISE AUCs. Each takes the
:class:`~causalcam.reproduce.context.RunContext` and returns a JSON-ready result.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import models
from ..core import Network, as_network
from ..errors import CheckpointError
from ..evaluate import (
    Curve,
    compute_maps,
    rise_auc,
    summarize,
    transference_table,
    write_rows,
)
from ..evaluate.tables import curve_rows
from ..explain import CausalOptions
from ..method_names import CAUSAL, CURVE_METHODS, GRADCAM
from ..train import TrainConfig, train
from ..viz.curves import save_accuracy_curves
from .context import RunContext, TestSet, _curves, load_network, method_functions
from .profiles import Profile

TRANSFER_SOURCES: tuple[str, ...] = ("resnet18", "resnet34")


def _train_one(ctx: RunContext, arch: str) -> dict[str, Any]:
    folder = ctx.run_dir / "models" / arch
    if ctx.profile.reuse_default and arch == "resnet18" and _default_fits(ctx.profile.size):
        return {"arch": arch, "checkpoint": "bundled", **_default_metrics()}
    if not (folder / "metrics.json").is_file():
        config = TrainConfig(
            arch=arch,
            recipe=ctx.profile.recipe,
            out_dir=folder,
            data_root=ctx.data_root,
            seed=ctx.seed,
            device=str(ctx.device),
            resume=True,
            limit=ctx.profile.limit,
            progress=ctx.progress,
            epochs=ctx.profile.epochs,
            size=ctx.profile.size,
        )
        ctx.log(f"training {arch} ({ctx.profile.recipe} recipe, {ctx.profile.size} px)")
        train(config)
    metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    return {
        "arch": arch,
        "checkpoint": str(folder / "best.pt"),
        "test_accuracy": metrics["test"]["accuracy"],
        "val_accuracy": metrics["val"]["accuracy"],
        "best_epoch": metrics.get("best_epoch"),
        "epochs": metrics["recipe"]["epochs"],
        "recipe": metrics["recipe"]["name"],
        "size": metrics["recipe"]["size"],
        "train_seconds": metrics.get("train_seconds"),
    }


def _default_fits(size: int) -> bool:
    try:
        return models.default_model().meta.preprocessing.size == size
    except CheckpointError:
        return False


def _bundled_identity(profile: Profile) -> str | None:
    """Identifies the bundled ResNet-18 when the profile reuses it (a new one retrains nothing
    but invalidates every stage after training)."""
    if not (profile.reuse_default and _default_fits(profile.size)):
        return None
    meta = models.default_model().meta
    return f"{meta.created}/{meta.epoch}/{meta.data_checksum}"


def _default_metrics() -> dict[str, Any]:
    meta = models.default_model().meta
    test, val = meta.metrics.get("test", {}), meta.metrics.get("val", {})
    return {
        "test_accuracy": test.get("accuracy"),
        "val_accuracy": val.get("accuracy"),
        "best_epoch": meta.epoch,
        "epochs": meta.config.get("recipe", {}).get("epochs"),
        "recipe": meta.recipe,
        "size": meta.preprocessing.size,
        "train_seconds": meta.metrics.get("train_seconds"),
    }


def _networks(ctx: RunContext, trained: Mapping[str, Any]) -> dict[str, Network]:
    networks = {}
    for arch, info in trained.items():
        if info["checkpoint"] == "bundled":
            networks[arch] = as_network(models.default_model(map_location=str(ctx.device)))
        else:
            networks[arch] = load_network(Path(info["checkpoint"]), ctx.device)
    return networks


def stage_train(ctx: RunContext, test: TestSet) -> dict[str, Any]:
    """Train (or reuse) every network of the profile; their test accuracy."""
    del test
    return {"networks": [_train_one(ctx, arch) for arch in ctx.profile.archs]}


def stage_curves(ctx: RunContext, networks: Mapping[str, Network], test: TestSet) -> dict[str, Any]:
    """Fig. 2a-b: within-network deletion/insertion of Grad-CAM, Grad-CAM++ and causal maps."""
    source = ctx.profile.archs[0]
    curves = _curves(
        ctx.run_dir,
        networks,
        test,
        source,
        CURVE_METHODS,
        thresholds=ctx.profile.thresholds,
        progress=ctx.progress,
        precision=ctx.precision,
    )
    figures = {}
    for mode in ("deletion", "insertion"):
        path = ctx.figures / f"{mode}.png"
        save_accuracy_curves([c for c in curves if c.mode == mode], path)
        figures[mode] = str(path.relative_to(ctx.run_dir))
    summary = summarize(curves, n_boot=ctx.profile.n_boot, seed=ctx.seed)
    write_rows(curve_rows(curves), ctx.results / "curves_rows")
    write_rows(summary, ctx.results / "curves_summary")
    return {
        "source": source,
        "n_images": int(test.labels.numel()),
        "curves": [_curve_points(c) for c in curves],
        "summary": summary,
        "figures": figures,
    }


def _curve_points(curve: Curve) -> dict[str, Any]:
    return {
        "method": curve.method,
        "mode": curve.mode,
        "target": curve.target,
        "thresholds": curve.thresholds.tolist(),
        "accuracy": curve.accuracy.tolist(),
        "huffman": curve.mean_h.tolist(),
    }


def stage_transfer(
    ctx: RunContext, networks: Mapping[str, Network], test: TestSet
) -> dict[str, Any]:
    """Tables 1-2: masks of ResNet-18 and ResNet-34 fed to the other networks."""
    tables = []
    for source in [s for s in TRANSFER_SOURCES if s in networks]:
        targets = [arch for arch in networks if arch != source]
        curves = _curves(
            ctx.run_dir,
            networks,
            test,
            source,
            (GRADCAM, CAUSAL),
            targets=targets,
            thresholds=ctx.profile.transfer_thresholds,
            modes=("deletion",),
            progress=ctx.progress,
            precision=ctx.precision,
        )
        table = transference_table(
            curves, source=source, thresholds=ctx.profile.transfer_thresholds, targets=targets
        )
        table.write(ctx.results / f"transfer_{source}")
        tables.append(table.to_json())
    return {"tables": tables}


def stage_ablation(
    ctx: RunContext, networks: Mapping[str, Network], test: TestSet
) -> dict[str, Any]:
    """The method's open choices (loss x normalisation x sign, plus the further readings of
    :meth:`CausalOptions.further_variants`) on the first network."""
    source = ctx.profile.archs[0]
    variants = CausalOptions.ablation_variants()
    methods = [GRADCAM, *(v.name for v in variants)]
    curves = _curves(
        ctx.run_dir,
        networks,
        test,
        source,
        methods,
        thresholds=ctx.profile.ablation_thresholds,
        progress=ctx.progress,
        precision=ctx.precision,
    )
    summary = summarize(curves, n_boot=0, seed=ctx.seed)
    rows = []
    for variant in variants:
        row: dict[str, Any] = dict(variant.to_dict())
        for mode in ("deletion", "insertion"):
            picked = [r for r in summary if r["method"] == variant.name and r["mode"] == mode]
            row[f"{mode}_auc"] = _statistic(picked, "auc")
            row[f"{mode}_auc_diff"] = _statistic(picked, "auc_diff")
            row[f"{mode}_bits_saving"] = _statistic(picked, "bits_saving")
        rows.append(row)
    write_rows(rows, ctx.results / "ablation_rows")
    return {"source": source, "thresholds": list(ctx.profile.ablation_thresholds), "rows": rows}


def _statistic(rows: Sequence[Mapping[str, Any]], name: str) -> float | None:
    values = np.array([r["value"] for r in rows if r["statistic"] == name], dtype=np.float64)
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else None


def stage_rise(ctx: RunContext, networks: Mapping[str, Network], test: TestSet) -> dict[str, Any]:
    """RISE probability deletion/insertion AUCs of each method on the first network."""
    source = ctx.profile.archs[0]
    network = networks[source]
    rows = []
    for method, fn in method_functions(network, CURVE_METHODS, ctx.precision).items():
        maps = compute_maps(network, fn, test.images, method=method, progress=ctx.progress)
        result = rise_auc(
            network,
            test.images,
            maps,
            steps=ctx.profile.rise_steps,
            progress=ctx.progress,
            precision=ctx.precision,
        )
        rows.append({"method": method, **result.summary()})
    return {"source": source, "steps": ctx.profile.rise_steps, "rows": rows}
