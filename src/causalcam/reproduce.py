"""The paper end to end: train (or reuse) the five networks, compute the maps, run threshold
deletion/insertion and transference, the ablation, RISE AUCs, qualitative panels, the report.

:func:`reproduce` runs the stages in order inside one run folder::

    run/manifest.json          profile, seed, versions, hardware, data checksum, seconds per stage
    run/models/<arch>/best.pt  the trained networks (causalcam.train; resumable per epoch)
    run/eval/                  the evaluation store (per curve; resumable, reruns compute nothing)
    run/results/<stage>.json   each stage's result, keyed by a fingerprint of its inputs
    run/figures/*.png          Fig. 2a-b curves, Fig. 2c-h and Fig. 3-like panels
    run/report.md, report.html

Every stage result carries the fingerprint of what it was computed from, so an interrupted
run picks up where it stopped and a finished one recomputes nothing. The profiles
(:data:`PROFILES`) fix resolution, epochs and thresholds: ``paper`` is the full protocol (for a
GPU), ``quick`` a reduced one for a 2-core CPU, ``tiny`` a smoke run for tests.

:func:`evaluate_checkpoints` and :func:`transfer_checkpoints` (behind ``causalcam evaluate``
and ``causalcam transfer``) run one piece of this on checkpoints the user names.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import models
from ._io import atomic_write_json
from .data import CLASSES
from .data.cache import cached_split, eval_resize, first_per_class
from .errors import CheckpointError, InputError
from .evaluate import (
    DEFAULT_THRESHOLDS,
    TRANSFER_THRESHOLDS,
    Curve,
    Network,
    as_network,
    compute_maps,
    huffman_ratio,
    rise_auc,
    run_deletion_insertion,
    summarize,
    transference_table,
    write_rows,
)
from .evaluate.store import ResultStore, digest_of
from .evaluate.tables import curve_rows, jsonable
from .explain import CausalOptions, map_function
from .models.checkpoint import library_versions
from .precision import resolve_precision
from .preprocess import to_model_input
from .train import TrainConfig, train
from .viz import (
    PAPER_METHODS,
    MaskedView,
    explanation_panel,
    keep_mask,
    masked_panel,
    save_figure,
)
from .viz.curves import save_accuracy_curves

CURVE_METHODS: tuple[str, ...] = ("gradcam", "gradcam++", "causal")
TRANSFER_SOURCES: tuple[str, ...] = ("resnet18", "resnet34")
STAGES: tuple[str, ...] = (
    "train",
    "curves",
    "transfer",
    "ablation",
    "rise",
    "qualitative",
    "report",
)


def _steps(low: float, high: float, step: float) -> tuple[float, ...]:
    count = round((high - low) / step) + 1
    return tuple(round(low + step * i, 4) for i in range(count))


@dataclass(frozen=True)
class Profile:
    """How much of the protocol a run does. ``limit``: images per class and split (None: all)."""

    name: str
    description: str
    size: int
    recipe: str
    epochs: int | None
    limit: int | None
    thresholds: tuple[float, ...]
    ablation_thresholds: tuple[float, ...]
    transfer_thresholds: tuple[float, ...] = TRANSFER_THRESHOLDS
    archs: tuple[str, ...] = models.PAPER_ARCHS
    rise_steps: int = 20
    n_boot: int = 1000
    qualitative_threshold: float = 0.3
    reuse_default: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


PROFILES: dict[str, Profile] = {
    "paper": Profile(
        name="paper",
        description="the paper's protocol: 224 px, the he2020 recipe (50 epochs), 71 "
        "thresholds 0.10-0.80 for the curves and the ablation; meant for a GPU",
        size=224,
        recipe="he2020",
        epochs=None,
        limit=None,
        thresholds=DEFAULT_THRESHOLDS,
        ablation_thresholds=DEFAULT_THRESHOLDS,
        rise_steps=50,
    ),
    "quick": Profile(
        name="quick",
        description="reduced for a 2-core CPU: 112 px, the bundled ResNet-18 (cpu recipe) and "
        "the four other networks trained with the cpu recipe for 4 epochs, 8 thresholds "
        "0.10-0.80 (step 0.10) for the curves, 3 (0.2, 0.4, 0.6) for the ablation of 22 "
        "causal variants, 8 RISE "
        "steps, 200 bootstrap resamples; all 203 test images",
        size=112,
        recipe="cpu",
        epochs=4,
        limit=None,
        thresholds=_steps(0.10, 0.80, 0.10),
        ablation_thresholds=(0.2, 0.4, 0.6),
        rise_steps=8,
        n_boot=200,
        reuse_default=True,
    ),
    "tiny": Profile(
        name="tiny",
        description="a smoke test: 48 px, 4 images per class and split, 2 epochs, "
        "8 thresholds; the numbers mean nothing",
        size=48,
        recipe="cpu",
        epochs=2,
        limit=4,
        thresholds=_steps(0.10, 0.80, 0.10),
        ablation_thresholds=(0.3, 0.5),
        rise_steps=4,
        n_boot=0,
    ),
}


@dataclass(frozen=True)
class TestSet:
    """The (possibly reduced) test split at one resolution."""

    images: torch.Tensor
    labels: torch.Tensor
    names: list[str]
    checksum: str


@dataclass
class RunContext:
    """Everything the stages share."""

    run_dir: Path
    profile: Profile
    data_root: Path | None
    seed: int
    device: torch.device
    progress: bool
    log: Callable[[str], None]
    #: precision of the explaining and evaluating stages (``causalcam.precision``)
    precision: str = "fp32"

    @property
    def results(self) -> Path:
        return self.run_dir / "results"

    @property
    def figures(self) -> Path:
        return self.run_dir / "figures"


def default_variant() -> dict[str, str]:
    """The options plain ``causal`` stands for (part of every stage's fingerprint)."""
    return CausalOptions().to_dict()


def get_profile(name: str) -> Profile:
    """The profile called ``name`` (``paper``, ``quick`` or ``tiny``)."""
    if name not in PROFILES:
        raise InputError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}")
    return PROFILES[name]


