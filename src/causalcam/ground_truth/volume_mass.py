"""Lesion mass of a 3-D network's maps on generated volumes (``causalcam benchmark volumes``).

Held-out volumes of the 3-D ground-truth generator (:mod:`causalcam.synthetic`, the
``test`` split, a seed no training epoch draws) are classified by the network (its
accuracy on all of them, with a bootstrap interval) and the volumes that hold a planted
lesion are explained for the lesion class with every map of the one pass. Each map's share
of its mass on the lesion voxels, ``sum(M * lesion) / sum(M)`` (an all-zero map counts as
0), is averaged over those volumes with a 95% bootstrap interval over volumes; its paired
difference to Grad-CAM's share uses the same resamples, and a uniform map's share (the
lesion's share of the volume) is the chance level. The output folder holds
``results.json`` (:class:`~causalcam.results.LesionMassResult`), ``results.csv``,
``planes.png`` (one volume's maps in three planes with the lesion outlined),
``manifest.json`` and a ``README.md`` with the command.
"""

from __future__ import annotations

import csv
import io
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor
from tqdm import tqdm

from .._io import atomic_write_json, atomic_write_text
from ..errors import InputError
from ..evaluate.localisation import mass_share
from ..explain import Explainer
from ..method_names import GRADCAM, ONE_PASS_METHODS, PAPER_METHODS, method_label
from ..models.checkpoint import LoadedModel, bundled_model, library_versions, load_checkpoint
from ..models.registry import default_target_layer
from ..models.volume import VolumeGrid, volume_input
from ..results import Estimate, LesionMassResult, LesionMassRow
from ..synthetic import LESION, SyntheticSet
from ..training.volumes import VolumeTrainConfig, generate_volumes, predict_volumes
from ..viz import save_figure
from ..viz.volumes import planes_figure
from .scoring import estimate


@dataclass(frozen=True)
class LesionMassConfig:
    """What ``causalcam benchmark volumes`` measures: the 3-D network (a bundled name such
    as ``small3d-lesion`` or a 3-D checkpoint), how many held-out ``volumes`` from which
    generator ``seed``, the ``methods``, bootstrap resamples and the explained batch size."""

    model: str = "small3d-lesion"
    volumes: int = 96
    seed: int = 101
    methods: tuple[str, ...] = ONE_PASS_METHODS
    n_boot: int = 2000
    batch_size: int = 16

    def command(self, out: Path) -> str:
        """The command line that measures this configuration into ``out``."""
        methods = "" if self.methods == ONE_PASS_METHODS else f" --methods {','.join(self.methods)}"
        return (
            f"causalcam benchmark volumes --out {out} --model {self.model} --volumes "
            f"{self.volumes} --seed {self.seed} --n-boot {self.n_boot}{methods}"
        )


@dataclass
class LesionMassRun:
    """The measured table and the figure of its first lesion volume."""

    result: LesionMassResult
    figure: Figure


def _load(model: str) -> LoadedModel:
    """A bundled network by name, or a checkpoint file."""
    return load_checkpoint(model) if Path(model).is_file() else bundled_model(model)


def _maps(
    explainer: Explainer,
    data: SyntheticSet,
    grid: VolumeGrid,
    config: LesionMassConfig,
    progress: bool,
) -> dict[str, Tensor]:
    """Every method's maps ``(n, D, H, W)`` of the lesion class on ``data``."""
    lesion_class = data.design.classes.index(LESION)
    parts: dict[str, list[Tensor]] = {m: [] for m in config.methods}
    for chunk in tqdm(
        data.images.split(config.batch_size), desc="explain volumes", disable=not progress
    ):
        explained = explainer.explain(
            volume_input(chunk, grid), list(config.methods), target_class=lesion_class
        )
        for method in config.methods:
            parts[method].append(explained.maps[method].detach().float().cpu())
    return {m: torch.cat(v) for m, v in parts.items()}


def _rows(maps: dict[str, Tensor], lesion: Tensor, n_boot: int) -> list[LesionMassRow]:
    """Each map's lesion share and its paired difference to Grad-CAM's."""
    shares = {m: torch.nan_to_num(mass_share(v, lesion), nan=0.0).numpy() for m, v in maps.items()}
    rows = []
    for method, values in shares.items():
        versus = Estimate()
        if GRADCAM in shares and method != GRADCAM:
            versus = estimate([values - shares[GRADCAM]], n_boot)
        empty = int((maps[method].flatten(1).amax(1) <= 0).sum())
        rows.append(LesionMassRow(method, len(values), estimate([values], n_boot), versus, empty))
    return rows


