"""``causalcam demo`` and ``causalcam explain``: thin wrappers over :mod:`causalcam.demo` and
:mod:`causalcam.explain_files`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import DataError
from ..method_names import METHOD_NAMES, PAPER_METHODS
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
    warn,
)

if TYPE_CHECKING:
    from ..explain_files import ExplainRun

_METHOD_NAMES = METHOD_NAMES
_DEFAULT_METHODS = ",".join(PAPER_METHODS)


def split_methods(values: list[str]) -> list[str]:
    """``["gradcam,causal", "gradcam++"]`` -> method names, checked (usage error if unknown)."""
    methods = [m.strip() for value in values for m in value.split(",") if m.strip()]
    unknown = [m for m in methods if m not in _METHOD_NAMES]
    if unknown:
        raise typer.BadParameter(
            f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(_METHOD_NAMES)}",
            param_hint="'--methods'",
        )
    if not methods:
        raise typer.BadParameter("choose at least one method", param_hint="'--methods'")
    return methods


@app.command()
def demo(
    out: Annotated[
        Path, typer.Option(help="Folder for the panels, overlays and explanations.json.")
    ] = Path("causalcam-out/demo"),
    quiet: Quiet = False,
    device: Device = "auto",
    debug: Debug = False,
) -> None:
    """Explain the bundled sample scans with the bundled trained ResNet-18 (nothing to download)."""
    settings = Settings(quiet, device, debug)
    with user_errors(settings):
        from ..demo import run_demo
        from ..network import resolve_device

        started = time.perf_counter()
        with usage_errors("--device"):
            torch_device = resolve_device(device)
        run = run_demo(out, device=torch_device, progress=settings.progress)
        _report_run(settings, run, time.perf_counter() - started)


@app.command()
def explain(
    images: Annotated[
        list[Path],
        typer.Argument(
            help="Image files and/or folders (searched recursively).",
            metavar="IMAGES_OR_FOLDERS",
        ),
    ],
    model: Annotated[
        str,
        typer.Option(
            "--model",
            "-m",
            help="A checkpoint written by `causalcam train`, 'default' (the bundled ResNet-18), "
            "or an architecture name such as resnet18 (RANDOM weights: for trying things out).",
        ),
    ],
    methods: Annotated[
        list[str],
        typer.Option(help=f"Comma-separated or repeated; from {', '.join(_METHOD_NAMES)}."),
    ] = [_DEFAULT_METHODS],  # noqa: B006 - typer reads this default, nothing mutates it
    layer: Annotated[
        str | None,
        typer.Option(help="Dotted name of the target layer (default: layer4 / features.norm5)."),
    ] = None,
    contrast_class: Annotated[
        str | None,
        typer.Option(help="Contrast class Q, by name or index (default: the runner-up class)."),
    ] = None,
    loss: Annotated[
        str | None,
        typer.Option(help="Causal map contrast loss: mse, bce or mse_prob [default: mse_prob]."),
    ] = None,
    normalize: Annotated[
        str | None,
        typer.Option(help="Causal map normalisation: none, l1, l2 or maxabs [default: none]."),
    ] = None,
    sign: Annotated[
        str | None, typer.Option(help="Causal map sign convention: literal or set [default: set].")
    ] = None,
    gradcam_term: Annotated[
        str | None,
        typer.Option(help="Causal map Grad-CAM term: logit or ce [default: logit]."),
    ] = None,
    save_npy: Annotated[bool, typer.Option(help="Also save every map as .npy (float32).")] = False,
    window: Annotated[
        str | None,
        typer.Option(
            help="Display window of DICOM/NIfTI (Hounsfield units) and 16-bit images: 'W,L' "
            "such as 1500,-600 or a preset: lung (DICOM/NIfTI default), mediastinum, "
            "soft_tissue, bone, brain, minmax (16-bit default)."
        ),
    ] = None,
    plane: Annotated[
        str, typer.Option(help="Plane NIfTI volumes are cut in: axial, coronal or sagittal.")
    ] = "axial",
    slices: Annotated[
        str | None,
        typer.Option(help="Slices of each NIfTI volume / DICOM series: START:STOP[:STEP] or one."),
    ] = None,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("causalcam-out/explain"),
    precision: PrecisionOption = "fp32",
    quiet: Quiet = False,
    device: Device = "auto",
    debug: Debug = False,
) -> None:
    """Explain your own images with your model: panels, overlays, JSON (and .npy maps)."""
    settings = Settings(quiet, device, debug)
    chosen = split_methods(methods)
    with user_errors(settings):
        from ..distributed.explain import explain_files_sharded
        from ..explain import CausalOptions
        from ..explain_files import explain_files, load_model_source
        from ..inputs import Reading
        from ..medical import parse_window

        with usage_errors("--loss/--normalize/--sign/--gradcam-term"):
            chosen_options = {
                "loss": loss,
                "normalize": normalize,
                "sign": sign,
                "gradcam_term": gradcam_term,
            }
            options = CausalOptions(**{k: v for k, v in chosen_options.items() if v is not None})
        with usage_errors("--window/--plane"):
            reading = Reading(parse_window(window) if window else None, plane, slices)
        with launched_command(
            settings,
            "explain",
            precision,
            out,
            images=images,
            model=model,
            methods=chosen,
            layer=layer,
            contrast_class=contrast_class,
            causal=options.to_dict(),
            save_npy=save_npy,
            reading=reading.to_dict(),
        ) as launch:
            ctx, settings, resolved = launch.ctx, launch.settings, launch.precision
            source = load_model_source(model, ctx.device)
            if source.warning and ctx.is_main:
                warn(source.warning)
            started = time.perf_counter()
            run = (explain_files_sharded if ctx.distributed else explain_files)(
                images,
                source,
                out,
                methods=chosen,
                target_layer=layer,
                contrast_class=contrast_class,
                causal=options,
                save_npy=save_npy,
                device=ctx.device,
                progress=settings.progress,
                reading=reading,
                precision=resolved,
            )
            if ctx.is_main:
                _report_run(settings, run, time.perf_counter() - started)
        if not run.records:
            first = run.skipped[0]
            raise DataError(
                f"no file could be explained ({len(run.skipped)} skipped); "
                f"{first['file']}: {first['reason']}"
            )
    if run.skipped:
        raise typer.Exit(1)


def _report_run(settings: Settings, run: ExplainRun, seconds: float) -> None:
    for record in run.records:
        truth = f", true {record['true_class']}" if record.get("true_class") else ""
        settings.info(
            f"{Path(record['file']).name}: {record['predicted_class']} "
            f"({100 * record['confidence']:.1f}%{truth})  ->  {record['outputs']['panel']}"
        )
    settings.info(f"explained {len(run.records)} image(s) in {seconds:.1f} s")
    report = getattr(run, "report", None)
    if report is not None:
        settings.info(f"{len(report.computed)} processes; {report.line()}")
    for tie in getattr(run, "near_ties", []):
        warn(
            f"{tie['file']}: near-tie, top-2 logits differ by {tie['logit_difference']:.2g} "
            "(< 1e-4): its prediction may differ between runs with other process counts"
        )
    typer.echo(f"panels, overlays and {run.summary.name} are in {run.out_dir.resolve()}")
    from ..disclaimer import research_notice

    if run.skipped:
        warn(f"skipped {len(run.skipped)} file(s) that could not be explained:")
        for item in run.skipped:
            typer.echo(f"  {item['file']}: {item['reason']}", err=True)
    settings.info(research_notice())
