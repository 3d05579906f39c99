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


@benchmark_app.command(name="volumes")
def volumes(
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("causalcam-out/volumes"),
    model: Annotated[
        str, typer.Option(help="A bundled 3-D network (small3d-lesion) or a 3-D checkpoint.")
    ] = "small3d-lesion",
    count: Annotated[
        int,
        typer.Option("--volumes", help="Held-out generated volumes (about half with a lesion)."),
    ] = 96,
    seed: Annotated[int, typer.Option(help="Seed of the generator's test split.")] = 101,
    n_boot: Annotated[int, typer.Option(help="Bootstrap resamples.")] = 2000,
    methods: Annotated[
        str | None, typer.Option(help="Comma-separated methods (default: every one-pass map).")
    ] = None,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """Explain held-out generated volumes with a 3-D network trained by `causalcam
    train-volumes` and measure each map's share of mass on the planted lesion (95% bootstrap
    intervals, paired differences to Grad-CAM) and the network's accuracy; writes
    results.json, results.csv, planes.png, manifest.json and README.md to OUT."""
    settings = Settings(quiet=quiet, debug=debug)
    with user_errors(settings):
        from ..ground_truth.volume_mass import LesionMassConfig, lesion_mass, write_lesion_mass
        from ..method_names import METHOD_NAMES

        chosen = tuple(m.strip() for m in methods.split(",") if m.strip()) if methods else None
        unknown = [m for m in chosen or () if m not in METHOD_NAMES]
        if unknown:
            raise typer.BadParameter(
                f"unknown methods {', '.join(unknown)}", param_hint="'--methods'"
            )
        config = LesionMassConfig(model, count, seed, n_boot=n_boot)
        if chosen:
            config = LesionMassConfig(model, count, seed, chosen, n_boot)
        run = lesion_mass(config, progress=settings.progress)
        write_lesion_mass(run, config, out)
        result = run.result
        settings.info(
            f"accuracy {result.accuracy.value:.3f} on {result.n_volumes} volumes; "
            f"{result.n_lesion} with a lesion explained"
        )
        typer.echo(f"results are in {out.resolve()}")
