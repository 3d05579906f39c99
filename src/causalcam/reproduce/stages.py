"""The quantitative stages of a run: training (or reusing) the networks, Fig. 2a-b curves,
Tables 1-2 transference, the ablation of causal variants, RISE AUCs and the localisation
(map mass inside the lungs). Each takes the
:class:`~causalcam.reproduce.context.RunContext` and returns its typed result
(:mod:`causalcam.results`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import models
from .._io import atomic_write_text
from ..ablation import AblationSettings, ablation_csv, cache_keys, measure_ablation
from ..distributed import current, sharded_evaluate_maps, sharded_rise_auc
from ..errors import CheckpointError
from ..evaluate import (
    Curve,
    summarize,
    transference_table,
    write_rows,
)
from ..evaluate.localisation import (
    compute_method_maps,
    localisation_table,
    lung_masks,
    save_mask_sample,
)
from ..evaluate.rise import RiseSettings
from ..evaluate.tables import curve_rows
from ..explain import PAPER_MAPS
from ..method_names import CAUSAL, CURVE_METHODS, GRADCAM
from ..network import Network, as_network
from ..results import (
    AblationTable,
    CurvePoints,
    CurvesResult,
    LocalisationStageResult,
    NetworkRow,
    RiseRow,
    RiseStageResult,
    TrainResult,
    TransferResult,
)
from ..training import TrainConfig, recipe_label, train
from ..viz.curves import save_accuracy_curves
from .context import RunContext, TestSet, load_network, source_curves, source_maps
from .profiles import Profile
from .weights import WeightsRecord, read_weights

TRANSFER_SOURCES: tuple[str, ...] = ("resnet18", "resnet34")


def _train_one(ctx: RunContext, arch: str, committed: Mapping[str, WeightsRecord]) -> NetworkRow:
    folder = ctx.run_dir / "models" / arch
    bundled = _bundled(ctx.profile) if arch == "resnet18" else None
    if bundled is not None:
        row = {"arch": arch, "checkpoint": "bundled", **_bundled_metrics(bundled.meta)}
        return NetworkRow.from_json(row)
    if arch in committed:
        return _committed_row(ctx.profile, committed[arch])
    if not (folder / "metrics.json").is_file():
        config = TrainConfig(
            arch=arch,
            recipe=ctx.profile.recipe,
            out_dir=folder,
            data_root=ctx.data_root,
            seed=ctx.settings.seed,
            device=str(ctx.device),
            resume=True,
            limit=ctx.profile.limit,
            progress=ctx.settings.progress,
            epochs=ctx.profile.epochs,
            size=ctx.profile.size,
            precision=ctx.profile.train_precision,
            overrides=dict(ctx.profile.recipe_overrides),
        )
        recipe = recipe_label(dataclasses.asdict(config.resolved_recipe()))
        ctx.log(f"training {arch} ({recipe} recipe, {ctx.profile.size} px)")
        train(config)
    metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    return NetworkRow(
        arch=arch,
        checkpoint=str(folder / "best.pt"),
        test_accuracy=metrics["test"]["accuracy"],
        val_accuracy=metrics["val"]["accuracy"],
        best_epoch=metrics.get("best_epoch"),
        epochs=metrics["recipe"]["epochs"],
        recipe=recipe_label(metrics["recipe"]),
        size=metrics["recipe"]["size"],
        train_seconds=metrics.get("train_seconds"),
    )


def _committed_row(profile: Profile, record: WeightsRecord) -> NetworkRow:
    """A committed network's row (:mod:`.weights`).

    Raises:
        CheckpointError: the record's input size is not the profile's.
    """
    arch = record.arch
    if record.size != profile.size:
        raise CheckpointError(
            f"{profile.weights}/{record.name}.pt takes {record.size} px inputs, the "
            f"{profile.name} profile {profile.size} px"
        )
    return NetworkRow(
        arch=arch,
        checkpoint=str(Path(str(profile.weights)) / f"{record.name}.pt"),
        test_accuracy=record.test_accuracy,
        val_accuracy=record.val_accuracy,
        best_epoch=record.best_epoch - 1,  # counted from 0, as in the trained rows
        epochs=record.epochs,
        recipe=recipe_label(record.recipe),
        size=record.size,
        train_seconds=record.train_seconds,
    )


def _bundled(profile: Profile) -> models.LoadedModel | None:
    """The profile's bundled model when it has one of the profile's input size."""
    if profile.bundled is None:
        return None
    try:
        loaded = models.bundled_model(profile.bundled)
    except CheckpointError:
        return None
    return loaded if loaded.meta.preprocessing.size == profile.size else None


def bundled_identity(profile: Profile) -> str | None:
    """Identifies the bundled ResNet-18 when the profile reuses it (a new one retrains nothing
    but invalidates every stage after training)."""
    loaded = _bundled(profile)
    if loaded is None:
        return None
    return f"{loaded.meta.created}/{loaded.meta.epoch}/{loaded.meta.data_checksum}"


def _bundled_metrics(meta: models.CheckpointMeta) -> dict[str, Any]:
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


def load_networks(ctx: RunContext, trained: TrainResult) -> dict[str, Network]:
    """The networks the train stage lists, loaded on the run's device."""
    networks = {}
    for row in trained.networks:
        if row.bundled:
            loaded = models.bundled_model(str(ctx.profile.bundled), str(ctx.device))
            networks[row.arch] = as_network(loaded)
        else:
            networks[row.arch] = load_network(Path(row.checkpoint), ctx.device)
    return networks


