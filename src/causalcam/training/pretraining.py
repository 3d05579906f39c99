"""Self-supervised pretraining on the training scans without their labels (as He et al.
2020 did for COVID-CT), then fine-tuning with ``causalcam train --init OUT/encoder.pt``.

Two pretext tasks on the classifier's own backbone, its output layer replaced by a head:

- ``rotation`` (Gidaris et al., ICLR 2018): each augmented scan is turned by ``k * 90``
  degrees, ``k`` in {0, 1, 2, 3}; a 4-way head predicts ``k`` (cross-entropy over 4B inputs).
- ``simclr`` (Chen et al., ICML 2020): two augmented views of each scan, a linear projection
  to 128 dimensions, ``z`` normalised to unit length; with ``s_ij = z_i . z_j / tau`` over the
  2B views and ``p(i)`` the other view of ``i``, the NT-Xent loss is
  ``L = -1/(2B) sum_i log( exp(s_i,p(i)) / sum_{k != i} exp(s_ik) )``.

Views come from :func:`causalcam.training.augment` (random resized crops, rotation, flips,
intensity jitter). Resumable per epoch (``last.pt``); writes ``encoder.pt`` (the backbone
without its head; :func:`causalcam.models.registry.load_encoder` reads it) and
``history.json``.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from .._io import atomic_path, atomic_write_json
from ..data.cache import cached_split, eval_resize
from ..errors import InputError
from ..models.registry import ENCODER_FORMAT, build, encoder_state
from ..network import resolve_device
from ..precision import ComputePlan, compute_plan
from ..preprocess import Preprocessing, to_model_input
from .augmentation import augment
from .recipes import RECIPES, Recipe

#: the pretext tasks and the width of each one's head
METHODS: dict[str, int] = {"rotation": 4, "simclr": 128}


@dataclass
class PretrainConfig:
    """A pretraining run: backbone, pretext task, schedule, data, output folder, device."""

    arch: str = "resnet18"
    method: str = "rotation"
    out_dir: Path = Path("runs/pretrain")
    data_root: Path | None = None
    epochs: int = 50
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.05
    temperature: float = 0.2  # simclr
    size: int = 224
    seed: int = 0
    device: str = "auto"
    threads: int | None = None
    precision: str = "fp32"
    limit: int | None = None  # the first `limit` training scans (tests)
    progress: bool = True

    def views(self) -> Recipe:
        """The augmentation of the views: the ``scratch`` recipe's, with SimCLR's wider crops
        and stronger intensity jitter for ``simclr``."""
        views = dataclasses.replace(
            RECIPES["scratch"], size=self.size, train_resize=eval_resize(self.size), erase=0.0
        )
        if self.method == "simclr":
            views = dataclasses.replace(views, scale=(0.2, 1.0), jitter=0.4)
        return views

    def identity(self) -> dict[str, Any]:
        """What a resumed run must share with the run it continues."""
        keys = ("arch", "method", "epochs", "batch_size", "lr", "weight_decay", "size")
        return {k: getattr(self, k) for k in (*keys, "temperature", "limit")}


def rotation_loss(model: nn.Module, views: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of predicting each view's rotation by 0, 90, 180 or 270 degrees."""
    turned = torch.cat([torch.rot90(views, k, dims=(-2, -1)) for k in range(4)])
    targets = torch.arange(4, device=views.device).repeat_interleave(views.shape[0])
    return F.cross_entropy(model(turned).float(), targets)


def nt_xent(z: torch.Tensor, temperature: float) -> torch.Tensor:
    """NT-Xent of ``2B`` projections whose rows ``i`` and ``i + B`` are views of one scan."""
    z = F.normalize(z.float(), dim=1)
    n = z.shape[0] // 2
    similarity = z @ z.T / temperature
    similarity = similarity.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), -1e9)
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
    return F.cross_entropy(similarity, partner)


def _loss(
    config: PretrainConfig,
    recipe: Recipe,
    model: nn.Module,
    batch: torch.Tensor,
    generator: torch.Generator,
) -> torch.Tensor:
    """The pretext loss of one batch of scans, viewed through ``recipe``'s augmentation."""
    preprocessing = Preprocessing(size=config.size)
    if config.method == "rotation":
        views = to_model_input(augment(batch, recipe, generator), preprocessing)
        return rotation_loss(model, views)
    pair = torch.cat([augment(batch, recipe, generator), augment(batch, recipe, generator)])
    return nt_xent(model(to_model_input(pair, preprocessing)), config.temperature)


