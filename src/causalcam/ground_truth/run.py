"""The ground-truth benchmark end to end: generate, train, explain, score, judge
(``causalcam benchmark ground-truth``).

Each network (design, label smoothing, seed) is one unit under ``OUT/networks/``: its weights,
its reliance on each feature by intervention, the scores of every map on the images it
explains and its deletion/insertion curves, saved once done and reused by a rerun with the same
settings, so an interrupted run resumes. The configuration results, the verdicts and the
report are rebuilt from the units.
"""

from __future__ import annotations

import io
import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .._io import atomic_path, atomic_write_bytes, atomic_write_json
from ..errors import InputError
from ..evaluate.settings import EvaluationSettings
from ..evaluate.summary import DEFAULT_H_VALUES, budget_estimates, majority_rate
from ..evaluate.threshold import Curve, evaluate_maps
from ..explain import CausalOptions, Explainer
from ..method_names import CAUSAL, GRADCAM, GRADCAM_PP
from ..precision import cpu_vector_extensions
from ..preprocess import to_model_input
from ..synthetic import Design, SyntheticSet, generate, parse_design
from ..synthetic.designs import default_designs
from .layout import unit_folder
from .maps import DEFAULT_CONTEXT, compute_maps
from .networks import (
    TARGET_LAYERS,
    TrainSettings,
    as_network,
    build_network,
    preprocessing,
    reliance,
    train_network,
)
from .report import write_report
from .scoring import POINT_CAUSE, POINT_CONTEXT, GroundTruthScore, ImageScores, estimate
from .verdicts import (
    BenchmarkResult,
    ConfigResult,
    CurveRow,
    MapRow,
    NetworkSummary,
    Verdict,
    predictions,
    reading_verdicts,
)

#: Bump when what a unit stores changes: older units are recomputed.
UNIT_VERSION = 2
#: Methods of the deletion/insertion curves: Grad-CAM, Grad-CAM++, the default and the
#: literal reading of the causal map.
CURVE_READINGS: tuple[CausalOptions, ...] = (CausalOptions(), CausalOptions.literal())
#: Maps drawn in the example figures.
FIGURE_METHODS: tuple[str, ...] = (
    GRADCAM,
    GRADCAM_PP,
    "contrast_pq",
    "contrast_none",
    "contrast_p",
    DEFAULT_CONTEXT,
    CAUSAL,
    CausalOptions.literal().name,
)


@dataclass(frozen=True)
class BenchmarkConfig:
    """What the benchmark runs: design labels (``shortcut-0.95``, ``shared``, ``contrast``),
    training seeds per configuration, label smoothings, training and test images per design,
    epochs, architecture and image size, bootstrap resamples, and the deletion/insertion
    protocol (test images and thresholds; ``curve_images = 0`` skips it)."""

    designs: tuple[str, ...] = tuple(d.label for d in default_designs())
    seeds: int = 2
    smoothing: tuple[float, ...] = (0.0, 0.1)
    n_train: int = 3000
    n_test: int = 400
    epochs: int = 5
    arch: str = "small"
    size: int = 64
    n_boot: int = 2000
    curve_images: int = 200
    curve_thresholds: tuple[float, ...] = tuple(round(0.1 * k, 1) for k in range(1, 9))
    examples: int = 3
    data_seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for label in self.designs:
            parse_design(label, self.size)
        if self.seeds < 1 or self.n_train < 10 or self.n_test < 10 or self.epochs < 1:
            raise InputError("need seeds >= 1, n_train >= 10, n_test >= 10 and epochs >= 1")

    @classmethod
    def full(cls) -> BenchmarkConfig:
        """ResNet-18 at 128 px, target layer ``layer3``, three seeds, longer training."""
        return cls(seeds=3, n_train=4000, n_test=400, epochs=8, arch="resnet18", size=128)

    def design_list(self) -> list[Design]:
        return [parse_design(label, self.size) for label in self.designs]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Unit:
    """What one network gave: its summary, per-map scores, example maps and curves."""

    summary: NetworkSummary
    scores: dict[str, ImageScores]
    curves: list[Curve]
    cpu_seconds: float = 0.0
    reused: bool = False


def _identity(
    config: BenchmarkConfig, design: Design, smoothing: float, seed: int
) -> dict[str, Any]:
    return {
        "version": UNIT_VERSION,
        "design": design.to_json(),
        "smoothing": smoothing,
        "seed": seed,
        "data_seed": config.data_seed,
        **{k: getattr(config, k) for k in ("n_train", "n_test", "epochs", "arch")},
        "curve_images": config.curve_images,
        "curve_thresholds": list(config.curve_thresholds),
    }


def _curves_path(folder: Path) -> Path:
    return folder / "curves.npz"


def _save_curves(curves: list[Curve], folder: Path) -> None:
    arrays: dict[str, Any] = {}
    for k, c in enumerate(curves):
        arrays[f"{k}:meta"] = np.array([c.source, c.method, c.target, c.mode])
        arrays[f"{k}:thresholds"], arrays[f"{k}:correct"] = c.thresholds, c.correct
        arrays[f"{k}:bits"], arrays[f"{k}:original_bits"] = c.bits, c.original_bits
    buffer = io.BytesIO()
    np.savez_compressed(buffer, allow_pickle=False, **arrays)
    atomic_write_bytes(_curves_path(folder), buffer.getvalue())


