"""The training loop: a classifier on COVID-CT with the official split, from the uint8 tensor cache.

One function, :func:`train`, in the spirit of nanoGPT: data is decoded once (see
:mod:`causalcam.data.cache`), augmentation runs batched on tensors (so on the GPU when there
is one), every epoch ends with an atomic ``last.pt`` (model, optimizer, schedule, history),
the best epoch on the *validation* split is kept as ``best.pt``, and ``resume=True`` picks up
after the last finished epoch, even after ``kill -9``. Each epoch's shuffling and augmentation
come from a generator seeded by ``(seed, epoch)``, so a resumed run repeats exactly what an
uninterrupted one would have done. Test metrics are computed once, for the selected model.

``precision`` (``"fp32"``, ``"bf16"``, ``"fp16"`` or ``"auto"``, see :mod:`causalcam.precision`)
runs the forward pass and the loss under autocast while the master weights, optimizer state
and EMA stay fp32; ``fp16`` (CUDA) scales the loss with a GradScaler. Model and batches use
channels-last memory by default. The precision used is stored in every checkpoint's metadata
and a run resumes only in the precision it started with.

The recipes are in :mod:`.recipes`, the augmentation in :mod:`.augmentation` and the
metrics in :mod:`.metrics`.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm import tqdm

from .._io import atomic_write_json
from ..data.cache import cached_split, eval_resize, first_per_class
from ..data.covidct import CLASSES
from ..data.tensors import SplitTensors
from ..errors import InputError
from ..models.checkpoint import CheckpointMeta, load_checkpoint, read_checkpoint, save_checkpoint
from ..models.registry import SEGMENTATION_ARCHS, build, load_encoder
from ..network import resolve_device
from ..precision import ComputePlan, compute_plan
from ..preprocess import Preprocessing, to_model_input
from .augmentation import augment, mix
from .metrics import evaluate
from .recipes import RECIPES, Recipe


@dataclass
class TrainConfig:
    """A training run: architecture, recipe (+ overrides), data, output folder, seed, device."""

    arch: str = "resnet18"
    recipe: str = "cpu"
    out_dir: Path = Path("runs/resnet18-cpu")
    data_root: Path | None = None
    seed: int = 0
    device: str = "auto"  # "auto" | "cpu" | "cuda" | "cuda:1" ...
    threads: int | None = None  # torch CPU threads (None: torch's default)
    resume: bool = False
    weights: Path | None = None  # optional local torchvision ImageNet weights file
    init: Path | None = None  # optional encoder of `causalcam pretrain` (all but the head)
    limit: int | None = None  # use only the first `limit` images per class and split (tests)
    progress: bool = True
    precision: str = "fp32"  # "fp32" | "bf16" | "fp16" | "auto" (see causalcam.precision)
    channels_last: bool | None = None  # None: the device's default layout
    epochs: int | None = None
    size: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    overrides: dict[str, Any] = field(default_factory=dict)  # any other Recipe field

    def __post_init__(self) -> None:
        if self.arch in SEGMENTATION_ARCHS:
            raise InputError(
                f"{self.arch} is a segmentation network; causalcam trains classifiers "
                "(explain a segmentation network you trained with `causalcam explain --segment`)"
            )

    def resolved_recipe(self) -> Recipe:
        """The named recipe with this config's overrides applied."""
        if self.recipe not in RECIPES:
            raise InputError(f"unknown recipe {self.recipe!r}; choose one of {', '.join(RECIPES)}")
        explicit = {
            "epochs": self.epochs,
            "size": self.size,
            "batch_size": self.batch_size,
            "lr": self.lr,
        }
        changes = {k: v for k, v in explicit.items() if v is not None} | self.overrides
        unknown = set(changes) - {f.name for f in dataclasses.fields(Recipe)}
        if unknown:
            raise InputError(f"unknown recipe option(s): {', '.join(sorted(unknown))}")
        if "size" in changes and "train_resize" not in changes:
            changes["train_resize"] = eval_resize(changes["size"])
        return dataclasses.replace(RECIPES[self.recipe], **changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(self).items()
        }


@dataclass
class TrainingRun:
    """Where the run is and how the selected (best-on-validation) model scores."""

    out_dir: Path
    best_path: Path
    last_path: Path
    best_epoch: int
    metrics: dict[str, Any]  # {"val": {...}, "test": {...}}
    history: list[dict[str, Any]]
    seconds: float


