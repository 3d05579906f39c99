"""``causalcam evaluate | localise | transfer | reproduce | report | claims | data``: thin
wrappers over :mod:`causalcam.reproduce`, :mod:`causalcam.evaluate`, :mod:`causalcam.report`
and :mod:`causalcam.data`."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer

from ._app import (
    DataOption,
    Debug,
    Device,
    PrecisionOption,
    Quiet,
    Settings,
    app,
    launched_command,
    parse_thresholds,
    split_names,
    usage_errors,
    user_errors,
)

data_app = typer.Typer(
    help="Get and check the COVID-CT data set.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(data_app, name="data")


@app.command()
def evaluate(
    checkpoints: Annotated[
        list[Path], typer.Argument(help="Checkpoints written by `causalcam train`.")
    ],
    methods: Annotated[
        str, typer.Option(help="Comma-separated methods or causal variants causal[loss,n,sign].")
    ] = "gradcam,gradcam++,causal",
    thresholds: Annotated[
        str | None,
        typer.Option(help="Comma-separated, or start:stop:step (default 0.10:0.80:0.01)."),
    ] = None,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("causalcam-out/evaluate"),
    data: DataOption = None,
    limit: Annotated[
        int | None, typer.Option(help="Use the first N test images per class.")
    ] = None,
    n_boot: Annotated[int, typer.Option(help="Bootstrap resamples for the intervals.")] = 1000,
    precision: PrecisionOption = "fp32",
    metrics: Annotated[
        str | None,
        typer.Option(
            help="Instead of deletion/insertion: comma-separated metric groups of "
            "road,confidence,sanity,complexity,sensitivity (docs/metrics.md)."
        ),
    ] = None,
    quiet: Quiet = False,
    device: Device = "auto",
    debug: Debug = False,
) -> None:
    """Threshold deletion/insertion (accuracy vs Huffman ratio) of each checkpoint's maps,
    or with --metrics the explanation metrics of every method against Grad-CAM."""
    settings = Settings(quiet, device, debug)
    taus = parse_thresholds(thresholds, "--thresholds")
    if metrics is not None:
        with user_errors(settings):
            from ..metrics.run import MetricsConfig, evaluate_metrics

            config = MetricsConfig(
                metrics=tuple(split_names(metrics)),
                methods=tuple(split_names(methods)),
                n_boot=n_boot,
            )
            for path in evaluate_metrics(
                checkpoints,
                out,
                config,
                data_root=data,
                limit=limit,
                device=settings.device,
                progress=settings.progress,
            ):
                settings.info(str(path))
        typer.echo(f"results are in {out.resolve()}")
        return
    with user_errors(settings):
        from ..evaluate import DEFAULT_THRESHOLDS, EvaluationSettings
        from ..reproduce import evaluate_checkpoints

        with launched_command(
            settings,
            "evaluate",
            precision,
            out,
            checkpoints=checkpoints,
            methods=methods,
            thresholds=taus,
            data=data,
            limit=limit,
            n_boot=n_boot,
        ) as launch:
            ctx, settings, resolved = launch.ctx, launch.settings, launch.precision
            written = evaluate_checkpoints(
                checkpoints,
                out,
                methods=split_names(methods),
                settings=EvaluationSettings(
                    thresholds=taus or DEFAULT_THRESHOLDS,
                    progress=settings.progress,
                    precision=resolved,
                ),
                data_root=data,
                limit=limit,
                n_boot=n_boot,
                device=ctx.device,
            )
        for path in written:
            settings.info(str(path))
        if ctx.is_main:
            typer.echo(f"results are in {out.resolve()}")


@app.command()
def localise(
    checkpoint: Annotated[
        Path | None, typer.Argument(help="Checkpoint (default: the bundled model).")
    ] = None,
    methods: Annotated[
        str | None, typer.Option(help="Comma-separated methods (default: all six).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("causalcam-out/localise"),
    split: Annotated[str, typer.Option(help="train, val or test.")] = "test",
    data: DataOption = None,
    limit: Annotated[int | None, typer.Option(help="Use the first N scans per class.")] = None,
    n_boot: Annotated[int, typer.Option(help="Bootstrap resamples for the intervals.")] = 1000,
    grid: Annotated[int, typer.Option(help="Random scans shown in masks.png.")] = 32,
    quiet: Quiet = False,
    device: Device = "auto",
    debug: Debug = False,
) -> None:
    """Share of each map's mass inside the lungs (lung masks by thresholding), with
    bootstrap intervals; writes localisation.{md,csv,json} and masks.png to check by eye."""
    settings = Settings(quiet, device, debug)
    with user_errors(settings):
        from ..evaluate.localisation import LocalisationSettings, run_localisation
        from ..explain import PAPER_MAPS
        from ..network import resolve_device

        with usage_errors("--device"):
            torch_device = resolve_device(device)
        result = run_localisation(
            checkpoint,
            out,
            split=split,
            data_root=data,
            limit=limit,
            device=torch_device,
            settings=LocalisationSettings(
                methods=tuple(split_names(methods)) if methods else PAPER_MAPS,
                n_boot=n_boot,
                grid=grid,
                progress=settings.progress,
            ),
        )
        settings.info(result.markdown())
        typer.echo(f"results are in {out.resolve()}")


@app.command()
def transfer(
    source: Annotated[Path, typer.Argument(help="Checkpoint whose maps make the masks.")],
    targets: Annotated[list[Path], typer.Argument(help="Checkpoints fed the masked images.")],
    thresholds: Annotated[
        str | None, typer.Option(help="Comma-separated, or start:stop:step (default 0.1-0.5).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("causalcam-out/transfer"),
    data: DataOption = None,
    limit: Annotated[
        int | None, typer.Option(help="Use the first N test images per class.")
    ] = None,
    causal: Annotated[
        str,
        typer.Option(help="Causal variant against Grad-CAM, e.g. causal[mse,none,literal]."),
    ] = "causal",
    precision: PrecisionOption = "fp32",
    quiet: Quiet = False,
    device: Device = "auto",
    debug: Debug = False,
) -> None:
    """Transference table (the paper's Tables 1-2): source masks, target accuracies."""
    settings = Settings(quiet, device, debug)
    taus = parse_thresholds(thresholds, "--thresholds")
    with user_errors(settings):
        from ..evaluate import TRANSFER_THRESHOLDS, EvaluationSettings
        from ..reproduce import transfer_checkpoints

        with launched_command(
            settings,
            "transfer",
            precision,
            out,
            source=source,
            targets=targets,
            thresholds=taus,
            data=data,
            limit=limit,
            causal=causal,
        ) as launch:
            ctx, settings, resolved = launch.ctx, launch.settings, launch.precision
            csv_path, _, markdown = transfer_checkpoints(
                source,
                targets,
                out,
                settings=EvaluationSettings(
                    thresholds=taus or TRANSFER_THRESHOLDS,
                    progress=settings.progress,
                    precision=resolved,
                ),
                data_root=data,
                limit=limit,
                device=ctx.device,
                causal=causal,
            )
        if ctx.is_main:
            settings.info(markdown.read_text(encoding="utf-8"))
            typer.echo(f"table: {markdown} (and {csv_path.name}, .json)")


@app.command()
def reproduce(
    profile: Annotated[
        str,
        typer.Option(
            help="paper (full protocol, GPU), full-cpu (the paper's scale on a 2-core CPU), "
            "quick (2-core CPU, <= 1 h), tiny."
        ),
    ] = "quick",
    out: Annotated[Path | None, typer.Option(help="Run folder (default runs/PROFILE).")] = None,
    data: DataOption = None,
    seed: Annotated[int, typer.Option(help="Random seed of every training run.")] = 0,
    archs: Annotated[
        str | None,
        typer.Option(
            help="Some of the profile's networks, comma-separated (the first is the maps' "
            "source; Tables 1-2 need another): the protocol on the networks at hand."
        ),
    ] = None,
    stop_after: Annotated[
        str | None,
        typer.Option(help="Stop after this stage (train, curves, transfer, ablation, ...)."),
    ] = None,
    weights: Annotated[
        Path | None,
        typer.Option(
            help="Folder of committed networks (`causalcam weights export`): those found "
            "there under their architecture's name are used instead of being trained."
        ),
    ] = None,
    reuse: Annotated[
        Path | None,
        typer.Option(
            help="Committed results of this profile (e.g. docs/results/full-cpu): a stage "
            "computed there from the same inputs is copied, not computed again."
        ),
    ] = None,
    precision: PrecisionOption = "fp32",
    quiet: Quiet = False,
    device: Device = "auto",
    debug: Debug = False,
) -> None:
    """The paper end to end: train, maps, deletion/insertion, transference, report. Resumes.
    Under torchrun the evaluating stages share the test images (train with one process)."""
    settings = Settings(quiet, device, debug)
    with user_errors(settings):
        from ..reproduce import STAGES, RunSettings, get_profile, with_archs
        from ..reproduce import reproduce as run_reproduction

        with usage_errors("--profile"):
            chosen = get_profile(profile)
        if archs is not None:
            with usage_errors("--archs"):
                chosen = with_archs(chosen, split_names(archs))
        if weights is not None:
            if not weights.is_dir():
                raise typer.BadParameter(f"{weights} is not a folder", param_hint="'--weights'")
            chosen = dataclasses.replace(chosen, weights=str(weights))
        if stop_after is not None and stop_after not in STAGES:
            raise typer.BadParameter(
                f"{stop_after!r} is not a stage; one of {', '.join(STAGES)}",
                param_hint="--stop-after",
            )
        if reuse is not None and not (reuse / "manifest.json").is_file():
            raise typer.BadParameter(
                f"{reuse} holds no run (no manifest.json)", param_hint="'--reuse'"
            )
        run_dir = out or Path("runs") / chosen.name
        with launched_command(
            settings,
            "reproduce",
            precision,
            run_dir,
            profile=profile,
            data=data,
            seed=seed,
            archs=archs,
            weights=weights,
        ) as launch:
            ctx, settings = launch.ctx, launch.settings
            html = run_reproduction(
                run_dir,
                chosen,
                data_root=data,
                settings=RunSettings(
                    seed=seed,
                    device=ctx.device,
                    precision=launch.precision,
                    progress=settings.progress,
                    committed=reuse,
                ),
                log=settings.info,
                stop_after=stop_after,
            )
        if not ctx.is_main:
            return
        if html is None:
            typer.echo(f"stopped after {stop_after}: {run_dir} (rerun without --stop-after)")
        else:
            typer.echo(f"report: {html} (and report.md)")


@app.command()
def report(
    run: Annotated[Path, typer.Argument(help="Run folder of `causalcam reproduce`.")],
    screenshot: Annotated[
        Path | None, typer.Option(help="Also render report.html in headless Chromium to a PNG.")
    ] = None,
    export: Annotated[
        Path | None,
        typer.Option(help="Also copy the run without checkpoints and caches to this folder."),
    ] = None,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """Rebuild report.md, report.html and claims.json of a run folder; print the verdicts."""
    settings = Settings(quiet, "cpu", debug)
    with user_errors(settings):
        from ..report import build_report, export_run
        from ..report import screenshot as render_screenshot
        from ..report.claims import verdict_lines

        paths = build_report(run)
        typer.echo(f"report: {paths.html} (and {paths.markdown.name})")
        typer.echo(f"the paper's claims ({paths.claims.name}):")
        for line in verdict_lines(paths.verdicts):
            typer.echo(f"  {line}")
        if screenshot is not None:
            typer.echo(f"screenshot: {render_screenshot(paths.html, screenshot)}")
        if export is not None:
            typer.echo(f"exported: {export_run(run, export)}")


@app.command()
def claims(
    runs: Annotated[
        list[Path],
        typer.Argument(help="Run folders of `causalcam reproduce` (or seed-study folders)."),
    ],
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """The verdict on each claim of the paper, a column per run folder (a Markdown table)."""
    settings = Settings(quiet, "cpu", debug)
    with user_errors(settings):
        from ..report import render_markdown
        from ..report.claims import comparison_table
        from ..report.sections import folder_verdicts

        columns = [folder_verdicts(run) for run in runs]
        typer.echo(render_markdown([comparison_table(columns)]), nl=False)


@data_app.command(name="import")
def data_import(
    source: Annotated[Path, typer.Argument(help="A local copy of COVID-CT (with Data-split/).")],
    dest: Annotated[Path | None, typer.Option(help="Where to install (default: cache).")] = None,
    checksums: Annotated[bool, typer.Option(help="Check SHA256SUMS.")] = True,
    overwrite: Annotated[bool, typer.Option(help="Replace an installed copy.")] = False,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """Verify a local copy of COVID-CT and install it where causalcam looks for it."""
    settings = Settings(quiet, "cpu", debug)
    with user_errors(settings):
        from ..data.verify import import_dataset

        installed = import_dataset(
            source, dest, checksums=checksums, overwrite=overwrite, progress=settings.progress
        )
        typer.echo(f"installed and verified: {installed}")


@data_app.command(name="fetch")
def data_fetch(
    dest: Annotated[Path | None, typer.Option(help="Where to install (default: cache).")] = None,
    allow_network: Annotated[
        bool, typer.Option(help="Allow downloading the release from github.com.")
    ] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace an installed copy.")] = False,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """Download the official COVID-CT release, verify and install it (needs --allow-network)."""
    settings = Settings(quiet, "cpu", debug)
    with user_errors(settings):
        from ..data.verify import fetch_dataset

        installed = fetch_dataset(
            dest, allow_network=allow_network, overwrite=overwrite, progress=settings.progress
        )
        typer.echo(f"installed and verified: {installed}")


@data_app.command(name="verify")
def data_verify(
    root: Annotated[
        Path | None, typer.Argument(help="Data folder (default: $CAUSALCAM_DATA or the cache).")
    ] = None,
    checksums: Annotated[bool, typer.Option(help="Check SHA256SUMS.")] = True,
    official: Annotated[bool, typer.Option(help="Also check the official split counts.")] = False,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """Check a COVID-CT folder: layout, split files, every image, checksums; all problems."""
    settings = Settings(quiet, "cpu", debug)
    with user_errors(settings):
        from ..data import resolve_root
        from ..data.covidct import raise_problems
        from ..data.verify import verify_dataset

        folder = resolve_root(root)
        raise_problems(
            verify_dataset(
                folder, checksums=checksums, official=official, progress=settings.progress
            )
        )
        typer.echo(f"{folder}: no problems found")


@data_app.command(name="pack")
def data_pack(
    out: Annotated[Path, typer.Argument(help="The pack file to write (e.g. covidct-224.ccpack).")],
    data: DataOption = None,
    size: Annotated[
        list[int] | None, typer.Option("--size", help="Input size to pack for (repeatable).")
    ] = None,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """Write every split as uint8 tensors into one file, for `--data` on a machine without
    the images: training at the training geometry, validation and test as evaluated."""
    settings = Settings(quiet, "cpu", debug)
    with user_errors(settings):
        from ..data.cache import write_pack

        pack = write_pack(out, size or [224], data, progress=settings.progress)
        megabytes = out.stat().st_size / 2**20
        typer.echo(f"{out}: {megabytes:.1f} MB, " + ", ".join(sorted(pack.splits)))