def _meta(values: np.ndarray) -> tuple[str, str, str, str]:
    source, method, target, mode = (str(v) for v in values)
    return source, method, target, mode


def _load_curves(folder: Path) -> list[Curve]:
    path = _curves_path(folder)
    if not path.exists():
        return []
    with np.load(path) as data:
        count = len({key.split(":")[0] for key in data.files})
        return [
            Curve(
                *_meta(data[f"{k}:meta"]),
                data[f"{k}:thresholds"],
                data[f"{k}:correct"],
                data[f"{k}:bits"],
                data[f"{k}:original_bits"],
            )
            for k in range(count)
        ]


def _curves(
    model: nn.Module, layer: str, test: SyntheticSet, config: BenchmarkConfig
) -> list[Curve]:
    """The paper's threshold deletion/insertion on the first ``curve_images`` test images,
    maps of the predicted class (as on COVID-CT)."""
    chosen = test.subset(torch.arange(min(config.curve_images, len(test))))
    inputs = to_model_input(chosen.images, preprocessing(test.design.size))
    with Explainer(model, target_layer=layer) as explainer:
        result = explainer.explain(
            inputs, methods=(GRADCAM, GRADCAM_PP, CAUSAL), causal=CURVE_READINGS
        )
    maps = {m: result.maps[m] for m in (GRADCAM, GRADCAM_PP, *(v.name for v in CURVE_READINGS))}
    return evaluate_maps(
        {"net": as_network(model, test)},
        maps,
        chosen.images,
        chosen.labels,
        source="net",
        settings=EvaluationSettings(thresholds=config.curve_thresholds, progress=False),
    )


def _run_unit(
    config: BenchmarkConfig,
    design: Design,
    smoothing: float,
    seed: int,
    data: tuple[SyntheticSet, SyntheticSet],
    folder: Path,
    on_skip: Callable[[str, str], None] | None,
    progress: bool,
) -> Unit:
    identity = _identity(config, design, smoothing, seed)
    done = folder / "unit.json"
    if done.exists():
        stored = json.loads(done.read_text(encoding="utf-8"))
        if stored.get("identity") == identity:
            return Unit(
                NetworkSummary.from_json(stored["summary"]),
                {k: ImageScores.from_json(v) for k, v in stored["scores"].items()},
                _load_curves(folder),
                float(stored.get("cpu_seconds", 0.0)),
                reused=True,
            )
    cpu_start = time.process_time()
    train, test = data
    settings = TrainSettings(config.arch, config.epochs, smoothing=smoothing, seed=seed)
    weights = folder / "network.pt"
    trained_with = folder / "network.json"
    model: nn.Module
    if (
        weights.exists()
        and trained_with.exists()
        and json.loads(trained_with.read_text()) == identity
    ):
        model = build_network(config.arch, len(design.classes))
        model.load_state_dict(torch.load(weights, weights_only=True))
        model.eval()
    else:
        model = train_network(train, settings, progress=progress)
        with atomic_path(weights) as tmp:
            torch.save(model.state_dict(), tmp)
        atomic_write_json(trained_with, identity)
    layer = TARGET_LAYERS[config.arch]
    used = reliance(model, test)
    summary = NetworkSummary(seed, smoothing, used.accuracy, used.confidence)
    chosen = test.subset(test.explained)
    inputs = to_model_input(chosen.images, preprocessing(design.size))
    maps = compute_maps(model, layer, inputs, chosen.target, chosen.contrast, on_skip=on_skip)
    scorer = GroundTruthScore()
    # through the stored form, so a resumed run reads exactly what this one uses
    scores = {
        name: ImageScores.from_json(scorer(m, chosen.cause, chosen.context).to_json())
        for name, m in maps.items()
    }
    if seed == 0:
        examples = {m: maps[m][: config.examples].clone() for m in FIGURE_METHODS if m in maps}
        examples["image"] = chosen.images[: config.examples].clone()
        examples["cause"] = chosen.cause[: config.examples].clone()
        examples["context"] = chosen.context[: config.examples].clone()
        with atomic_path(folder / "examples.pt") as tmp:
            torch.save(examples, tmp)
    curves = _curves(model, layer, test, config) if config.curve_images > 0 else []
    if curves:
        _save_curves(curves, folder)
    cpu_seconds = round(time.process_time() - cpu_start, 1)
    atomic_write_json(
        done,
        {
            "identity": identity,
            "summary": summary.to_json(),
            "scores": {k: v.to_json() for k, v in scores.items()},
            "cpu_seconds": cpu_seconds,
        },
    )
    return Unit(summary, scores, curves, cpu_seconds)