def _subset(tensors: SplitTensors, limit: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """All images, or the first ``limit`` of each class (keeping file order)."""
    if limit is None:
        return tensors.images, tensors.labels
    keep = first_per_class(tensors.labels, limit, len(CLASSES))
    return tensors.images[keep], tensors.labels[keep]


def _optimizer(model: nn.Module, recipe: Recipe, steps: int) -> tuple[torch.optim.Optimizer, Any]:
    """Optimizer and per-step LR schedule of ``recipe`` for ``steps`` steps in all."""
    params = model.parameters()
    optimizer: torch.optim.Optimizer
    if recipe.optimizer == "adam":
        optimizer = torch.optim.Adam(params, lr=recipe.lr, weight_decay=recipe.weight_decay)
    elif recipe.optimizer == "adamw":
        optimizer = torch.optim.AdamW(params, lr=recipe.lr, weight_decay=recipe.weight_decay)
    elif recipe.optimizer == "sgd":
        optimizer = torch.optim.SGD(
            params, lr=recipe.lr, momentum=0.9, nesterov=True, weight_decay=recipe.weight_decay
        )
    else:
        raise InputError(f"unknown optimizer {recipe.optimizer!r}; choose adam, adamw or sgd")
    schedules: dict[str, Callable[[], Any]] = {
        "constant": lambda: torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0),
        "onecycle": lambda: torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=recipe.lr, total_steps=steps, pct_start=0.15
        ),
        "cosine": lambda: torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps),
    }
    if recipe.schedule not in schedules:
        raise InputError(f"unknown schedule {recipe.schedule!r}; choose {', '.join(schedules)}")
    return optimizer, schedules[recipe.schedule]()


def _compute(plan: ComputePlan) -> dict[str, Any]:
    """How a run computes, as stored in its checkpoints' metadata."""
    return {"precision": plan.precision, "channels_last": plan.channels_last}


def trained_precision(record: Mapping[str, Any]) -> str:
    """The precision a training run computed in, from its checkpoint's ``config`` or its
    ``metrics.json`` (their ``compute`` entry; fp32 where they record none)."""
    return str((record.get("compute") or {}).get("precision", "fp32"))


def _meta(
    config: TrainConfig,
    recipe: Recipe,
    plan: ComputePlan,
    checksum: str,
    epoch: int,
    metrics: dict[str, Any],
) -> CheckpointMeta:
    return CheckpointMeta(
        arch=config.arch,
        classes=list(CLASSES),
        preprocessing=Preprocessing(size=recipe.size),
        recipe=recipe.name,
        config={
            "train": config.to_dict(),
            "recipe": dataclasses.asdict(recipe),
            "compute": _compute(plan),
        },
        seed=config.seed,
        metrics=metrics,
        data_checksum=checksum,
        epoch=epoch,
    )


def _check_out_dir(
    config: TrainConfig, recipe: Recipe, plan: ComputePlan, last: Path
) -> dict[str, Any] | None:
    """The saved state to resume from (or None for a fresh run); refuse to clobber a run."""
    if not last.is_file():
        return None
    if not config.resume:
        raise InputError(
            f"{config.out_dir} already holds a run ({last.name}); resume it with resume=True "
            "(--resume) or choose another output folder"
        )
    payload = read_checkpoint(last)
    # fields added to Recipe after the run started take their defaults (which add nothing)
    known = {f.name for f in dataclasses.fields(Recipe)}
    stored = {k: v for k, v in payload["meta"]["config"]["recipe"].items() if k in known}
    saved = dataclasses.asdict(Recipe(**stored | {"scale": tuple(stored["scale"])}))
    if payload["meta"]["arch"] != config.arch or saved != dataclasses.asdict(recipe):
        raise InputError(
            f"cannot resume {last}: it was started with {payload['meta']['arch']} and recipe "
            f"{saved}, not {config.arch} and {dataclasses.asdict(recipe)}"
        )
    started_in = trained_precision(payload["meta"]["config"])
    if started_in != plan.precision:
        raise InputError(
            f"cannot resume {last}: it was trained in {started_in}, not {plan.precision}; "
            f"resume it with --precision {started_in}"
        )
    return payload


@dataclass
class TrainingData:
    """Tensors of one run: training images on the device, val and test on the CPU."""

    train: tuple[torch.Tensor, torch.Tensor]
    val: tuple[torch.Tensor, torch.Tensor]
    test: tuple[torch.Tensor, torch.Tensor]
    checksum: str


