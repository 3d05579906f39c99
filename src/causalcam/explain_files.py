"""Explain image files with a model and write what a person looks at: panels, overlays, JSON.

:func:`explain_files` is the function behind ``causalcam explain`` (and, on the bundled
sample scans, :func:`causalcam.demo.run_demo`). For each image it writes, in its own folder
under ``out_dir``:

- ``panel.png``: the scan and one overlay per method (the paper's Fig. 2c-h),
- ``overlay_<method>.png``: each map over the scan, full resolution,
- ``<method>.npy``: the raw float32 map in [0, 1] (on request),

and ``explanations.json`` beside them: model, classes, and per image the prediction, the class
probabilities, the contrast class and statistics of every map.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from . import models
from ._io import atomic_path, atomic_write_json
from .core import eval_mode
from .data import CLASSES, open_grey
from .data.cache import eval_resize, prepare
from .errors import CheckpointError, InputError
from .explain import ALL_METHODS, CausalOptions, Explainer, Explanation
from .method_names import PAPER_METHODS
from .preprocess import Preprocessing, to_model_input
from .viz import explanation_panel, prediction_title, save_figure, save_overlay

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp"})
DEFAULT_METHODS: tuple[str, ...] = PAPER_METHODS
_BATCH = 8


@dataclass(frozen=True)
class ModelSource:
    """A model ready to explain, with what is known about it."""

    model: nn.Module
    arch: str
    classes: list[str]
    preprocessing: Preprocessing
    description: str
    warning: str | None = None


@dataclass
class ExplainRun:
    """What :func:`explain_files` wrote: one record per image and the JSON summary's path."""

    out_dir: Path
    summary: Path
    records: list[dict[str, Any]] = field(default_factory=list)


def load_model_source(spec: str, device: torch.device) -> ModelSource:
    """A checkpoint file, ``"default"`` (the bundled ResNet-18), or an architecture name.

    An architecture name alone gives randomly initialised weights, flagged in ``warning``.
    """
    path = Path(spec).expanduser()
    if path.is_file():
        loaded = models.load_checkpoint(path, map_location=str(device))
        return _from_loaded(loaded, f"checkpoint {path}")
    if spec == "default":
        return _from_loaded(
            models.default_model(map_location=str(device)), "bundled ResNet-18 (default_model)"
        )
    if path.suffix in (".pt", ".pth", ".ckpt") or os.sep in spec or path.exists():
        raise CheckpointError(f"--model {spec}: no such checkpoint file")
    model = models.build(spec, num_classes=len(CLASSES))
    warning = (
        f"--model {spec} is an architecture name: its weights are RANDOM (not trained), "
        "so its explanations mean nothing; pass a checkpoint or 'default'"
    )
    return ModelSource(
        model.eval(), spec, list(CLASSES), Preprocessing(), f"untrained {spec}", warning
    )


def _from_loaded(loaded: models.LoadedModel, description: str) -> ModelSource:
    meta = loaded.meta
    return ModelSource(
        loaded.model.eval(), meta.arch, list(meta.classes), meta.preprocessing, description
    )


