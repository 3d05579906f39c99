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
from PIL import Image
from torch import nn
from tqdm import tqdm

from . import models
from ._io import atomic_path, atomic_write_json
from .data import CLASSES
from .data.cache import eval_resize, prepare
from .disclaimer import research_notice, short_notice
from .errors import CheckpointError, DataError, InputError
from .explain import ALL_METHODS, CausalOptions, Explainer, Explanation
from .inputs import IMAGE_SUFFIXES as IMAGE_SUFFIXES  # its old home, still imported
from .inputs import Inputs, Reading, Scan, gather
from .medical.volumes import VolumeWriter
from .method_names import PAPER_METHODS
from .network import eval_mode
from .preprocess import Preprocessing, to_model_input
from .viz import explanation_panel, prediction_title, save_figure, save_overlay

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
    skipped: list[dict[str, str]] = field(default_factory=list)


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
    """The files :func:`explain_files` reads (images, DICOM, NIfTI): folders expanded
    recursively and sorted, READMEs and other non-images left out (:mod:`causalcam.inputs`)."""
    return gather(inputs).files()


def load_images(
    inputs: Iterable[str | os.PathLike[str]], size: int, reading: Reading | None = None
) -> torch.Tensor:
    """Decode image, DICOM or NIfTI files (one scan per slice) and apply the evaluation
    preprocessing (:func:`model_sized`); :class:`DataError` names the first unreadable file."""
    found = gather(inputs, reading or Reading())
    scans = list(found.scans())
    if found.skipped:
        raise DataError(f"{found.skipped[0].file}: {found.skipped[0].reason}")
    return model_sized(scans, size)


def model_sized(scans: Sequence[Scan], size: int) -> torch.Tensor:
    """Decoded scans -> the evaluation preprocessing: shorter side ``round(size * 256 / 224)``,
    centre crop ``size``; uint8 ``(B, size, size)``."""
    resize = eval_resize(size)
    return torch.from_numpy(
        np.stack([prepare(Image.fromarray(scan.grey), resize, size) for scan in scans])
    )


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
    reading: Reading | None = None,
    precision: str = "fp32",
) -> ExplainRun:
    """Explain every image in ``inputs`` with ``source`` and write panels, overlays, JSON.

    Files that cannot be read are skipped and listed (``run.skipped``, the JSON's
    ``skipped``); ``reading`` sets the DICOM/NIfTI window, plane and slices
    (:mod:`causalcam.inputs`). ``true_classes`` (image path -> class name), when known, is
    shown in the panel titles and recorded in the JSON; ``precision``: the forward pass's
    (``Explainer``)."""
    chosen = check_methods(methods)
    found = gather(inputs, reading or Reading())
    contrast = parse_contrast_class(contrast_class, source.classes)
    target = device or torch.device("cpu")
    model = source.model.to(target)
    layer = target_layer or models.default_target_layer(model)
    run = ExplainRun(Path(out_dir), Path(out_dir) / "explanations.json")
    names: list[str] = []
    options = causal or CausalOptions()
    output = _Output(list(source.classes), chosen, save_npy)
    size = source.preprocessing.size
    volumes = VolumeWriter(run.out_dir, chosen, size, eval_resize(size))
    with (
        eval_mode(model),
        Explainer(model, target_layer=layer, precision=precision) as explainer,
        tqdm(total=found.expected, desc="explaining", unit="image", disable=not progress) as bar,
    ):
        for batch in found.batches(_BATCH):
            grey = model_sized(batch, size)
            explanation = explainer.explain(
                to_model_input(grey.to(target), source.preprocessing),
                methods=chosen,
                contrast_class=contrast,
                causal=options,
            )
            for index, scan in enumerate(batch):
                folder = run.out_dir / _unique_name(scan.name, names)
                truth = (true_classes or {}).get(scan.source)
                record = _write_one(
                    folder, scan.source, truth, grey[index], explanation, index, output
                )
                run.records.append({**record, **scan.facts})
                if scan.volume is not None:
                    maps = _maps_of(explanation, index, chosen)
                    volumes.add(scan.index, found.volumes[scan.volume], maps)
                bar.update(1)
    run.skipped = [s.to_dict() for s in found.skipped]
    write_summary(run, source, layer, chosen, causal, found, reading, volumes.written)
    return run


def _maps_of(explanation: Explanation, index: int, methods: Sequence[str]) -> dict[str, np.ndarray]:
    """Image ``index``'s maps of ``methods`` as float32 arrays."""
    return {m: explanation.maps[m][index].detach().float().cpu().numpy() for m in methods}


def write_summary(
    run: ExplainRun,
    source: ModelSource,
    layer: str,
    methods: Sequence[str],
    causal: CausalOptions | None,
    found: Inputs,
    reading: Reading | None,
    volumes: list[dict[str, Any]],
) -> None:
    """Write ``explanations.json``: the model, options, every image's record, the skipped
    files, the volumes written and the research-use notice."""
    summary = _summary(source, layer, methods, causal, run)
    summary.update(found.summary(), volumes=volumes, reading=(reading or Reading()).to_dict())
    summary["notice"] = research_notice()
    atomic_write_json(run.summary, summary)


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
    figure.supxlabel(short_notice(), fontsize=7, color="#8a4b00")
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


def _unique_name(name: str, taken: list[str]) -> str:
    """``name``, or ``name-2``, ``name-3``... when taken; appended to ``taken``."""
    unique, number = name, 1
    while unique in taken:
        number += 1
        unique = f"{name}-{number}"
    taken.append(unique)
    return unique