def _load_data(config: TrainConfig, recipe: Recipe, device: torch.device) -> TrainingData:
    """Decode once (uint8 cache): training images keep the whole centre square for random
    crops; val and test get the deterministic evaluation crop."""
    root, progress, size = config.data_root, config.progress, recipe.size
    splits = [
        cached_split("train", recipe.train_resize, recipe.train_resize, root, progress),
        cached_split("val", eval_resize(size), size, root, progress),
        cached_split("test", eval_resize(size), size, root, progress),
    ]
    x_train, y_train = _subset(splits[0], config.limit)
    return TrainingData(
        train=(x_train.to(device), y_train.to(device)),
        val=_subset(splits[1], config.limit),
        test=_subset(splits[2], config.limit),
        checksum="+".join(t.checksum[:16] for t in splits),
    )


@dataclass
class TrainingState:
    """Everything that changes during training (and is saved in ``last.pt``)."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    ema: AveragedModel | None
    plan: ComputePlan
    scaler: torch.amp.GradScaler
    history: list[dict[str, Any]] = field(default_factory=list)
    best_key: tuple[float, float] = (-1.0, 0.0)  # (val accuracy, -val loss)
    best_epoch: int = -1

    @property
    def scored(self) -> nn.Module:
        """The weights evaluated and kept: the EMA when the recipe has one."""
        return self.ema.module if self.ema is not None else self.model

    def train_state(self) -> dict[str, Any]:
        return {
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "scaler": self.scaler.state_dict(),
            "history": self.history,
            "epoch": len(self.history) - 1,
            "best_key": list(self.best_key),
            "best_epoch": self.best_epoch,
        }


def init_state(
    config: TrainConfig,
    recipe: Recipe,
    steps: int,
    saved: dict[str, Any] | None,
    plan: ComputePlan,
) -> TrainingState:
    """Seeded model (in the plan's memory layout), optimizer, schedule, EMA and loss
    scaler; restored from ``saved`` when resuming."""
    torch.manual_seed(config.seed)
    model = build(config.arch, len(CLASSES), config.weights)
    if config.init is not None and saved is None:
        load_encoder(model, config.init, config.arch)
    model = model.to(plan.device)
    if plan.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer, scheduler = _optimizer(model, recipe, steps)
    ema = None
    if recipe.ema > 0:
        ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(recipe.ema), use_buffers=True)
    scaler = torch.amp.GradScaler(plan.device.type, enabled=plan.precision == "fp16")
    state = TrainingState(model, optimizer, scheduler, ema, plan, scaler)
    if saved is not None:
        restored = saved["train_state"]
        model.load_state_dict(saved["state_dict"])
        optimizer.load_state_dict(restored["optimizer"])
        scheduler.load_state_dict(restored["scheduler"])
        if ema is not None:
            ema.load_state_dict(restored["ema"])
        if restored.get("scaler"):
            scaler.load_state_dict(restored["scaler"])
        state.history = restored["history"]
        state.best_key = (float(restored["best_key"][0]), float(restored["best_key"][1]))
        state.best_epoch = restored["best_epoch"]
    return state


def train_epoch(
    state: TrainingState, data: TrainingData, recipe: Recipe, generator: torch.Generator, bar: tqdm
) -> tuple[float, float]:
    """One pass over the shuffled training set; mean loss and accuracy (augmented inputs)."""
    images, labels = data.train
    recipe = dataclasses.replace(recipe, size=recipe.crop_size(len(state.history)))
    preprocessing = Preprocessing(size=recipe.size)
    order = torch.randperm(len(labels), generator=generator).to(labels.device)
    state.model.train()
    total_loss, correct = 0.0, 0
    for batch in order.split(recipe.batch_size):
        mixed, partner, lam = mix(
            augment(images[batch], recipe, generator), labels[batch], recipe, generator
        )
        inputs = state.plan.inputs(to_model_input(mixed, preprocessing))
        with state.plan.autocast():
            logits = state.model(inputs).float()
            loss = lam * F.cross_entropy(
                logits, labels[batch], label_smoothing=recipe.label_smoothing
            )
            if lam < 1:
                loss = loss + (1 - lam) * F.cross_entropy(
                    logits, partner, label_smoothing=recipe.label_smoothing
                )
        state.optimizer.zero_grad(set_to_none=True)
        state.scaler.scale(loss).backward()
        state.scaler.step(state.optimizer)
        state.scaler.update()
        state.scheduler.step()
        if state.ema is not None:
            state.ema.update_parameters(state.model)
        total_loss += loss.item() * len(batch)
        correct += int((logits.argmax(1) == labels[batch]).sum())
        bar.update()
        bar.set_postfix(epoch=len(state.history) + 1, loss=f"{loss.item():.3f}")
    return total_loss / len(labels), correct / len(labels)


def train(
    config: TrainConfig,
    on_epoch_end: Callable[[int, dict[str, Any]], None] | None = None,
) -> TrainingRun:
    """Train ``config.arch`` with ``config.recipe``; return the best-on-validation model's
    metrics on val and test. Writes ``best.pt``, ``last.pt``, ``history.json`` and
    ``metrics.json`` to ``config.out_dir``. ``on_epoch_end(epoch, record)`` is called after
    each epoch is saved."""
    started = time.perf_counter()
    recipe = config.resolved_recipe()
    if config.threads:
        torch.set_num_threads(config.threads)
    device = resolve_device(config.device)
    plan = compute_plan(device, config.precision, config.channels_last)
    out = Path(config.out_dir)
    last, best = out / "last.pt", out / "best.pt"
    saved = _check_out_dir(config, recipe, plan, last)
    data = _load_data(config, recipe, device)
    steps_per_epoch = math.ceil(len(data.train[1]) / recipe.batch_size)
    state = init_state(config, recipe, steps_per_epoch * recipe.epochs, saved, plan)
    start = len(state.history)
    bar = tqdm(
        total=steps_per_epoch * recipe.epochs,
        initial=steps_per_epoch * start,
        desc=f"{config.arch}/{recipe.name}/{plan.precision}",
        disable=not config.progress,
    )
    for epoch in range(start, recipe.epochs):
        epoch_started = time.perf_counter()
        generator = torch.Generator().manual_seed(config.seed * 1_000_003 + epoch)
        loss, accuracy = train_epoch(state, data, recipe, generator, bar)
        val = evaluate(state.scored, *data.val, Preprocessing(size=recipe.size), device, plan)
        record = {
            "epoch": epoch,
            "train_loss": loss,
            "train_accuracy": accuracy,
            "val": val,
            "lr": state.optimizer.param_groups[0]["lr"],
            "seconds": time.perf_counter() - epoch_started,
        }
        state.history.append(record)
        meta = _meta(config, recipe, plan, data.checksum, epoch, {"val": val})
        if (val["accuracy"], -val["loss"]) > state.best_key:  # best accuracy, then lowest loss
            state.best_key, state.best_epoch = (val["accuracy"], -val["loss"]), epoch
            save_checkpoint(best, state.scored, meta)
        save_checkpoint(last, state.model, meta, train_state=state.train_state())
        atomic_write_json(out / "history.json", state.history)
        bar.set_postfix(epoch=epoch + 1, val_acc=f"{val['accuracy']:.3f}")
        if on_epoch_end is not None:
            on_epoch_end(epoch, record)
    bar.close()
    return _finish(config, recipe, best, last, state.history, started, data, device)


def _finish(
    config: TrainConfig,
    recipe: Recipe,
    best: Path,
    last: Path,
    history: list[dict[str, Any]],
    started: float,
    data: TrainingData,
    device: torch.device,
) -> TrainingRun:
    """Score the best-on-validation checkpoint on val and test (in fp32, as users load it);
    record it in best.pt and metrics.json."""
    loaded = load_checkpoint(best, expect_arch=config.arch)
    model = loaded.model.to(device)
    metrics = {
        "val": evaluate(model, *data.val, loaded.meta.preprocessing, device),
        "test": evaluate(model, *data.test, loaded.meta.preprocessing, device),
        "best_epoch": loaded.meta.epoch,
        "selected_by": "validation accuracy, then validation loss",
        "train_seconds": sum(r["seconds"] for r in history),
    }
    meta = dataclasses.replace(loaded.meta, metrics=metrics)
    save_checkpoint(best, model, meta)
    atomic_write_json(
        Path(config.out_dir) / "metrics.json",
        {
            "arch": config.arch,
            "recipe": dataclasses.asdict(recipe),
            "config": config.to_dict(),
            "compute": loaded.meta.config.get("compute"),
            **metrics,
        },
    )
    return TrainingRun(
        out_dir=Path(config.out_dir),
        best_path=best,
        last_path=last,
        best_epoch=int(loaded.meta.epoch or 0),
        metrics=metrics,
        history=history,
        seconds=time.perf_counter() - started,
    )
