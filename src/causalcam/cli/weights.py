"""``causalcam weights export``: a trained run as committed fp16 weights with a sidecar record."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._app import Debug, Device, Quiet, Settings, app, split_names, user_errors
from .pipeline import DataOption

weights_app = typer.Typer(
    help="The reproduction's networks as fp16 weights with a record each (weights/).",
    no_args_is_help=True,
)
app.add_typer(weights_app, name="weights")


@weights_app.command("export")
def export(
    run: Annotated[Path, typer.Argument(help="A finished training run (best.pt, metrics.json).")],
    name: Annotated[str, typer.Option(help="File stem: resnet34, resnet18-seed1, ...")],
    out: Annotated[Path, typer.Option(help="Folder of the weights.")] = Path("weights"),
    data: DataOption = None,
    quiet: Quiet = False,
    device: Device = "cpu",
    debug: Debug = False,
) -> None:
    """Write RUN's selected model to OUT/NAME.pt (fp16) and OUT/NAME.json: the recipe, seed,
    epochs, the accuracies measured on the fp16 file, its SHA-256 and the training command."""
    settings = Settings(quiet, device, debug)
    with user_errors(settings):
        from ..reproduce.weights import export_weights

        record = export_weights(run, out, name, data, settings.progress)
        typer.echo(
            f"{out / (name + '.pt')}: {record.arch}, best epoch {record.best_epoch} of "
            f"{record.epochs}, val {record.val_accuracy:.3f}, test {record.test_accuracy:.3f}"
        )


@weights_app.command("retrain")
def retrain(
    names: Annotated[str, typer.Argument(help="Comma-separated names of records in --weights.")],
    weights: Annotated[Path, typer.Option(help="Folder of the weights.")] = Path("weights"),
    out: Annotated[Path, typer.Option(help="Runs go to OUT/NAME.")] = Path("runs/retrain"),
    data: DataOption = None,
    threads: Annotated[int | None, typer.Option(help="Torch CPU threads.")] = None,
    quiet: Quiet = False,
    device: Device = "auto",
    debug: Debug = False,
) -> None:
    """Train committed networks again from scratch with the recipe, seed and epochs of their
    records; rerun to resume."""
    settings = Settings(quiet, device, debug)
    with user_errors(settings):
        import dataclasses

        from ..errors import InputError
        from ..reproduce.weights import read_weights, retrain_config
        from ..training import train

        records = read_weights(weights)
        for name in split_names(names):
            if name not in records:
                raise InputError(
                    f"{weights} holds no record {name!r}; it holds {', '.join(records)}"
                )
            config = dataclasses.replace(
                retrain_config(records[name], out / name, data),
                device=device,
                threads=threads,
                progress=settings.progress,
            )
            result = train(config)
            settings.info(f"{name}: test {result.metrics['test']['accuracy']:.3f} ({out / name})")
