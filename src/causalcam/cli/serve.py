"""``causalcam serve``: the local explanation page (extra ``causalcam[app]``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._app import Debug, Device, Quiet, Settings, app, usage_errors, user_errors


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(help="Address to listen on; 127.0.0.1 keeps the page on this machine.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    models: Annotated[
        Path | None,
        typer.Option(help="Folder of checkpoints (*.pt) the page offers beside the bundled model."),
    ] = None,
    quiet: Quiet = False,
    device: Device = "auto",
    debug: Debug = False,
) -> None:
    """Open a local web page: drop in a scan (PNG, JPEG, DICOM, NIfTI) and see its explanations.

    With the 3-D network small3d-lesion (or a 3-D checkpoint in --models) chosen in the page, a
    NIfTI volume is explained whole and shown in the axial, coronal and sagittal planes.
    """
    settings = Settings(quiet, device, debug)
    with user_errors(settings):
        from ..extras import require
        from ..network import resolve_device

        require("fastapi", "causalcam serve")
        require("uvicorn", "causalcam serve")
        from ..app.server import serve as run_server

        with usage_errors("--device"):
            torch_device = resolve_device(device)
        if models is not None and not models.is_dir():
            raise typer.BadParameter(f"{models} is not a folder", param_hint="'--models'")
        settings.info(f"causalcam serve: open http://{host}:{port}/ (Ctrl+C stops)")
        run_server(host, port, models, torch_device)