# ----------------------------------------------------------------------------- data, networks


def load_test_set(size: int, limit: int | None = None, root: Path | None = None) -> TestSet:
    """The test split at ``size`` (evaluation preprocessing), first ``limit`` per class."""
    split = cached_split("test", eval_resize(size), size, root)
    keep = first_per_class(split.labels, limit, len(CLASSES))
    names = [split.names[i] for i in keep.tolist()]
    return TestSet(split.images[keep], split.labels[keep], names, split.checksum)


def load_network(path: Path, device: torch.device) -> Network:
    """A checkpoint as an evaluation :class:`Network` on ``device``."""
    loaded = models.load_checkpoint(path, map_location=str(device))
    return as_network(loaded)


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


# ----------------------------------------------------------------------------- map functions


def method_functions(
    network: Network, methods: Sequence[str], precision: str = "fp32"
) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    """``MapFn`` per method name (``causal[loss,normalize,sign]`` names a causal variant)."""
    layer = models.default_target_layer(network.model)
    return {
        m: map_function(network.model, m, target_layer=layer, precision=precision) for m in methods
    }


def _method_options(methods: Sequence[str]) -> dict[str, dict[str, str]]:
    options = {}
    for method in methods:
        if method.startswith("causal"):
            variant = CausalOptions.parse(method)
            options[method] = variant.to_dict()
    return options


def _curves(
    out_dir: Path,
    networks: Mapping[str, Network],
    test: TestSet,
    source: str,
    methods: Sequence[str],
    *,
    targets: Sequence[str] | None = None,
    thresholds: Sequence[float],
    modes: Sequence[str] = ("deletion", "insertion"),
    progress: bool = True,
    precision: str = "fp32",
) -> list[Curve]:
    """Deletion/insertion curves of ``source``'s maps, cached in the store ``out_dir/eval``;
    maps and classification in ``precision``."""
    return run_deletion_insertion(
        networks,
        method_functions(networks[source], methods, precision),
        test.images,
        test.labels,
        source=source,
        targets=targets,
        thresholds=thresholds,
        modes=modes,
        out_dir=out_dir / "eval",
        method_options=_method_options(methods),
        progress=progress,
        precision=precision,
    )