def _rows(units: list[Unit], n_boot: int) -> list[MapRow]:
    methods = [m for m in units[0].scores if all(m in u.scores for u in units)]
    rows = []
    for method in methods:
        mine = [u.scores[method] for u in units]
        ref = [u.scores[GRADCAM] for u in units]
        rows.append(
            MapRow(
                method,
                cause=estimate([s.cause for s in mine], n_boot),
                context=estimate([s.context for s in mine], n_boot),
                separation=estimate([s.separation for s in mine], n_boot),
                gain=estimate(
                    [s.separation - r.separation for s, r in zip(mine, ref, strict=True)], n_boot
                ),
                context_change=estimate(
                    [s.context - r.context for s, r in zip(mine, ref, strict=True)], n_boot
                ),
                point_cause=float(np.mean([np.mean(s.point == POINT_CAUSE) for s in mine])),
                point_context=float(np.mean([np.mean(s.point == POINT_CONTEXT) for s in mine])),
                empty=float(np.mean([np.mean(s.empty) for s in mine])),
            )
        )
    return rows


def _curve_rows(units: list[Unit], labels: torch.Tensor, n_boot: int) -> list[CurveRow]:
    if not all(u.curves for u in units):
        return []
    chance = majority_rate(labels)
    out = []
    for mode in ("deletion", "insertion"):
        by_unit = [{c.method: c for c in u.curves if c.mode == mode} for u in units]
        for method in by_unit[0]:
            if method == GRADCAM:
                continue
            pairs = [(curves[method], curves[GRADCAM]) for curves in by_unit]
            diff, _ = budget_estimates(pairs, DEFAULT_H_VALUES, n_boot=n_boot, chance=chance)
            out.append(CurveRow(mode, method, diff))
    return out


def _config_result(
    design: Design, smoothing: float, units: list[Unit], test: SyntheticSet, config: BenchmarkConfig
) -> ConfigResult:
    rows = _rows(units, config.n_boot)
    by_method = {r.method: r for r in rows}
    verdicts = [
        Verdict(
            p,
            by_method[p.method].quantity(p.quantity),
            p.judge(by_method[p.method].quantity(p.quantity)),
        )
        for p in predictions(design, list(by_method))
    ]
    curve_labels = test.labels[: config.curve_images]
    return ConfigResult(
        design,
        smoothing,
        int(test.explained.sum()),
        tuple(u.summary for u in units),
        tuple(rows),
        tuple(verdicts),
        tuple(_curve_rows(units, curve_labels, max(200, config.n_boot // 4))),
    )


def run_benchmark(
    config: BenchmarkConfig,
    out: str | Path,
    *,
    progress: bool = True,
    on_skip: Callable[[str, str], None] | None = None,
) -> BenchmarkResult:
    """Run (or resume) the benchmark into ``out``: ``results.json``, ``manifest.json`` and the
    report (:func:`causalcam.ground_truth.report.write_report`)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    started, load_start = time.monotonic(), os.getloadavg()
    configs = []
    cpu_seconds, reused, computed = 0.0, 0, 0
    jobs = [(d, s) for d in config.design_list() for s in config.smoothing]
    skipped: dict[str, str] = {}

    def skip(name: str, reason: str) -> None:
        skipped.setdefault(name, reason)
        if on_skip is not None:
            on_skip(name, reason)

    bar = tqdm(total=len(jobs) * config.seeds, desc="networks", disable=not progress)
    with bar:
        for design, smoothing in jobs:
            train = generate(design, config.n_train, config.data_seed, "train")
            test = generate(design, config.n_test, config.data_seed, "test")
            units: list[Unit] = []
            for seed in range(config.seeds):
                bar.set_postfix_str(f"{design.label} smoothing {smoothing:g} seed {seed}")
                folder = unit_folder(out, design, smoothing, seed)
                folder.mkdir(parents=True, exist_ok=True)
                units.append(
                    _run_unit(
                        config, design, smoothing, seed, (train, test), folder, skip, progress
                    )
                )
                bar.update(1)
            cpu_seconds += sum(u.cpu_seconds for u in units)
            reused += sum(u.reused for u in units)
            computed += sum(not u.reused for u in units)
            configs.append(_config_result(design, smoothing, units, test, config))
    result = BenchmarkResult(config.to_dict(), tuple(configs), tuple(reading_verdicts(configs)))
    atomic_write_json(out / "results.json", result.to_json())
    manifest = {
        "command": "causalcam benchmark ground-truth",
        "settings": config.to_dict(),
        "seconds": round(time.monotonic() - started, 1),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "unit_cpu_seconds": round(cpu_seconds, 1),
        "networks_computed": computed,
        "networks_reused": reused,
        "cpu": platform.processor() or platform.machine(),
        "cpu_vector": cpu_vector_extensions(),
        "cpu_count": os.cpu_count(),
        "load_average_start": [round(v, 2) for v in load_start],
        "load_average_end": [round(v, 2) for v in os.getloadavg()],
        "skipped_methods": skipped,
    }
    write_report(result, out, manifest)
    return result


def with_overrides(config: BenchmarkConfig, **changes: Any) -> BenchmarkConfig:
    """``config`` with the options a user gave (None: keep)."""
    return replace(config, **{k: v for k, v in changes.items() if v is not None})
