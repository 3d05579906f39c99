"""``causalcam benchmark ground-truth``: a thin wrapper over
:func:`causalcam.ground_truth.run_benchmark`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._app import Debug, Quiet, Settings, app, usage_errors, user_errors, warn

benchmark_app = typer.Typer(
    help="Benchmarks of the maps against known ground truth.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(benchmark_app, name="benchmark")


def _floats(text: str | None, option: str) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a comma-separated list of numbers",
                                 param_hint=f"'{option}'") from None  # fmt: skip


@benchmark_app.command(name="ground-truth")
def ground_truth(
    out: Annotated[Path, typer.Option(help="Output folder (resumed when it exists).")] = Path(
        "causalcam-out/ground-truth"
    ),
    full: Annotated[
        bool, typer.Option("--full", help="ResNet-18 at 128 px (layer3), 3 seeds, 8 epochs.")
    ] = False,
    designs: Annotated[
        str | None,
        typer.Option(help="Comma-separated designs, e.g. shortcut-0.95,shared,contrast."),
    ] = None,
    seeds: Annotated[int | None, typer.Option(help="Training seeds per configuration.")] = None,
    smoothing: Annotated[
        str | None, typer.Option(help="Comma-separated label smoothings, e.g. 0,0.1.")
    ] = None,
    n_train: Annotated[int | None, typer.Option(help="Training images per design.")] = None,
    n_test: Annotated[int | None, typer.Option(help="Test images per design.")] = None,
    epochs: Annotated[int | None, typer.Option(help="Training epochs.")] = None,
    n_boot: Annotated[int | None, typer.Option(help="Bootstrap resamples.")] = None,
    curve_images: Annotated[
        int | None,
        typer.Option(help="Test images of the deletion/insertion protocol (0: skip it)."),
    ] = None,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """Train small CNNs on synthetic CT-like images with planted cause and context, score
    every map against them and judge the predictions of docs/method.md; writes report.md,
    results.json, manifest.json and figures to OUT. Rerun the same command to resume."""
    settings = Settings(quiet=quiet, debug=debug)
    with user_errors(settings):
        from ..ground_truth import BenchmarkConfig, run_benchmark, with_overrides

        base = BenchmarkConfig.full() if full else BenchmarkConfig()
        with usage_errors("--designs"):
            config = with_overrides(
                base,
                designs=tuple(d.strip() for d in designs.split(",")) if designs else None,
                seeds=seeds,
                smoothing=_floats(smoothing, "--smoothing"),
                n_train=n_train,
                n_test=n_test,
                epochs=epochs,
                n_boot=n_boot,
                curve_images=curve_images,
            )
        result = run_benchmark(
            config,
            out,
            progress=settings.progress,
            on_skip=lambda name, reason: warn(f"method {name} left out: {reason}"),
        )
        for smoothing_value, separates in sorted(result.default_separates.items()):
            chosen = [r.reading for r in result.separating if r.smoothing == smoothing_value]
            settings.info(
                f"label smoothing {smoothing_value:g}: readings that separate cause from "
                f"context: {', '.join(chosen) or 'none'}; the default reading "
                f"{'does' if separates else 'does not'}"
            )
        typer.echo(f"results are in {out.resolve()}")