# ----------------------------------------------------------------------------- stages


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
            ("gradcam", "causal"),
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
    methods = ["gradcam", *(v.name for v in variants)]
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


def stage_qualitative(
    ctx: RunContext, networks: Mapping[str, Network], test: TestSet
) -> dict[str, Any]:
    """Fig. 2c-h for one NonCOVID scan; Fig. 3 for two COVID scans (masked confidences)."""
    network = networks[ctx.profile.archs[0]]
    maps, probs = _all_maps(network, test)
    figures: dict[str, Any] = {"threshold": ctx.profile.qualitative_threshold}
    negatives = torch.nonzero((probs.argmax(1) == test.labels) & (test.labels == 1)).flatten()
    if negatives.numel():
        i = int(negatives[0])
        prediction = _class_title(network, int(probs[i].argmax()), float(probs[i].max()))
        title = f"{test.names[i]}: {prediction}, true {CLASSES[1]}"
        figure = explanation_panel(test.images[i], {m: v[i] for m, v in maps.items()}, title)
        figures["fig2"] = _save(ctx, "fig2_panel.png", figure)
    figures["fig3"] = _fig3_panels(ctx, network, test, maps, probs)
    return figures


def _fig3_panels(
    ctx: RunContext,
    network: Network,
    test: TestSet,
    maps: Mapping[str, torch.Tensor],
    probs: torch.Tensor,
) -> list[str]:
    """Scans masked by Grad-CAM's and the causal map's pixels above the threshold, titled with
    the network's class and confidence on each masked image and its Huffman ratio."""
    tau = ctx.profile.qualitative_threshold
    keep = {m: _masked(test.images, maps[m], tau) for m in ("gradcam", "causal")}
    masked_probs = {m: _probabilities(network, images) for m, images in keep.items()}
    ratios = {m: huffman_ratio(images, test.images) for m, images in keep.items()}
    panels = []
    for number, i in enumerate(_fig3_choices(test, probs.argmax(1), masked_probs), start=1):
        views = [
            MaskedView(
                f"{label} mask (> {tau:.2f})",
                keep[m][i],
                _class_name(network, int(masked_probs[m][i].argmax())),
                float(masked_probs[m][i].max()),
                float(ratios[m][i]),
            )
            for m, label in (("gradcam", "Grad-CAM"), ("causal", "Causal"))
        ]
        unmasked = _class_title(network, int(probs[i].argmax()), float(probs[i].max()))
        title = f"{test.names[i]}: true {CLASSES[int(test.labels[i])]}, {unmasked} unmasked"
        figure = masked_panel(test.images[i], views, title)
        panels.append(_save(ctx, f"fig3_{number}.png", figure))
    return panels


def _all_maps(network: Network, test: TestSet) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    from .explain import Explainer

    layer = models.default_target_layer(network.model)
    with Explainer(network.model, target_layer=layer) as explainer:
        inputs = to_model_input(test.images.to(network.device), network.preprocessing)
        result = explainer.explain(inputs, methods=PAPER_METHODS)
    probs = torch.softmax(result.logits.detach().float().cpu(), dim=1)
    return {m: result.maps[m].detach().cpu() for m in PAPER_METHODS}, probs


def _masked(images: torch.Tensor, maps: torch.Tensor, tau: float) -> torch.Tensor:
    return torch.stack(
        [torch.from_numpy(keep_mask(x, m, tau)) for x, m in zip(images, maps, strict=True)]
    )


@torch.inference_mode()
def _probabilities(network: Network, images: torch.Tensor) -> torch.Tensor:
    network.model.eval()
    inputs = to_model_input(images.to(network.device), network.preprocessing)
    return torch.softmax(network.model(inputs).float().cpu(), dim=1)