def collect_images(inputs: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Expand files and folders (recursively, sorted) into image files; at least one."""
    found: list[Path] = []
    for item in inputs:
        path = Path(item).expanduser()
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
            if not inside:
                raise InputError(f"folder {path} holds no image files ({_suffix_list()})")
            found.extend(inside)
        elif path.is_file():
            found.append(path)
        else:
            raise InputError(f"{path}: no such file or folder")
    if not found:
        raise InputError("no input images given")
    return found


def load_images(paths: Sequence[Path], size: int) -> torch.Tensor:
    """Decode by content and apply the evaluation preprocessing: grey, shorter side
    ``round(size * 256 / 224)``, centre crop ``size``. Returns uint8 ``(B, size, size)``."""
    resize = eval_resize(size)
    return torch.from_numpy(np.stack([prepare(open_grey(p), resize, size) for p in paths]))


def parse_contrast_class(value: str | None, classes: Sequence[str]) -> int | None:
    """A class index or a class name -> index (``None`` keeps the engine's default)."""
    if value is None:
        return None
    if value in classes:
        return list(classes).index(value)
    if value.lstrip("-").isdigit() and 0 <= int(value) < len(classes):
        return int(value)
    raise InputError(
        f"--contrast-class {value!r} is neither a class name nor an index; classes are "
        + ", ".join(f"{i}={name}" for i, name in enumerate(classes))
    )


def check_methods(methods: Sequence[str]) -> tuple[str, ...]:
    """Validate method names against the engine's :data:`ALL_METHODS` (order kept, no repeats)."""
    unknown = [m for m in methods if m not in ALL_METHODS]
    if unknown:
        raise InputError(
            f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(ALL_METHODS)}"
        )
    if not methods:
        raise InputError("choose at least one method")
    return tuple(dict.fromkeys(methods))


def explain_files(
    inputs: Iterable[str | os.PathLike[str]],
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
    precision: str = "fp32",
) -> ExplainRun:
    """Explain every image in ``inputs`` with ``source`` and write panels, overlays, JSON.

    ``true_classes`` (image path -> class name), when known, is shown in the panel titles and
    recorded in the JSON; ``precision``: the forward pass's (``Explainer``)."""
    chosen = check_methods(methods)
    paths = collect_images(inputs)
    contrast = parse_contrast_class(contrast_class, source.classes)
    target = device or torch.device("cpu")
    model = source.model.to(target)
    layer = target_layer or models.default_target_layer(model)
    run = ExplainRun(Path(out_dir), Path(out_dir) / "explanations.json")
    names = _unique_names(paths)
    options = causal or CausalOptions()
    output = _Output(list(source.classes), chosen, save_npy)
    with (
        eval_mode(model),
        Explainer(model, target_layer=layer, precision=precision) as explainer,
        tqdm(total=len(paths), desc="explaining", unit="image", disable=not progress) as bar,
    ):
        for start in range(0, len(paths), _BATCH):
            batch = paths[start : start + _BATCH]
            grey = load_images(batch, source.preprocessing.size)
            explanation = explainer.explain(
                to_model_input(grey.to(target), source.preprocessing),
                methods=chosen,
                contrast_class=contrast,
                causal=options,
            )
            for index, path in enumerate(batch):
                folder = run.out_dir / names[start + index]
                truth = (true_classes or {}).get(path)
                run.records.append(
                    _write_one(folder, path, truth, grey[index], explanation, index, output)
                )
                bar.update(1)
    atomic_write_json(run.summary, _summary(source, layer, chosen, causal, run))
    return run


@dataclass(frozen=True)
class _Output:
    """What to write for each image."""

    classes: list[str]
    methods: Sequence[str]
    save_npy: bool


def _write_one(
    folder: Path,
    path: Path,
    truth: str | None,
    grey: torch.Tensor,
    explanation: Explanation,
    index: int,
    output: _Output,
) -> dict[str, Any]:
    """Panel, overlays (and .npy maps) of image ``index`` of a batch; its JSON record."""
    classes, methods = output.classes, output.methods
    probabilities = torch.softmax(explanation.logits[index].detach().float().cpu(), dim=0)
    predicted = int(explanation.predicted[index])
    contrast = int(explanation.contrast[index])
    maps = {m: explanation.maps[m][index].detach().float().cpu().numpy() for m in methods}
    image = grey.numpy()
    title = prediction_title(
        _class_name(classes, predicted), float(probabilities[predicted]), truth, path.name
    )
    figure = explanation_panel(image, maps, title, methods=list(methods))
    outputs: dict[str, Any] = {"panel": str(save_figure(folder / "panel.png", figure))}
    outputs["overlays"] = {
        m: str(save_overlay(folder / f"overlay_{m}.png", image, maps[m])) for m in methods
    }
    if output.save_npy:
        outputs["npy"] = {m: str(_save_npy(folder / f"{m}.npy", maps[m])) for m in methods}
    return {
        "file": str(path),
        "true_class": truth,
        "predicted": predicted,
        "predicted_class": _class_name(classes, predicted),
        "confidence": float(probabilities[predicted]),
        "probabilities": {
            _class_name(classes, i): float(p) for i, p in enumerate(probabilities.tolist())
        },
        "contrast": contrast,
        "contrast_class": _class_name(classes, contrast),
        "maps": {m: map_statistics(maps[m]) for m in methods},
        "outputs": outputs,
    }


def map_statistics(values: np.ndarray) -> dict[str, Any]:
    """Mean, standard deviation, fraction of pixels above 0.5, and the peak's (row, col)."""
    peak = np.unravel_index(int(np.argmax(values)), values.shape)
    return {
        "mean": float(values.mean()),
        "std": float(values.std()),
        "area_above_0.5": float((values > 0.5).mean()),
        "peak": [int(peak[0]), int(peak[1])],
    }


def _summary(
    source: ModelSource,
    layer: str,
    methods: Sequence[str],
    causal: CausalOptions | None,
    run: ExplainRun,
) -> dict[str, Any]:
    options = causal or CausalOptions()
    return {
        "model": {
            "arch": source.arch,
            "source": source.description,
            "classes": source.classes,
            "input_size": source.preprocessing.size,
            "target_layer": layer,
            "warning": source.warning,
        },
        "methods": list(methods),
        "causal_options": options.to_dict(),
        "images": run.records,
    }


def _save_npy(path: Path, values: np.ndarray) -> Path:
    with atomic_path(path) as temp, open(temp, "wb") as stream:
        np.save(stream, values.astype(np.float32))
    return path


def _class_name(classes: Sequence[str], index: int) -> str:
    return classes[index] if 0 <= index < len(classes) else str(index)


def _unique_names(paths: Sequence[Path]) -> list[str]:
    """One output folder name per image: its stem, with ``-2``, ``-3``... on a clash."""
    names: list[str] = []
    for path in paths:
        name, number = path.stem, 1
        while name in names:
            number += 1
            name = f"{path.stem}-{number}"
        names.append(name)
    return names


def _suffix_list() -> str:
    return ", ".join(sorted(IMAGE_SUFFIXES))
