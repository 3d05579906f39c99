"""Training the bundled 3-D network on generated volumes with a planted lesion.

The data is the 3-D form of the ground-truth generator (:mod:`causalcam.synthetic`): CT-like
volumes of ``size``^3 voxels at 1 mm whose class is whether a lesion (a textured ball in a
lung) is planted (design ``shortcut-0.5``: the glyph carries no information about the
class). Every epoch draws fresh volumes from a seed of its own, so nothing is stored and a
resumed run (``resume=True``, after the last finished epoch in ``last.pt``) repeats exactly
what an uninterrupted one would have done. The held-out test volumes come from the
generator's ``test`` split (scenes no training epoch draws). ``model.pt`` is the final
network in fp16 with its input grid (:class:`~causalcam.models.volume.VolumeGrid`) and test
metrics: the file bundled as ``small3d-lesion``.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm import tqdm

from .._io import atomic_write_json
from ..errors import InputError
from ..models.checkpoint import CheckpointMeta, read_checkpoint, save_checkpoint
from ..models.registry import build
from ..models.volume import VolumeGrid, volume_input
from ..network import eval_mode
from ..preprocess import Preprocessing
from ..synthetic import Design, SyntheticSet, generate, parse_design
from .metrics import roc_auc

#: volumes drawn per call of the generator (bounds its memory)
GENERATE_CHUNK = 256


@dataclass
class VolumeTrainConfig:
    """A 3-D training run: generated data (``design``, ``size`` voxels a side, ``per_epoch``
    fresh training volumes each epoch, ``test`` held-out volumes), the network (``arch``) and
    its optimisation (Adam with a one-cycle schedule), seed, output folder."""

    out_dir: Path = Path("runs/small3d")
    arch: str = "small3d"
    design: str = "shortcut-0.5"
    size: int = 32
    epochs: int = 6
    per_epoch: int = 2048
    test: int = 512
    batch_size: int = 8
    lr: float = 2e-3
    seed: int = 0
    resume: bool = False
    progress: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(self).items()
        }

    def volume_design(self) -> Design:
        """The generator's design, in 3-D at ``size`` voxels."""
        return dataclasses.replace(parse_design(self.design, self.size), ndim=3)

    @classmethod
    def of_network(cls, meta: CheckpointMeta, name: str) -> VolumeTrainConfig:
        """The generated data (design and grid) the 3-D network ``name`` was trained on, from
        its checkpoint's metadata; other fields keep their defaults."""
        if meta.volume is None:
            raise InputError(f"{name} is a 2-D network: its checkpoint records no volume grid")
        if "design" not in meta.config:
            raise InputError(f"{name} was not trained by `causalcam train-volumes` (no design)")
        return cls(size=meta.volume.shape[0], design=meta.config["design"])


@dataclass
class VolumeTrainingRun:
    """Where the run is and how its network scores on the held-out volumes."""

    model_path: Path
    metrics: dict[str, Any]
    history: list[dict[str, Any]]
    seconds: float
    cpu_seconds: float


def volume_grid(size: int) -> VolumeGrid:
    """The input grid of a network trained on generated volumes of ``size`` voxels (1 mm)."""
    return VolumeGrid((size, size, size), (1.0, 1.0, 1.0))


def generate_volumes(design: Design, n: int, seed: int, split: str) -> SyntheticSet:
    """``n`` generated volumes of ``design``, drawn in chunks of :data:`GENERATE_CHUNK`
    (chunk ``k`` from seed ``seed * 1000 + k``) so memory stays bounded."""
    parts = [
        generate(design, min(GENERATE_CHUNK, n - start), seed * 1000 + k, split)
        for k, start in enumerate(range(0, n, GENERATE_CHUNK))
    ]
    if len(parts) == 1:
        return parts[0]

    def cat(name: str) -> Tensor:
        return torch.cat([getattr(part, name) for part in parts])

    def cat_each(name: str) -> dict[str, Tensor]:
        return {key: torch.cat([getattr(p, name)[key] for p in parts]) for key in parts[0].masks}

    return dataclasses.replace(
        parts[0],
        images=cat("images"),
        labels=cat("labels"),
        present={key: torch.cat([p.present[key] for p in parts]) for key in parts[0].present},
        masks=cat_each("masks"),
        explained=cat("explained"),
        target=cat("target"),
        contrast=cat("contrast"),
        cause=cat("cause"),
        context=cat("context"),
    )


@torch.no_grad()
def predict_volumes(model: nn.Module, volumes: Tensor, grid: VolumeGrid) -> Tensor:
    """Softmax probabilities ``(B, classes)`` of a 3-D ``model`` on grey uint8 volumes."""
    with eval_mode(model):
        parts = [model(volume_input(chunk, grid)).softmax(1) for chunk in volumes.split(64)]
    return torch.cat(parts)


def volume_metrics(probs: Tensor, labels: Tensor) -> dict[str, Any]:
    """Accuracy, AUC of the last class's probability (the lesion), mean NLL, count."""
    auc = roc_auc(probs[:, -1], labels == probs.shape[1] - 1)
    return {
        "n": len(labels),
        "accuracy": (probs.argmax(1) == labels).double().mean().item(),
        "auc": auc,
        "loss": F.nll_loss(probs.clamp_min(1e-12).log(), labels).item(),
    }