def _fig3_choices(
    test: TestSet, predicted: torch.Tensor, masked: Mapping[str, torch.Tensor]
) -> list[int]:
    """COVID scans classified correctly from both masks: the one where the causal mask gains
    most confidence over Grad-CAM's (Fig. 3a), and the one where they are closest (Fig. 3b)."""
    covid = (test.labels == 0) & (predicted == 0)
    both = covid & (masked["gradcam"].argmax(1) == 0) & (masked["causal"].argmax(1) == 0)
    pool = torch.nonzero(both if both.any() else covid).flatten()
    if pool.numel() == 0:
        return []
    gain = masked["causal"][pool, 0] - masked["gradcam"][pool, 0]
    first = int(pool[int(gain.argmax())])
    second = int(pool[int(gain.abs().argmin())])
    return [first] if first == second else [first, second]


def _class_name(network: Network, index: int) -> str:
    classes = network.classes or tuple(CLASSES)
    return classes[index]


def _class_title(network: Network, index: int, confidence: float) -> str:
    return f"predicted {_class_name(network, index)} ({100 * confidence:.1f}%)"


def _save(ctx: RunContext, name: str, figure: Any) -> str:
    path = save_figure(ctx.figures / name, figure)
    return str(path.relative_to(ctx.run_dir))


NetworkStage = Callable[[RunContext, Mapping[str, Network], TestSet], dict[str, Any]]
NETWORK_STAGES: dict[str, NetworkStage] = {
    "curves": stage_curves,
    "transfer": stage_transfer,
    "ablation": stage_ablation,
    "rise": stage_rise,
    "qualitative": stage_qualitative,
}


# ----------------------------------------------------------------------------- the run


def hardware() -> dict[str, Any]:
    """What the run ran on."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.is_available(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


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
    ``precision``: of the maps and classifications of the evaluation stages (training keeps
    its recipe's; the qualitative figures stay fp32)."""
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
        # accuracy of always answering the most common class: what "chance" means here
        "majority_rate": float(test.labels.bincount().max()) / max(int(test.labels.numel()), 1),
    }
    bundled = _bundled_identity(chosen)
    trained = _stage(ctx, manifest, "train", test, bundled, lambda: stage_train(ctx, test))
    networks = _networks(ctx, {n["arch"]: n for n in trained["networks"]})
    upstream = digest_of(trained)
    for name, function in NETWORK_STAGES.items():

        def compute(function: NetworkStage = function) -> dict[str, Any]:
            return function(ctx, networks, test)

        _stage(ctx, manifest, name, test, upstream, compute)
    from .report import build_report

    started = time.perf_counter()
    paths = build_report(ctx.run_dir)
    _finish_stage(ctx, manifest, "report", time.perf_counter() - started, skipped=False)
    log(f"report: {paths.html}")
    return paths.html


def _start_manifest(ctx: RunContext) -> dict[str, Any]:
    path = ctx.run_dir / "manifest.json"
    previous = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    if previous and previous.get("profile", {}).get("name") != ctx.profile.name:
        raise InputError(
            f"{ctx.run_dir} holds a run of profile {previous['profile']['name']!r}; "
            f"use another --out for profile {ctx.profile.name!r}"
        )
    return {
        "profile": ctx.profile.to_dict(),
        "seed": ctx.seed,
        "started": previous.get("started", _now()),
        "versions": _versions(),
        "hardware": hardware(),
        "device": str(ctx.device),
        "precision": ctx.precision,
        "stages": previous.get("stages", {}),
    }


