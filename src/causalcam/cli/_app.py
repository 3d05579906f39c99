"""The typer application, the options every command shares, and the error convention.

Exit codes: 0 success, 1 failure (a :class:`~causalcam.errors.CausalCamError` is printed as
one ``error: <message>`` line on stderr without a traceback; ``--debug`` adds the traceback),
2 usage error (unknown option, bad option value: typer's own message).
"""

from __future__ import annotations

import dataclasses
import os
import re
import traceback
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..errors import CausalCamError, InputError

if TYPE_CHECKING:
    from ..distributed import Context

app = typer.Typer(
    name="causalcam",
    help="Causal visual features from Grad-CAM and contrast maps (Prabhushankar & AlRegib, "
    "ICIP 2021), with a faithful evaluation. Every command takes --quiet, --device, --debug.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"causalcam {version('causalcam')}")
        except PackageNotFoundError:
            typer.echo("causalcam (not installed as a package)")
        raise typer.Exit()


@app.callback()
def _main(
    context: typer.Context,
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Causal visual features from Grad-CAM and contrast maps (ICIP 2021)."""
    _refuse_under_torchrun(context.invoked_subcommand)


def _refuse_under_torchrun(command: str | None) -> None:
    """Commands that do not share their work among processes refuse to run under torchrun."""
    if command is None or os.environ.get("WORLD_SIZE", "1") in ("", "1"):
        return
    from ..distributed import DISTRIBUTED_COMMANDS, launched

    if command in DISTRIBUTED_COMMANDS or not launched():
        return
    reason = (
        "training with DistributedDataParallel is not supported yet"
        if command in ("train", "train-all")
        else "it does not share its work among processes"
    )
    typer.echo(
        f"error: causalcam {command} cannot run under torchrun (WORLD_SIZE="
        f"{os.environ.get('WORLD_SIZE')}): {reason}; run it as one process "
        f"(python -m causalcam {command} ...); under torchrun use "
        + ", ".join(DISTRIBUTED_COMMANDS),
        err=True,
    )
    raise typer.Exit(1)


def command_identity(command: str, **options: Any) -> dict[str, Any]:
    """A command and the options that shape its results (JSON-ready): two runs with equal
    identities are the same run (torchrun ranks must agree; an output folder is shared)."""
    return {"command": command, **{k: _plain(v) for k, v in options.items()}}


def _plain(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value if value is None or isinstance(value, bool | int | float | str) else str(value)


Quiet = Annotated[
    bool, typer.Option("--quiet", "-q", help="Print only results and errors; no progress bars.")
]
Device = Annotated[
    str, typer.Option(help="Torch device: auto (CUDA when available), cpu, cuda, cuda:1, ...")
]
Debug = Annotated[bool, typer.Option(help="Show the full traceback of errors.")]
PrecisionOption = Annotated[
    str,
    typer.Option(
        "--precision",
        help="Forward-pass precision: fp32 (exact), bf16 (autocast where the CPU or GPU runs "
        "it natively, else fp32 with a warning), fp16 (CUDA) or auto (bf16 where supported). "
        "Training keeps fp32 master weights.",
    ),
]


@dataclass(frozen=True)
class Settings:
    """The options every command shares."""

    quiet: bool = False
    device: str = "auto"
    debug: bool = False

    @property
    def progress(self) -> bool:
        return not self.quiet

    def for_rank(self, rank: int) -> Settings:
        """Only rank 0 of a torchrun launch prints progress and results."""
        return self if rank == 0 else dataclasses.replace(self, quiet=True)

    def info(self, message: str) -> None:
        """Print ``message`` unless ``--quiet``."""
        if not self.quiet:
            typer.echo(message)


def warn(message: str) -> None:
    """Print a warning on stderr (also with ``--quiet``)."""
    typer.echo(f"warning: {message}", err=True)


@contextmanager
def user_errors(settings: Settings) -> Iterator[None]:
    """Turn a :class:`CausalCamError` into ``error: <message>`` on stderr and exit code 1."""
    try:
        yield
    except CausalCamError as error:
        if settings.debug:
            traceback.print_exc()
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise typer.Exit(130) from None


@contextmanager
def usage_errors(option: str) -> Iterator[None]:
    """Report an :class:`InputError` raised while reading ``option`` as a usage error (exit 2)."""
    try:
        yield
    except InputError as error:
        raise typer.BadParameter(str(error), param_hint=f"'{option}'") from None


def chosen_precision(precision: str, device: object) -> str:
    """``--precision`` as it will run on ``device`` (a fallback to fp32 is printed as a
    warning); an unknown name is a usage error."""
    from ..precision import PrecisionWarning, resolve_precision

    with usage_errors("--precision"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PrecisionWarning)
        resolved = resolve_precision(precision, str(device))
    for warning in caught:
        warn(str(warning.message))
    return resolved


@dataclass(frozen=True)
class Launch:
    """A command's place in a torchrun launch (rank 0 of 1 outside one), the settings of this
    rank (only rank 0 prints) and the precision it runs in."""

    ctx: Context
    settings: Settings
    precision: str


@contextmanager
def launched_command(
    settings: Settings, command: str, precision: str, out: Path, **options: Any
) -> Iterator[Launch]:
    """Resolve ``--device`` and ``--precision``, join the launch with the command's identity
    (``options``: what shapes its results) and claim ``out`` for the block
    (:func:`causalcam.distributed.join_launch`)."""
    from ..distributed import join_launch
    from ..network import resolve_device

    with usage_errors("--device"):
        device = resolve_device(settings.device)
    resolved = chosen_precision(precision, device)
    identity = command_identity(command, out=out, precision=resolved, **options)
    with join_launch(device, out_dir=out, identity=identity) as ctx:
        yield Launch(ctx, settings.for_rank(ctx.rank), resolved)


DataOption = Annotated[
    Path | None,
    typer.Option(
        "--data",
        help="COVID-CT folder, or a pack of it (`causalcam data pack`) "
        "(default: $CAUSALCAM_DATA, else the cache).",
    ),
]


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
