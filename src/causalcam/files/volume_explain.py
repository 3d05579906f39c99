"""Explain volumes with a 3-D network: what ``causalcam explain`` does when ``--model`` is a
3-D checkpoint (its metadata records an input grid, :class:`~causalcam.models.VolumeGrid`).

Each NIfTI file or DICOM series is read whole and windowed (:mod:`.volume_inputs`),
resampled onto the network's grid with its voxel spacing taken into account
(:mod:`causalcam.medical.resample`), explained in one pass, and every map is resampled back
onto the source voxels and written as ``<name>/<method>.nii.gz`` with the source affine, so
it overlays the scan in any viewer. ``<name>/planes.png`` shows the three planes through each
map's peak. ``explanations.json`` holds one record per volume: the prediction, the class
probabilities, where the volume lies in the grid, and each map's statistics on the source
grid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import DataError
from ..explain import CausalOptions, Explainer, Explanation
from ..medical.nifti import save_nifti
from ..medical.resample import Placement, place, to_grid
from ..models.volume import VolumeGrid, volume_input
from ..network import eval_mode
from ..viz import save_figure
from ..viz.volumes import planes_figure
from .disclaimer import short_notice
from .inputs import Skipped
from .outputs import ExplainRun, decision_record, unique_name
from .segment import predicted_regions, prediction_of, region_skip_reason
from .source import ModelSource
from .volume_inputs import WholeVolume


@dataclass(frozen=True)
class VolumeOptions:
    """How volumes are explained: ``methods``, the CAM ``layer``, the ``contrast`` class
    index (``None``: the engine's default), ``causal`` options, the forward pass's
    ``precision`` and, for a 3-D segmentation network, the class whose region (the voxels the
    network assigns to it) every map explains (``segment``)."""

    methods: Sequence[str]
    layer: str
    contrast: int | None = None
    causal: CausalOptions | None = None
    precision: str = "fp32"
    segment: int | None = None


@dataclass(frozen=True)
class OnGrid:
    """A volume on a network's grid: the model input ``(1, 1, *grid)``, its grey values in
    [0, 1] ``(*grid)`` and where the source lies (:class:`Placement`)."""

    inputs: torch.Tensor
    grey: torch.Tensor
    placement: Placement


def on_grid(volume: WholeVolume, grid: VolumeGrid) -> OnGrid:
    """``volume`` resampled onto ``grid``, spacing taken into account."""
    shape = (volume.grey.shape[0], volume.grey.shape[1], volume.grey.shape[2])
    placement = place(shape, volume.spacing, grid.shape, grid.spacing)
    grey = to_grid(torch.from_numpy(volume.grey).float() / 255.0, placement)
    return OnGrid(volume_input(grey[None], grid), grey, placement)


def explain_volume(
    explainer: Explainer, volume: WholeVolume, grid: VolumeGrid, options: VolumeOptions
) -> tuple[OnGrid, Explanation]:
    """One volume on the grid and its explanation (maps ``(1, *grid)``); a DataError where
    a segmentation network assigns no voxel to ``options.segment``."""
    placed = on_grid(volume, grid)
    device = next(iter(explainer.model.parameters())).device
    inputs = placed.inputs.to(device)
    targets = None
    if options.segment is not None:
        targets = predicted_regions(explainer.model, inputs, options.segment).present
        if not targets:
            raise DataError(region_skip_reason(f"class {options.segment}"))
    explanation = explainer.explain(
        inputs,
        methods=list(options.methods),
        contrast_class=options.contrast,
        causal=options.causal or CausalOptions(),
        targets=targets,
    )
    return placed, explanation


@dataclass
class VolumeRecorder:
    """Writes one explained volume's NIfTI maps and figure in its folder and returns its JSON
    record."""

    out_dir: Path
    classes: Sequence[str]
    methods: Sequence[str]

    def write(
        self, folder: Path, volume: WholeVolume, placed: OnGrid, explanation: Explanation
    ) -> dict[str, Any]:
        """Outputs of the first (only) volume of ``explanation``; its record."""
        decision = prediction_of(explanation, 0)
        grid_maps = {m: explanation.maps[m][:1].detach().float().cpu() for m in self.methods}
        maps = {m: placed.placement.to_source(v)[0].numpy() for m, v in grid_maps.items()}
        written = {
            m: str(
                save_nifti(
                    folder / f"{m}.nii.gz", volume.to_source(maps[m]), volume.affine, volume.header
                )
            )
            for m in self.methods
        }
        title = f"{self._name(decision.predicted)} ({decision.confidence:.0%}) - {volume.name}"
        figure = planes_figure(
            placed.grey.numpy(), {m: v[0].numpy() for m, v in grid_maps.items()}, title
        )
        figure.supxlabel(short_notice(), fontsize=7, color="#8a4b00")
        return {
            "file": str(volume.source),
            "volume": {**volume.facts, "grid": _placement(placed.placement)},
            **decision_record(decision, self._name),
            "maps": {m: volume_statistics(maps[m]) for m in self.methods},
            "outputs": {
                "nifti": written,
                "planes": str(save_figure(folder / "planes.png", figure)),
            },
        }

    def _name(self, index: int) -> str:
        return self.classes[index] if 0 <= index < len(self.classes) else str(index)


def _placement(placement: Placement) -> dict[str, Any]:
    return {
        "shape": list(placement.grid),
        "mm_per_voxel": [round(s, 6) for s in placement.step],
    }


def volume_statistics(values: np.ndarray) -> dict[str, Any]:
    """Mean, standard deviation, fraction of voxels above 0.5 and the peak's (D, H, W) voxel
    (axial viewing order) of a map on the source grid."""
    peak = np.unravel_index(int(np.argmax(values)), values.shape)
    return {
        "mean": float(values.mean()),
        "std": float(values.std()),
        "volume_above_0.5": float((values > 0.5).mean()),
        "peak": [int(axis) for axis in peak],
    }


def explain_volume_list(
    volumes: Sequence[WholeVolume] | Any,
    source: ModelSource,
    run: ExplainRun,
    options: VolumeOptions,
    bar: Any,
    skipped: list[Skipped] | None = None,
) -> list[dict[str, Any]]:
    """Explain every volume (an iterable of :class:`WholeVolume`) and write its outputs under
    ``run.out_dir``; the records are appended to ``run.records``, the volumes a segmentation
    network finds no region in to ``skipped``; returns the ``volumes`` entries of the summary
    (name, source, maps written, affine)."""
    grid = source.volume
    assert grid is not None
    recorder = VolumeRecorder(run.out_dir, source.classes, options.methods)
    names: list[str] = []
    entries = []
    with (
        eval_mode(source.model),
        Explainer(
            source.model, target_layer=options.layer, precision=options.precision
        ) as explainer,
    ):
        for volume in volumes:
            try:
                placed, explanation = explain_volume(explainer, volume, grid, options)
            except DataError as error:
                if skipped is None:
                    raise
                skipped.append(Skipped(str(volume.source), str(error)))
                bar.update(1)
                continue
            folder = run.out_dir / unique_name(volume.name, names)
            record = recorder.write(folder, volume, placed, explanation)
            run.records.append(record)
            entries.append(
                {
                    "name": folder.name,
                    "source": str(volume.source),
                    "maps": record["outputs"]["nifti"],
                    "affine": volume.affine.tolist(),
                }
            )
            bar.update(1)
    return entries