def _figure(data: SyntheticSet, maps: dict[str, Tensor], model: str) -> Figure:
    """The first volume's maps of the paper's methods (else all) in three planes, the lesion
    outlined."""
    shown = [m for m in PAPER_METHODS if m in maps] or list(maps)
    grey = data.images[0].numpy()
    title = f"{model}: a held-out generated volume, lesion outlined"
    return planes_figure(
        grey, {m: maps[m][0].numpy() for m in shown}, title, outline=data.masks[LESION][0].numpy()
    )


def lesion_mass(config: LesionMassConfig, progress: bool = True) -> LesionMassRun:
    """Measure ``config`` (module doc); nothing is written."""
    if config.volumes < 2 or not config.methods:
        raise InputError("the lesion-mass table needs at least 2 volumes and one method")
    started = time.perf_counter()
    loaded = _load(config.model)
    design = VolumeTrainConfig.of_network(loaded.meta, config.model)
    grid = loaded.meta.volume
    assert grid is not None  # checked by VolumeTrainConfig.of_network
    data = generate_volumes(design.volume_design(), config.volumes, config.seed, "test")
    probs = predict_volumes(loaded.model, data.images, grid)
    correct = (probs.argmax(1) == data.labels).double().numpy()
    with_lesion = data.subset(data.present[LESION])
    if len(with_lesion) == 0:
        raise InputError(f"none of the {config.volumes} generated volumes holds a lesion")
    layer = default_target_layer(loaded.meta.arch)
    maps = _maps(Explainer(loaded.model, layer), with_lesion, grid, config, progress)
    lesion = with_lesion.masks[LESION]
    result = LesionMassResult(
        model=config.model,
        design=design.design,
        grid=list(grid.shape),
        split="test",
        seed=config.seed,
        n_volumes=config.volumes,
        n_lesion=len(with_lesion),
        accuracy=estimate([correct], config.n_boot),
        uniform=estimate([lesion.flatten(1).double().mean(1).numpy()], config.n_boot),
        rows=_rows(maps, lesion, config.n_boot),
        n_boot=config.n_boot,
        seconds=round(time.perf_counter() - started, 1),
    )
    return LesionMassRun(result, _figure(with_lesion, maps, config.model))


def _csv(result: LesionMassResult) -> str:
    """One line per map and one for the uniform map."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["method", "label", "n", "share", "low", "high", "vs_gradcam", "vs_low",
                     "vs_high", "empty"])  # fmt: skip
    for row in result.rows:
        s, d = row.share, row.vs_gradcam
        writer.writerow([row.method, method_label(row.method), row.n, *_cells(s), *_cells(d),
                         row.empty])  # fmt: skip
    u = result.uniform
    writer.writerow(["uniform", "uniform map", result.n_lesion, *_cells(u), "", "", "", 0])
    return buffer.getvalue()


def _cells(value: Estimate) -> list[str]:
    return [f"{v:.6f}" if np.isfinite(v) else "" for v in (value.value, value.low, value.high)]


def write_lesion_mass(run: LesionMassRun, config: LesionMassConfig, out: Path) -> Path:
    """``results.json``, ``results.csv``, ``planes.png``, ``manifest.json`` and
    ``README.md`` in ``out``; returns ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "results.json", run.result.to_json())
    atomic_write_text(out / "results.csv", _csv(run.result))
    save_figure(out / "planes.png", run.figure)
    manifest = {
        "command": config.command(out),
        "settings": asdict(config),
        "seconds": run.result.seconds,
        "threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "versions": library_versions(),
    }
    atomic_write_json(out / "manifest.json", manifest)
    atomic_write_text(out / "README.md", _readme(config.command(out)))
    return out


def _readme(command: str) -> str:
    return (
        "# Lesion mass of the bundled 3-D network\n\n"
        "Each map's share of its mass on the planted lesion of held-out generated volumes "
        '(the table is in docs/data-models-training.md, "3-D networks and volumes"). '
        "Written by\n\n"
        f"```bash\n{command}\n```\n\n"
        "- `results.json`, `results.csv`: per map, the mean share on the lesion with its 95% "
        "bootstrap interval and the paired difference to Grad-CAM; the uniform map's share; "
        "the network's accuracy on all the volumes.\n"
        "- `planes.png`: one volume's maps in the axial, coronal and sagittal planes through "
        "the lesion's centre, the lesion outlined.\n"
        "- `manifest.json`: the settings, versions, machine and its load.\n"
    )