def _versions() -> dict[str, str]:
    versions = library_versions()
    from importlib import metadata

    for package in ("matplotlib", "pillow", "typer"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "unknown"
    return versions


def _stage(
    ctx: RunContext,
    manifest: dict[str, Any],
    name: str,
    test: TestSet,
    upstream: str | None,
    compute: Callable[[], dict[str, Any]],
) -> dict[str, Any]:
    """A stage's result from ``results/<name>.json`` if its fingerprint matches, else computed."""
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
    result = jsonable(compute())
    store.save_json("results", (name,), key, result)
    _finish_stage(ctx, manifest, name, time.perf_counter() - started, False, fingerprint=key)
    return dict(result)


def _finish_stage(
    ctx: RunContext,
    manifest: dict[str, Any],
    name: str,
    seconds: float | None,
    skipped: bool,
    fingerprint: str | None = None,
) -> None:
    entry = manifest["stages"].get(name, {})
    if seconds is not None:
        entry["seconds"] = round(seconds, 2)
    if fingerprint is not None:
        entry["fingerprint"] = fingerprint
    entry["finished"] = entry.get("finished") if skipped else _now()
    manifest["stages"][name] = entry
    manifest["updated"] = _now()
    atomic_write_json(ctx.run_dir / "manifest.json", manifest)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# ----------------------------------------------------------------------------- one-off pieces


def evaluate_checkpoints(
    checkpoints: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    methods: Sequence[str] = CURVE_METHODS,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    data_root: str | os.PathLike[str] | None = None,
    limit: int | None = None,
    n_boot: int = 1000,
    device: torch.device | None = None,
    progress: bool = True,
    precision: str = "fp32",
) -> list[Path]:
    """Within-network deletion/insertion of each checkpoint on the test split: tidy rows,
    summary (CSV + JSON) and the Fig. 2a-b plots under ``out_dir``; maps and
    classifications in ``precision``. Returns the files."""
    out = Path(out_dir)
    written: list[Path] = []
    for checkpoint in checkpoints:
        name = _checkpoint_name(checkpoint)
        network = load_network(Path(checkpoint), device or torch.device("cpu"))
        test = load_test_set(network.preprocessing.size, limit, _path_or_none(data_root))
        curves = _curves(
            out,
            {name: network},
            test,
            name,
            methods,
            thresholds=thresholds,
            progress=progress,
            precision=precision,
        )
        written += write_rows(curve_rows(curves), out / f"{name}_curves")
        written += write_rows(summarize(curves, n_boot=n_boot), out / f"{name}_summary")
        for mode in ("deletion", "insertion"):
            chosen = [c for c in curves if c.mode == mode]
            written.append(save_accuracy_curves(chosen, out / f"{name}_{mode}.png"))
    return written


def transfer_checkpoints(
    source: str | os.PathLike[str],
    targets: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    thresholds: Sequence[float] = TRANSFER_THRESHOLDS,
    data_root: str | os.PathLike[str] | None = None,
    limit: int | None = None,
    device: torch.device | None = None,
    progress: bool = True,
    causal: str = "causal",
    precision: str = "fp32",
) -> tuple[Path, ...]:
    """A Table 1/2 for ``source``'s masks fed to ``targets``: CSV, JSON and Markdown.
    ``causal``: the causal variant set against Grad-CAM (``causal`` = the default variant,
    or a name such as ``causal[mse,none,literal]``)."""
    CausalOptions.parse(causal)  # an unknown variant fails before any work
    where = device or torch.device("cpu")
    named = {_checkpoint_name(p): load_network(Path(p), where) for p in [source, *targets]}
    if len(named) != 1 + len(targets):
        raise InputError("name each checkpoint once; their file (or folder) names must differ")
    source_name = _checkpoint_name(source)
    sizes = {net.preprocessing.size for net in named.values()}
    if len(sizes) != 1:
        raise InputError(f"the checkpoints expect different input sizes: {sorted(sizes)}")
    test = load_test_set(sizes.pop(), limit, _path_or_none(data_root))
    target_names = [n for n in named if n != source_name]
    curves = _curves(
        Path(out_dir),
        named,
        test,
        source_name,
        ("gradcam", causal),
        targets=target_names,
        thresholds=thresholds,
        modes=("deletion",),
        progress=progress,
        precision=precision,
    )
    table = transference_table(
        curves, source=source_name, thresholds=thresholds, targets=target_names, challenger=causal
    )
    suffix = "" if causal == "causal" else "_" + re.sub(r"[^A-Za-z0-9]+", "_", causal).strip("_")
    return table.write(Path(out_dir) / f"transfer_{source_name}{suffix}")


def _checkpoint_name(path: str | os.PathLike[str]) -> str:
    """``runs/resnet34/best.pt`` -> ``resnet34``; ``r34.pt`` -> ``r34``."""
    file = Path(path)
    return file.parent.name if file.stem in ("best", "last") else file.stem


def _path_or_none(value: str | os.PathLike[str] | None) -> Path | None:
    return Path(value) if value is not None else None
