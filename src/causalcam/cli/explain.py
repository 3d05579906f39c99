"""``causalcam demo`` and ``causalcam explain``: thin wrappers over :mod:`causalcam.files`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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
    from ..files import ExplainRun, ModelSource
    from ..files.source import UserModel

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
    volumes: Annotated[
        bool,
        typer.Option(
            "--volumes",
            help="Explain a generated volume with a planted lesion with the bundled 3-D "
            "network small3d-lesion (NIfTI maps and planes.png).",
        ),
    ] = False,
    quiet: Quiet = False,
    device: Device = "auto",
    debug: Debug = False,
) -> None:
    """Explain the bundled sample scans with the bundled trained ResNet-18, or with
    --volumes a generated volume with the bundled 3-D network (nothing to download)."""
    settings = Settings(quiet, device, debug)
    with user_errors(settings):
        from ..files import run_demo, run_volume_demo
        from ..network import resolve_device

        started = time.perf_counter()
        with usage_errors("--device"):
            torch_device = resolve_device(device)
        demo_run = run_volume_demo if volumes else run_demo
        run = demo_run(out, device=torch_device, progress=settings.progress)
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
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="A checkpoint written by `causalcam train`, 'default' or a bundled model's "
            "name (resnet18-224, resnet18-112), or an architecture name such as resnet18 "
            "(RANDOM weights: for trying things out).",
        ),
    ] = None,
    arch: Annotated[
        str | None,
        typer.Option(
            help="Your own classifier: a torchvision or timm architecture name (resnet50, "
            "convnext_tiny, timm/resnet50), with --weights.",
            rich_help_panel="Your own model",
        ),
    ] = None,
    weights: Annotated[
        Path | None,
        typer.Option(
            help="State dict of --arch or --factory: .pth/.pt (torch.save of state_dict(); "
            "DDP 'module.' and Lightning 'model.' prefixes stripped) or .safetensors.",
            rich_help_panel="Your own model",
        ),
    ] = None,
    factory: Annotated[
        str | None,
        typer.Option(
            help="Your own code: package.module:function returning the model (imported from "
            "the working directory).",
            rich_help_panel="Your own model",
        ),
    ] = None,
    num_classes: Annotated[
        int | None,
        typer.Option(
            help="Classes of your model [default: from --labels or the weights' output layer].",
            rich_help_panel="Your own model",
        ),
    ] = None,
    labels: Annotated[
        Path | None,
        typer.Option(
            help="Text file of class names, one a line, in output order.",
            rich_help_panel="Your own model",
        ),
    ] = None,
    mean: Annotated[
        str | None,
        typer.Option(
            help="Per-channel input mean, e.g. 0.485,0.456,0.406 [default: timm's recorded "
            "one, else ImageNet's].",
            rich_help_panel="Your own model",
        ),
    ] = None,
    std: Annotated[
        str | None,
        typer.Option(
            help="Per-channel input std, e.g. 0.229,0.224,0.225 [default: as --mean].",
            rich_help_panel="Your own model",
        ),
    ] = None,
    size: Annotated[
        int | None,
        typer.Option(
            help="Input size in pixels (shorter side resized, centre crop) [default: timm's "
            "recorded one, else 224].",
            rich_help_panel="Your own model",
        ),
    ] = None,
    grey: Annotated[
        bool,
        typer.Option(
            "--grey",
            help="Feed your model grey images (three equal channels) instead of colour.",
            rich_help_panel="Your own model",
        ),
    ] = False,
    methods: Annotated[
        list[str],
        typer.Option(
            help=f"Comma-separated or repeated; from {', '.join(_METHOD_NAMES)}. All but "
            "scorecam come from one forward pass and one batched VJP; scorecam costs one "
            "forward pass per channel of the layer and image (512 for ResNet-18's layer4)."
        ),
    ] = [_DEFAULT_METHODS],  # noqa: B006 - typer reads this default, nothing mutates it
    layer: Annotated[
        str | None,
        typer.Option(help="Dotted name of the target layer (default: layer4 / features.norm5)."),
    ] = None,
    contrast_class: Annotated[
        str | None,
        typer.Option(help="Contrast class Q, by name or index (default: the runner-up class)."),
    ] = None,
    segment: Annotated[
        str | None,
        typer.Option(
            help="For a segmentation network: the class (name or index) whose region every "
            "map explains, the pixels the network assigns to it; images without such pixels "
            "are skipped and listed."
        ),
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
    """Explain your own images with your model: panels, overlays, JSON (and .npy maps).

    The model: --model (a causalcam checkpoint or bundled model), or your own classifier with
    --arch NAME --weights FILE (torchvision or timm) or --factory package.module:function.
    """
    settings = Settings(quiet, device, debug)
    chosen = split_methods(methods)
    user = _user_model(model, arch, weights, factory, num_classes, labels)
    changes = _preprocessing_changes(user, mean, std, size, grey)
    with user_errors(settings):
        from ..distributed.explain import explain_files_sharded
        from ..explain import CausalOptions
        from ..files import ExplainSettings, Reading, explain_files
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
            user_model=user,
            preprocessing=changes,
            methods=chosen,
            layer=layer,
            contrast_class=contrast_class,
            segment=segment,
            causal=options.to_dict(),
            save_npy=save_npy,
            reading=reading.to_dict(),
        ) as launch:
            ctx, settings, resolved = launch.ctx, launch.settings, launch.precision
            source = _model_source(model, user, changes, ctx.device)
            if source.warning and ctx.is_main:
                warn(source.warning)
            started = time.perf_counter()
            how = ExplainSettings(
                methods=chosen,
                target_layer=layer,
                contrast_class=contrast_class,
                segment=segment,
                causal=options,
                save_npy=save_npy,
                reading=reading,
                precision=resolved,
                device=ctx.device,
                progress=settings.progress,
            )
            explain = explain_files_sharded if ctx.distributed else explain_files
            run = explain(images, source, out, how)
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


def _user_model(
    model: str | None,
    arch: str | None,
    weights: Path | None,
    factory: str | None,
    num_classes: int | None,
    labels: Path | None,
) -> UserModel | None:
    """``--arch``/``--factory`` and their options as one spec; usage errors for a mix-up."""
    from ..files.source import UserModel

    given = [
        name for name, v in (("--model", model), ("--arch", arch), ("--factory", factory)) if v
    ]
    if len(given) != 1:
        raise typer.BadParameter(
            "give one of --model, --arch or --factory"
            + (f", not {' and '.join(given)}" if given else ""),
            param_hint="'--model'",
        )
    if model is not None:
        extra = [
            n
            for n, v in (
                ("--weights", weights),
                ("--num-classes", num_classes),
                ("--labels", labels),
            )
            if v is not None
        ]
        if extra:
            raise typer.BadParameter(
                f"{extra[0]} goes with --arch or --factory; a --model checkpoint has its own",
                param_hint=f"'{extra[0]}'",
            )
        return None
    return UserModel(arch, weights, factory, num_classes, labels)


def _preprocessing_changes(
    user: UserModel | None, mean: str | None, std: str | None, size: int | None, grey: bool
) -> dict[str, Any]:
    """``--mean/--std/--size/--grey`` as changes to your model's default preprocessing."""
    given = {"--mean": mean, "--std": std, "--size": size, "--grey": grey or None}
    if user is None:
        extra = next((name for name, value in given.items() if value is not None), None)
        if extra is not None:
            raise typer.BadParameter(
                f"{extra} goes with --arch or --factory; a --model checkpoint records its own "
                "preprocessing",
                param_hint=f"'{extra}'",
            )
        return {}
    changes: dict[str, Any] = {"rgb": not grey}
    if size is not None:
        if size < 8:
            raise typer.BadParameter(f"{size} pixels is too small", param_hint="'--size'")
        changes["size"] = size
    for name, text in (("mean", mean), ("std", std)):
        if text is not None:
            changes[name] = _channels(text, f"--{name}")
    return changes


