"""``causalcam serve``: a local web page (FastAPI + uvicorn) over :class:`ExplainService`.

Importing this module needs the ``app`` extra (FastAPI, uvicorn). The page is one
self-contained HTML file (no external fonts, scripts or analytics; FastAPI's documentation
pages, which load scripts from a CDN, are switched off). Images travel as ``data:`` URLs
inside JSON answers. Every user error comes back as ``{"error": message}`` with status 400
and is shown in the page; the server keeps serving.
"""

from __future__ import annotations

import base64
import html
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from ..errors import CausalCamError, InputError
from ..explain import CAUSAL_LOSSES, NORMALIZATIONS, SIGNS, CausalOptions
from ..extras import require
from ..files import Reading, research_notice
from ..medical import WINDOW_PRESETS, parse_window
from ..medical.nifti import PLANES
from .service import MAX_UPLOAD, ExplainService, png_bytes


def _data_url(array: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(array)).decode("ascii")


def _encode(value: Any) -> Any:
    """Arrays become PNG data URLs; containers are walked."""
    if isinstance(value, np.ndarray):
        return _data_url(value)
    if isinstance(value, dict):
        return {key: _encode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_encode(item) for item in value]
    return value


def page_html() -> str:
    """The page, with the research-use notice filled in."""
    text = (resources.files("causalcam") / "app" / "page.html").read_text(encoding="utf-8")
    return text.replace("{{NOTICE}}", html.escape(research_notice()))


def create_app(service: ExplainService) -> FastAPI:
    """The FastAPI application of the page and its JSON API."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    run = run_in_threadpool

    @app.exception_handler(CausalCamError)
    async def user_error(_request: Any, error: CausalCamError) -> Any:
        return JSONResponse({"error": str(error)}, status_code=400)

    @app.exception_handler(Exception)
    async def internal_error(_request: Any, error: Exception) -> Any:
        message = f"internal error ({type(error).__name__}): {error}"
        return JSONResponse({"error": message}, status_code=500)

    @app.get("/")
    def index() -> Any:
        return HTMLResponse(page_html())

    @app.get("/api/options")
    def options() -> Any:
        return {
            "models": service.model_names(),
            "losses": list(CAUSAL_LOSSES),
            "normalizations": list(NORMALIZATIONS),
            "signs": list(SIGNS),
            "causal": CausalOptions().to_dict(),
            "windows": list(WINDOW_PRESETS),
            "planes": list(PLANES),
            "notice": research_notice(),
        }

    @app.post("/api/explain")
    async def explain(request: Request) -> Any:
        query = request.query_params
        length = int(request.headers.get("content-length") or 0)
        name = query.get("name") or "upload"
        if length > MAX_UPLOAD:
            raise InputError(f"{name} is over {MAX_UPLOAD // 2**20} MiB")
        payload = await request.body()
        causal = CausalOptions(
            **{k: query[k] for k in ("loss", "normalize", "sign") if query.get(k)}
        )
        window = parse_window(query["window"]) if query.get("window") else None
        reading = Reading(window, query.get("plane") or "axial")
        model = query.get("model") or "default"
        segment = query.get("segment") or None
        upload = await run(service.upload, name, payload, model, causal, reading, segment)
        return _encode(await run(service.describe, upload, len(upload.scans) // 2))

    @app.get("/api/plane")
    def plane(token: str, plane: str, index: int) -> Any:
        return _encode(service.plane(service.get(token), plane, index))

    @app.get("/api/slice")
    def one_slice(token: str, index: int) -> Any:
        return _encode(service.describe(service.get(token), index))

    @app.get("/api/masks")
    def masks(token: str, index: int, method: str, threshold: float) -> Any:
        return _encode(service.masks(service.get(token), index, method, threshold))

    @app.get("/api/panel/{token}/{index}")
    def panel(token: str, index: int) -> Any:
        data = service.panel_png(service.get(token), index)
        headers = {"Content-Disposition": f'attachment; filename="panel-{index}.png"'}
        return Response(data, media_type="image/png", headers=headers)

    @app.get("/api/maps/{token}/{index}")
    def maps(token: str, index: int) -> Any:
        data = service.maps_zip(service.get(token), index)
        headers = {"Content-Disposition": f'attachment; filename="maps-{index}.zip"'}
        return Response(data, media_type="application/zip", headers=headers)

    return app


def serve(
    host: str = "127.0.0.1", port: int = 8000, models_dir: Path | None = None, device: Any = None
) -> None:
    """Load the bundled model, then serve the page until interrupted."""
    uvicorn = require("uvicorn", "causalcam serve")
    service = ExplainService(models_dir, device)
    uvicorn.run(create_app(service), host=host, port=port, log_level="warning", access_log=False)