def stage_train(ctx: RunContext, test: TestSet) -> TrainResult:
    """Train (or reuse) every network of the profile; their test accuracy."""
    del test
    weights = ctx.profile.weights
    committed = read_weights(Path(weights)) if weights is not None else {}  # hashed once
    by_arch = {record.arch: record for record in committed.values() if record.name == record.arch}
    return TrainResult(tuple(_train_one(ctx, arch, by_arch) for arch in ctx.profile.archs))


def stage_curves(ctx: RunContext, networks: Mapping[str, Network], test: TestSet) -> CurvesResult:
    """Fig. 2a-b: within-network deletion/insertion of Grad-CAM, Grad-CAM++ and causal maps."""
    source = ctx.profile.archs[0]
    curves = source_curves(
        networks, test, source, CURVE_METHODS, ctx.evaluation(ctx.profile.thresholds)
    )
    figures = {}
    summary = summarize(curves, n_boot=ctx.profile.n_boot, seed=ctx.settings.seed)
    for mode in ("deletion", "insertion"):
        path = ctx.figures / f"{mode}.png"
        if current().is_main:
            save_accuracy_curves([c for c in curves if c.mode == mode], path)
        figures[mode] = str(path.relative_to(ctx.run_dir))
    if current().is_main:
        write_rows(curve_rows(curves), ctx.results / "curves_rows")
        write_rows(summary, ctx.results / "curves_summary")
    return CurvesResult(
        source=source,
        n_images=int(test.labels.numel()),
        curves=tuple(_curve_points(c) for c in curves),
        summary=tuple(summary),
        figures=figures,
    )


def _curve_points(curve: Curve) -> CurvePoints:
    return CurvePoints(
        method=curve.method,
        mode=curve.mode,
        target=curve.target,
        thresholds=tuple(curve.thresholds.tolist()),
        accuracy=tuple(curve.accuracy.tolist()),
        huffman=tuple(curve.mean_h.tolist()),
    )


