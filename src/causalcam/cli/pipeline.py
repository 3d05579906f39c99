"""``causalcam train | pretrain | train-all | evaluate | localise | transfer | reproduce |
report | data``: thin wrappers over :mod:`causalcam.train`, :mod:`causalcam.pretrain`,
:mod:`causalcam.train_set`,
:mod:`causalcam.evaluate`, :mod:`causalcam.reproduce`, :mod:`causalcam.report` and
:mod:`causalcam.data`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from ._app import (
    Debug,
    Device,
    PrecisionOption,
    Quiet,
    Settings,
    app,
    launched_command,
    usage_errors,
    user_errors,
)

DataOption = Annotated[
    Path | None,
    typer.Option(
        "--data",
        help="COVID-CT folder, or a pack of it (`causalcam data pack`) "
        "(default: $CAUSALCAM_DATA, else the cache).",
    ),
]
data_app = typer.Typer(
    help="Get and check the COVID-CT data set.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(data_app, name="data")


def split_names(text: str) -> list[str]:
    """``"gradcam,causal[bce,l2,set]"`` -> ``["gradcam", "causal[bce,l2,set]"]``."""
    return [name.strip() for name in re.findall(r"[^,\[]+(?:\[[^\]]*\])?", text) if name.strip()]


def parse_thresholds(text: str | None, option: str) -> tuple[float, ...] | None:
    """``"0.1,0.2"`` or ``"0.1:0.8:0.01"`` (start:stop:step, stop included) -> thresholds."""
    if text is None:
        return None
    try:
        if ":" in text:
            start, stop, step = (float(part) for part in text.split(":"))
            count = round((stop - start) / step) + 1
            return tuple(round(start + step * i, 6) for i in range(count))
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a comma-separated list or start:stop:step", param_hint=f"'{option}'"
        ) from None


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
    from ..train import parse_override

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
        from ..train import TrainConfig, train

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
        from ..pretrain import PretrainConfig
        from ..pretrain import pretrain as run_pretraining

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
        from ..train import TrainConfig
        from ..train_set import summary_markdown, train_set

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
        rows = train_set(base, split_names(archs), log=settings.info)
        settings.info(summary_markdown(rows))
        typer.echo(f"summary: {out / 'summary.md'} (and summary.json)")


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
    quiet: Quiet = False,
    device: Device = "auto",
    debug: Debug = False,
) -> None:
    """Threshold deletion/insertion (accuracy vs Huffman ratio) of each checkpoint's maps."""
    settings = Settings(quiet, device, debug)
    taus = parse_thresholds(thresholds, "--thresholds")
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
        from ..core import resolve_device
        from ..evaluate.localisation import LocalisationSettings, run_localisation
        from ..method_names import METHOD_NAMES

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
                methods=tuple(split_names(methods)) if methods else METHOD_NAMES,
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
        if stop_after is not None and stop_after not in STAGES:
            raise typer.BadParameter(
                f"{stop_after!r} is not a stage; one of {', '.join(STAGES)}",
                param_hint="--stop-after",
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
        from ..data.pack import write_pack

        pack = write_pack(out, size or [224], data, progress=settings.progress)
        megabytes = out.stat().st_size / 2**20
        typer.echo(f"{out}: {megabytes:.1f} MB, " + ", ".join(sorted(pack.splits)))
