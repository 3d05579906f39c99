"""What explaining files writes: per image a panel, overlays (and ``.npy`` maps) in a folder of
its own, and ``explanations.json`` for the whole run.

:class:`ImageWriter` writes one explained image and returns its JSON record; it is shared by
:func:`causalcam.files.explain_files` and the sharded run of :mod:`causalcam.distributed`,
which is why folder names (:func:`unique_name`) and the summary (:func:`write_summary`) are
public here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._io import atomic_path, atomic_write_json
from ..explain import Explanation
from ..viz import explanation_panel, prediction_title, save_figure, save_overlay
from .disclaimer import research_notice, short_notice
from .inputs import Inputs
from .segment import Prediction, prediction_of
from .settings import ExplainSettings
from .source import ModelSource


@dataclass
class ExplainRun:
    """What :func:`~causalcam.files.explain_files` wrote: one record per image and the JSON
    summary's path."""

    out_dir: Path
    summary: Path
    records: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)


def unique_name(name: str, taken: list[str]) -> str:
    """``name``, or ``name-2``, ``name-3``... when taken; appended to ``taken``."""
    unique, number = name, 1
    while unique in taken:
        number += 1
        unique = f"{name}-{number}"
    taken.append(unique)
    return unique


def display_image(image: torch.Tensor) -> np.ndarray:
    """A model-sized uint8 image, grey ``(H, W)`` or RGB ``(3, H, W)``, as the ``(H, W)`` or
    ``(H, W, 3)`` array the figures draw."""
    array = image.detach().cpu().numpy()
    return np.ascontiguousarray(array.transpose(1, 2, 0)) if array.ndim == 3 else array


@dataclass(frozen=True)
class ImageWriter:
    """Writes what a person looks at for one explained image, in ``folder``: ``panel.png``
    (the image and one overlay per method), ``overlay_<method>.png`` and, when ``save_npy``,
    ``<method>.npy`` (float32 maps in [0, 1]); :meth:`write` returns the image's JSON record."""

    classes: list[str]
    methods: Sequence[str]
    save_npy: bool = False

    def write(
        self,
        folder: Path,
        path: Path,
        truth: str | None,
        image: torch.Tensor,
        explanation: Explanation,
        index: int,
    ) -> dict[str, Any]:
        """Outputs of image ``index`` of a batch (``image``: its model-sized uint8 pixels,
        ``(H, W)`` or ``(3, H, W)``); its record: prediction, probabilities, map statistics."""
        methods = self.methods
        decision = prediction_of(explanation, index)
        maps = {m: explanation.maps[m][index].detach().float().cpu().numpy() for m in methods}
        pixels = display_image(image)
        name = self.class_name(decision.predicted)
        if decision.region is not None:
            name = f"{name} region ({decision.region['share']:.0%} of pixels)"
        title = prediction_title(name, decision.confidence, truth, path.name)
        figure = explanation_panel(pixels, maps, title, methods=list(methods))
        figure.supxlabel(short_notice(), fontsize=7, color="#8a4b00")
        outputs: dict[str, Any] = {"panel": str(save_figure(folder / "panel.png", figure))}
        outputs["overlays"] = {
            m: str(save_overlay(folder / f"overlay_{m}.png", pixels, maps[m])) for m in methods
        }
        if self.save_npy:
            outputs["npy"] = {m: str(_save_npy(folder / f"{m}.npy", maps[m])) for m in methods}
        return {
            "file": str(path),
            "true_class": truth,
            **decision_record(decision, self.class_name),
            "maps": {m: map_statistics(maps[m]) for m in methods},
            "outputs": outputs,
        }

    def class_name(self, index: int) -> str:
        """The name of class ``index``, or the index itself when the model has no such name."""
        return self.classes[index] if 0 <= index < len(self.classes) else str(index)


def decision_record(decision: Prediction, name: Callable[[int], str]) -> dict[str, Any]:
    """The JSON record of a decision (``name``: a class index's name); a segmentation
    network's adds its ``region`` (class, pixels, share of the image)."""
    record: dict[str, Any] = {
        "predicted": decision.predicted,
        "predicted_class": name(decision.predicted),
        "confidence": decision.confidence,
        "probabilities": {name(i): p for i, p in enumerate(decision.probabilities)},
        "contrast": decision.contrast,
        "contrast_class": name(decision.contrast),
    }
    if decision.region is not None:
        record["region"] = decision.region
    return record


def map_statistics(values: np.ndarray) -> dict[str, Any]:
    """Mean, standard deviation, fraction of pixels above 0.5, and the peak's (row, col)."""
    peak = np.unravel_index(int(np.argmax(values)), values.shape)
    return {
        "mean": float(values.mean()),
        "std": float(values.std()),
        "area_above_0.5": float((values > 0.5).mean()),
        "peak": [int(peak[0]), int(peak[1])],
    }


def write_summary(
    run: ExplainRun,
    source: ModelSource,
    settings: ExplainSettings,
    found: Inputs,
    volumes: list[dict[str, Any]],
) -> None:
    """Write ``explanations.json``: the model, options (``settings``, resolved: see
    :meth:`ExplainSettings.resolved`), every image's record, the skipped files, the volumes
    written and the research-use notice."""
    summary: dict[str, Any] = {
        "model": {
            "arch": source.arch,
            "source": source.description,
            "classes": source.classes,
            "input_size": source.preprocessing.size,
            "preprocessing": source.preprocessing.to_dict(),
            "target_layer": settings.target_layer,
            "warning": source.warning,
        },
        "methods": list(settings.methods),
        "causal_options": settings.causal.to_dict(),
        "images": run.records,
    }
    if source.volume is not None:
        summary["model"]["input_grid"] = source.volume.to_dict()
    summary.update(found.summary(), volumes=volumes, reading=settings.reading.to_dict())
    summary["notice"] = research_notice()
    atomic_write_json(run.summary, summary)


def _save_npy(path: Path, values: np.ndarray) -> Path:
    with atomic_path(path) as temp, open(temp, "wb") as stream:
        np.save(stream, values.astype(np.float32))
    return path