def stage_transfer(
    ctx: RunContext, networks: Mapping[str, Network], test: TestSet
) -> TransferResult:
    """Tables 1-2: masks of ResNet-18 and ResNet-34 fed to the other networks."""
    tables = []
    for source in [s for s in TRANSFER_SOURCES if s in networks]:
        targets = [arch for arch in networks if arch != source]
        settings = ctx.evaluation(
            ctx.profile.transfer_thresholds, targets=tuple(targets), modes=("deletion",)
        )
        curves = source_curves(networks, test, source, (GRADCAM, CAUSAL), settings)
        table = transference_table(
            curves,
            source=source,
            thresholds=ctx.profile.transfer_thresholds,
            targets=targets,
            n_boot=ctx.profile.n_boot,
            seed=ctx.settings.seed,
        )
        if current().is_main:
            table.write(ctx.results / f"transfer_{source}")
        tables.append(table.to_record())
    return TransferResult(tuple(tables))


def stage_ablation(
    ctx: RunContext, networks: Mapping[str, Network], test: TestSet
) -> AblationTable:
    """The ablation of :mod:`causalcam.ablation.measure` (every causal variant of
    :meth:`CausalOptions.ablation_variants` and Grad-CAM++ against Grad-CAM, one explain
    pass) on the first network; its table also as ``results/ablation_rows.csv``."""
    source = ctx.profile.archs[0]
    network = networks[source]
    settings = AblationSettings(
        n_boot=ctx.profile.n_boot,
        seed=ctx.settings.seed,
        target_layer=models.default_target_layer(network.model),
        # the ablation stays fp32 whatever the run's precision
        evaluation=ctx.evaluation(ctx.profile.ablation_thresholds, precision="fp32"),
    )
    measured = measure_ablation(
        network,
        test.images,
        test.labels,
        label=source,
        settings=settings,
        evaluate=sharded_evaluate_maps,
    )
    if current().is_main:
        atomic_write_text(ctx.results / "ablation_rows.csv", ablation_csv(measured.table))
    return measured.table


def stage_rise(ctx: RunContext, networks: Mapping[str, Network], test: TestSet) -> RiseStageResult:
    """RISE probability deletion/insertion AUCs of each method on the first network (under
    torchrun the images are shared among the processes)."""
    source = ctx.profile.archs[0]
    network = networks[source]
    maps, layer = source_maps(network, test, CURVE_METHODS)
    keys = cache_keys(network, layer, list(maps))
    settings = RiseSettings(
        steps=ctx.profile.rise_steps,
        progress=ctx.settings.progress,
        precision=ctx.settings.precision,
    )
    rows = []
    for method, values in maps.items():
        result = sharded_rise_auc(
            network,
            test.images,
            values,
            maps_key=keys[method],
            out_dir=ctx.run_dir / "eval",
            settings=settings,
        )
        rows.append(
            RiseRow(method, float(result.deletion_auc.mean()), float(result.insertion_auc.mean()))
        )
    return RiseStageResult(source, ctx.profile.rise_steps, tuple(rows))


#: scans of the test split shown with their lung masks, to check the masks by eye
MASK_SAMPLE = 32


def stage_localisation(
    ctx: RunContext, networks: Mapping[str, Network], test: TestSet
) -> LocalisationStageResult:
    """Share of every method's map mass inside the lungs, for each network, with bootstrap
    intervals (one set of lung masks, by thresholding); a figure of sampled masks."""
    masks = lung_masks(test.images, progress=ctx.settings.progress)
    tables = []
    for arch, network in networks.items():
        maps = compute_method_maps(
            network.model,
            test.images,
            network.preprocessing,
            PAPER_MAPS,
            progress=ctx.settings.progress,
        )
        tables.append(
            localisation_table(maps, masks, arch, n_boot=ctx.profile.n_boot, seed=ctx.settings.seed)
        )
    figure = ctx.figures / "lung_masks.png"
    save_mask_sample(test.images, masks, figure, MASK_SAMPLE, seed=ctx.settings.seed)
    return LocalisationStageResult(tuple(tables), str(figure.relative_to(ctx.run_dir)))