def _epoch(
    model: nn.Module,
    optim: tuple[torch.optim.Optimizer, Any],
    config: VolumeTrainConfig,
    epoch: int,
    bar: tqdm,
) -> float:
    """One epoch on fresh volumes; returns the mean training loss."""
    design, grid = config.volume_design(), volume_grid(config.size)
    data = generate_volumes(design, config.per_epoch, 1 + config.seed * 1000 + epoch, "train")
    gen = torch.Generator().manual_seed(config.seed * 1000 + epoch)
    order = torch.randperm(len(data), generator=gen)
    optimizer, schedule = optim
    total = 0.0
    model.train()
    for index in order.split(config.batch_size):
        volumes = data.images[index]  # mirrored left-right at random: the lungs are alike
        flip = torch.rand(len(index), generator=gen)
        volumes = torch.where((flip < 0.5).view(-1, 1, 1, 1), volumes.flip(-1), volumes)
        loss = F.cross_entropy(model(volume_input(volumes, grid)), data.labels[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        total += loss.item() * len(index)
        bar.update(1)
    return total / len(data)


def _start(config: VolumeTrainConfig, model: nn.Module, steps: int) -> tuple[Any, int, list[Any]]:
    """Optimizer and schedule, the first epoch to run and the history (from ``last.pt`` when
    resuming)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, config.lr, total_steps=steps)
    last = config.out_dir / "last.pt"
    if not (config.resume and last.is_file()):
        return (optimizer, schedule), 0, []
    payload = read_checkpoint(last)
    state = payload["train_state"]
    if state["config"] != _recorded(config):
        raise InputError(f"{last} was written with other settings; start in another folder")
    model.load_state_dict(payload["state_dict"])
    optimizer.load_state_dict(state["optimizer"])
    schedule.load_state_dict(state["schedule"])
    return (optimizer, schedule), int(state["epoch"]) + 1, list(state["history"])


def _recorded(config: VolumeTrainConfig) -> dict[str, Any]:
    """The settings a resumed run must share (not its folder or how it reports)."""
    skip = ("out_dir", "resume", "progress")
    return {k: v for k, v in config.to_dict().items() if k not in skip}


def _meta(config: VolumeTrainConfig, metrics: dict[str, Any], epoch: int) -> CheckpointMeta:
    design = config.volume_design()
    return CheckpointMeta(
        arch=config.arch,
        classes=list(design.classes),
        preprocessing=Preprocessing(size=config.size, mean=(0.3,) * 3, std=(0.3,) * 3),
        recipe=design.label,
        config=_recorded(config),
        seed=config.seed,
        metrics=metrics,
        epoch=epoch,
        volume=volume_grid(config.size),
    )


def train_volumes(config: VolumeTrainConfig) -> VolumeTrainingRun:
    """Train a 3-D network on generated volumes (resumable per epoch); write ``last.pt``,
    ``model.pt`` (fp16, with the test metrics measured on the fp16 weights) and
    ``metrics.json`` (with the training's wall-clock and CPU seconds, summed over epochs) in
    ``config.out_dir``."""
    config.out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    design = config.volume_design()
    model = build(config.arch, num_classes=len(design.classes))
    steps_per_epoch = -(-config.per_epoch // config.batch_size)
    optim, first, history = _start(config, model, config.epochs * steps_per_epoch)
    with tqdm(
        total=config.epochs * steps_per_epoch,
        initial=first * steps_per_epoch,
        desc="train 3-D",
        disable=not config.progress,
    ) as bar:
        for epoch in range(first, config.epochs):
            clock, cpu = time.perf_counter(), time.process_time()
            loss = _epoch(model, optim, config, epoch, bar)
            history.append(
                {
                    "epoch": epoch,
                    "loss": loss,
                    "seconds": time.perf_counter() - clock,
                    "cpu_seconds": time.process_time() - cpu,
                }
            )
            state = {
                "optimizer": optim[0].state_dict(),
                "schedule": optim[1].state_dict(),
                "epoch": epoch,
                "history": history,
                "config": _recorded(config),
            }
            meta = _meta(config, {}, epoch)
            save_checkpoint(config.out_dir / "last.pt", model, meta, train_state=state)
    with torch.no_grad():  # measured as shipped: the weights rounded to fp16
        for value in model.state_dict().values():
            if value.is_floating_point():
                value.copy_(value.half().float())
    test = generate_volumes(design, config.test, config.seed, "test")
    probs = predict_volumes(model, test.images, volume_grid(config.size))
    metrics = {"test": volume_metrics(probs, test.labels)}
    path = save_checkpoint(
        config.out_dir / "model.pt", model, _meta(config, metrics, config.epochs - 1), half=True
    )
    seconds = sum(float(entry["seconds"]) for entry in history)
    cpu_seconds = sum(float(entry["cpu_seconds"]) for entry in history)
    atomic_write_json(
        config.out_dir / "metrics.json",
        {
            "metrics": metrics,
            "history": history,
            "seconds": seconds,
            "cpu_seconds": cpu_seconds,
            "config": _recorded(config),
        },
    )
    return VolumeTrainingRun(path, metrics, history, seconds, cpu_seconds)