def _channels(text: str, option: str) -> tuple[float, float, float]:
    """``"0.5"`` or ``"0.485,0.456,0.406"`` -> three per-channel values."""
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        values = []
    if len(values) not in (1, 3):
        raise typer.BadParameter(
            f"{text!r}: give one number or three, comma-separated", param_hint=f"'{option}'"
        )
    first, *rest = values
    return (first, first, first) if not rest else (values[0], values[1], values[2])


def _model_source(
    model: str | None, user: UserModel | None, changes: dict[str, Any], device: Any
) -> ModelSource:
    """``--model``'s checkpoint or bundled model (loaded on ``device``), or your own."""
    from ..files import load_model_source, user_model_source

    if user is None:
        assert model is not None
        return load_model_source(model, device)
    return user_model_source(user, changes)


def _figure_of(outputs: dict[str, Any]) -> str:
    """The figure a record's outputs show it in: an image's panel, a volume's planes."""
    return str(outputs.get("panel") or outputs["planes"])


def _report_run(settings: Settings, run: ExplainRun, seconds: float) -> None:
    for record in run.records:
        truth = f", true {record['true_class']}" if record.get("true_class") else ""
        settings.info(
            f"{Path(record['file']).name}: {record['predicted_class']} "
            f"({100 * record['confidence']:.1f}%{truth})  ->  {_figure_of(record['outputs'])}"
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
    from ..files import research_notice

    if run.skipped:
        warn(f"skipped {len(run.skipped)} file(s) that could not be explained:")
        for item in run.skipped:
            typer.echo(f"  {item['file']}: {item['reason']}", err=True)
    settings.info(research_notice())
