"""``causalcam train | pretrain | train-all``: thin wrappers over :mod:`causalcam.training`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ._app import (
    DataOption,
    Debug,
    Device,
    PrecisionOption,
    Quiet,
    Settings,
    app,
    split_names,
    usage_errors,
    user_errors,
)

ChannelsLast = Annotated[
    bool | None,
    typer.Option(
        "--channels-last/--no-channels-last", help="Memory layout (default: channels-last)."
    ),
]
Recipe = Annotated[str, typer.Option(help="he2020, scratch or cpu.")]
Seed = Annotated[int, typer.Option(help="Random seed.")]
Epochs = Annotated[int | None, typer.Option(help="Override the recipe's epochs.")]
Size = Annotated[int | None, typer.Option(help="Override the input size (px).")]
BatchSize = Annotated[int | None, typer.Option(help="Override the batch size.")]
LearningRate = Annotated[float | None, typer.Option(help="Override the learning rate.")]
RecipeSet = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override any recipe field: --set ema=0.999 --set mixup=0.2."),
]
Limit = Annotated[int | None, typer.Option(help="Use the first N images per class and split.")]
Threads = Annotated[int | None, typer.Option(help="torch CPU threads.")]
Weights = Annotated[
    Path | None, typer.Option(help="Local torchvision ImageNet weights to start from.")
]
Init = Annotated[
    Path | None,
    typer.Option(help="Encoder of `causalcam pretrain` (OUT/encoder.pt) to fine-tune."),
]


def recipe_overrides(pairs: list[str] | None) -> dict[str, object]:
    """``["ema=0.999", "scale=0.3,1"]`` -> ``{"ema": 0.999, "scale": (0.3, 1.0)}``."""
    from ..training import parse_override

    overrides: dict[str, object] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep:
            raise typer.BadParameter(f"{pair!r} is not FIELD=VALUE", param_hint="'--set'")
        with usage_errors("--set"):
            overrides[key.strip()] = parse_override(key.strip(), value.strip())
    return overrides


@app.command(name="train")
def train_command(
    arch: Annotated[str, typer.Option(help="resnet18/34/50, densenet121/169, ...")] = "resnet18",
    recipe: Recipe = "cpu",
    out: Annotated[Path | None, typer.Option(help="Run folder (default runs/ARCH-RECIPE).")] = None,
    data: DataOption = None,
    seed: Seed = 0,
    epochs: Epochs = None,
    size: Size = None,
    batch_size: BatchSize = None,
    lr: LearningRate = None,
    set_: RecipeSet = None,
    precision: PrecisionOption = "fp32",
    channels_last: ChannelsLast = None,
    weights: Weights = None,
    init: Init = None,
    limit: Limit = None,
    threads: Threads = None,
    resume: Annotated[bool, typer.Option(help="Continue the run in --out.")] = False,
    quiet: Quiet = False,
    device: Device = "auto",
    debug: Debug = False,
) -> None:
    """Train a network on COVID-CT (official split); best-on-validation checkpoint."""
    settings = Settings(quiet, device, debug)
    overrides = recipe_overrides(set_)
    with user_errors(settings):
        from ..training import TrainConfig, train

        config = TrainConfig(
            arch=arch,
            recipe=recipe,
            out_dir=out or Path("runs") / f"{arch}-{recipe}",
            data_root=data,
            seed=seed,
            device=device,
            threads=threads,
            resume=resume,
            weights=weights,
            init=init,
            limit=limit,
            progress=settings.progress,
            precision=precision,
            channels_last=channels_last,
            epochs=epochs,
            size=size,
            batch_size=batch_size,
            lr=lr,
            overrides=overrides,
        )
        result = train(config)
        test, val = result.metrics["test"], result.metrics["val"]
        settings.info(
            f"best epoch {result.best_epoch + 1}: val accuracy {val['accuracy']:.4f}, "
            f"test accuracy {test['accuracy']:.4f} ({result.seconds:.0f} s)"
        )
        typer.echo(f"checkpoint: {result.best_path}")


@app.command()
def pretrain(
    arch: Annotated[str, typer.Option(help="resnet18/34/50, densenet121/169, ...")] = "resnet18",
    method: Annotated[str, typer.Option(help="Pretext task: rotation or simclr.")] = "rotation",
    out: Annotated[Path | None, typer.Option(help="Run folder (default runs/ARCH-METHOD).")] = None,
    data: DataOption = None,
    epochs: Annotated[int, typer.Option(help="Passes over the training scans.")] = 50,
    batch_size: Annotated[int, typer.Option(help="Scans per step.")] = 32,
    lr: Annotated[float, typer.Option(help="Peak learning rate (AdamW, cosine).")] = 1e-3,
    size: Annotated[int, typer.Option(help="Input size (px).")] = 224,
    seed: Seed = 0,
    precision: PrecisionOption = "fp32",
    limit: Annotated[int | None, typer.Option(help="Use the first N training scans.")] = None,
    threads: Threads = None,
    quiet: Quiet = False,
    device: Device = "auto",
    debug: Debug = False,
) -> None:
    """Self-supervised pretraining on the training scans without their labels; rerun to
    resume. Fine-tune with `causalcam train --init OUT/encoder.pt`."""
    settings = Settings(quiet, device, debug)
    with user_errors(settings):
        from ..training import PretrainConfig
        from ..training import pretrain as run_pretraining

        config = PretrainConfig(
            arch=arch,
            method=method,
            out_dir=out or Path("runs") / f"{arch}-{method}",
            data_root=data,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            size=size,
            seed=seed,
            device=device,
            threads=threads,
            precision=precision,
            limit=limit,
            progress=settings.progress,
        )
        encoder = run_pretraining(config)
        typer.echo(f"encoder: {encoder} (fine-tune: causalcam train --init {encoder})")


@app.command(name="train-all")
def train_all_command(
    out: Annotated[Path, typer.Option(help="Set folder: one run folder per network.")],
    archs: Annotated[
        str, typer.Option(help="Comma-separated networks, trained in this order.")
    ] = "resnet18,resnet34,resnet50,densenet121,densenet169",
    recipe: Recipe = "scratch",
    data: DataOption = None,
    seed: Seed = 0,
    epochs: Epochs = None,
    size: Size = None,
    batch_size: BatchSize = None,
    lr: LearningRate = None,
    set_: RecipeSet = None,
    precision: PrecisionOption = "fp32",
    channels_last: ChannelsLast = None,
    limit: Limit = None,
    threads: Threads = None,
    quiet: Quiet = False,
    device: Device = "auto",
    debug: Debug = False,
) -> None:
    """Train several networks into OUT/<arch>/; rerun the same command to resume: finished
    networks are skipped, a started one continues after its last epoch. Writes
    OUT/summary.json and OUT/summary.md."""
    settings = Settings(quiet, device, debug)
    overrides = recipe_overrides(set_)
    with user_errors(settings):
        from ..training import TrainConfig, summary_markdown, train_all

        base = TrainConfig(
            recipe=recipe,
            out_dir=out,
            data_root=data,
            seed=seed,
            device=device,
            threads=threads,
            limit=limit,
            progress=settings.progress,
            precision=precision,
            channels_last=channels_last,
            epochs=epochs,
            size=size,
            batch_size=batch_size,
            lr=lr,
            overrides=overrides,
        )
        rows = train_all(base, split_names(archs), log=settings.info)
        settings.info(summary_markdown(rows))
        typer.echo(f"summary: {out / 'summary.md'} (and summary.json)")


@app.command(name="train-volumes")
def train_volumes_command(
    out: Annotated[Path | None, typer.Option(help="Run folder (default runs/small3d).")] = None,
    epochs: Annotated[int | None, typer.Option(help="Epochs, each on fresh volumes.")] = None,
    per_epoch: Annotated[
        int | None, typer.Option(help="Generated training volumes per epoch.")
    ] = None,
    test: Annotated[int | None, typer.Option(help="Held-out generated volumes.")] = None,
    size: Annotated[int | None, typer.Option(help="Voxels a side (1 mm each).")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Volumes per step.")] = None,
    lr: Annotated[float | None, typer.Option(help="Peak learning rate (Adam, one-cycle).")] = None,
    seed: Seed = 0,
    threads: Threads = None,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """Train the small 3-D network on generated volumes whose class is a planted lesion (the
    bundled `small3d-lesion`); rerun the same command to resume. Writes OUT/model.pt (fp16,
    with its input grid and held-out metrics) and OUT/metrics.json."""
    settings = Settings(quiet, "cpu", debug)
    with user_errors(settings):
        import torch

        from ..training.volumes import VolumeTrainConfig, train_volumes

        if threads is not None:
            torch.set_num_threads(threads)
        given: dict[str, Any] = {
            "out_dir": out,
            "size": size,
            "epochs": epochs,
            "per_epoch": per_epoch,
            "test": test,
            "batch_size": batch_size,
            "lr": lr,
        }  # the options left out keep VolumeTrainConfig's defaults, defined there once
        changes = {key: value for key, value in given.items() if value is not None}
        config = VolumeTrainConfig(seed=seed, resume=True, progress=settings.progress, **changes)
        run = train_volumes(config)
        accuracy = run.metrics["test"]["accuracy"]
        typer.echo(
            f"model: {run.model_path} (held-out accuracy {accuracy:.3f} on "
            f"{run.metrics['test']['n']} volumes; training took {run.cpu_seconds:.0f} s of CPU, "
            f"{run.seconds:.0f} s wall-clock)"
        )