@dataclass
class _Run:
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    plan: ComputePlan
    history: list[dict[str, Any]]


def _start(config: PretrainConfig, steps: int, plan: ComputePlan, last: Path) -> _Run:
    """Seeded backbone with the task's head, AdamW and a cosine schedule; resumed from
    ``last`` when it exists (and was started with the same identity)."""
    torch.manual_seed(config.seed)
    model = build(config.arch, METHODS[config.method]).to(plan.device)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    run = _Run(model, optimizer, scheduler, plan, [])
    if last.is_file():
        saved = torch.load(last, map_location=plan.device, weights_only=True)
        if saved["identity"] != config.identity():
            raise InputError(
                f"cannot resume {last}: it was started as {saved['identity']}, not "
                f"{config.identity()}; choose another output folder"
            )
        model.load_state_dict(saved["state_dict"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        run.history = saved["history"]
    return run


def _save(path: Path, payload: dict[str, Any]) -> None:
    with atomic_path(path) as temp:
        torch.save(payload, temp)


def _epoch(config: PretrainConfig, run: _Run, images: torch.Tensor, epoch: int, bar: tqdm) -> float:
    """One pass over the shuffled scans; the mean loss."""
    generator = torch.Generator().manual_seed(config.seed * 1_000_003 + epoch)
    order = torch.randperm(images.shape[0], generator=generator)
    views = config.views()
    run.model.train()
    total = 0.0
    for batch in order.split(config.batch_size):
        if len(batch) < 2:  # a lone view has no partner (simclr) and no batch statistics
            continue
        with run.plan.autocast():
            loss = _loss(config, views, run.model, images[batch].to(run.plan.device), generator)
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        run.optimizer.step()
        run.scheduler.step()
        total += loss.item() * len(batch)
        bar.update()
        bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.3f}")
    return total / images.shape[0]


def pretrain(config: PretrainConfig) -> Path:
    """Pretrain ``config.arch`` on the training scans with ``config.method`` (resuming from
    ``last.pt``); return the path of ``encoder.pt``."""
    if config.method not in METHODS:
        raise InputError(f"unknown pretext task {config.method!r}; choose {', '.join(METHODS)}")
    if config.threads:
        torch.set_num_threads(config.threads)
    plan = compute_plan(resolve_device(config.device), config.precision, False)
    out = Path(config.out_dir)
    recipe = config.views()
    split = cached_split(
        "train", recipe.train_resize, recipe.train_resize, config.data_root, config.progress
    )
    images = split.images[: config.limit] if config.limit else split.images
    steps = math.ceil(images.shape[0] / config.batch_size)
    run = _start(config, steps * config.epochs, plan, out / "last.pt")
    bar = tqdm(
        total=steps * config.epochs,
        initial=steps * len(run.history),
        desc=f"{config.arch}/{config.method}/{plan.precision}",
        disable=not config.progress,
    )
    for epoch in range(len(run.history), config.epochs):
        started = time.perf_counter()
        loss = _epoch(config, run, images, epoch, bar)
        run.history.append({"epoch": epoch, "loss": loss, "seconds": time.perf_counter() - started})
        _checkpoint(config, run, out, split.checksum)
    bar.close()
    if not (out / "encoder.pt").is_file():
        _checkpoint(config, run, out, split.checksum)
    return out / "encoder.pt"


def _checkpoint(config: PretrainConfig, run: _Run, out: Path, checksum: str) -> None:
    """``last.pt`` (to resume), ``encoder.pt`` (to fine-tune) and ``history.json``."""
    meta = {
        **config.identity(),
        "seed": config.seed,
        "precision": run.plan.precision,
        "epochs_done": len(run.history),
        "data_checksum": checksum,
    }
    _save(
        out / "last.pt",
        {
            "identity": config.identity(),
            "state_dict": run.model.state_dict(),
            "optimizer": run.optimizer.state_dict(),
            "scheduler": run.scheduler.state_dict(),
            "history": run.history,
        },
    )
    encoder = {"format": ENCODER_FORMAT, "meta": meta, "state_dict": encoder_state(run.model)}
    _save(out / "encoder.pt", encoder)
    atomic_write_json(out / "history.json", run.history)
