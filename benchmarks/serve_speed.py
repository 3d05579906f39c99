"""Speed of ``causalcam serve`` as a person sees it, in headless Chromium (outside traffic off).

A bundled model (``--bundled``, default: the default one), a 224 x 224 PNG scan. Measured
inside the page with ``performance.now()``:

- explain: from handing the file to the page until the scan, the five maps and the masks
  are decoded and shown (the page's upload path: POST, explanation, PNG maps, first masks);
- slider: from a threshold change until both masks, their H and predictions are shown.

Medians and 90th percentiles after warm-up. Targets: explain < 1 s, slider < 200 ms.
Run: ``.venv/bin/python benchmarks/serve_speed.py [--bundled resnet18-112]
[--screenshot docs/serve-page.png]``.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn
from PIL import Image

from causalcam.app.browser import offline_chromium
from causalcam.app.server import create_app
from causalcam.app.service import ExplainService
from causalcam.data import sample_scans
from causalcam.models.checkpoint import BUNDLED_MODELS, DEFAULT_BUNDLED

UPLOAD_JS = """
const [bytes, done] = [arguments[0], arguments[1]];
const data = Uint8Array.from(atob(bytes), (c) => c.charCodeAt(0));
const file = new File([data], "scan-224.png", {type: "image/png"});
const started = performance.now();
upload(file).then(async () => {
  const shown = [...document.querySelectorAll("img")].filter((i) => i.src);
  await Promise.all(shown.map((i) => i.decode()));
  done(performance.now() - started);
});
"""
SLIDER_JS = """
const [value, done] = [arguments[0], arguments[1]];
const started = performance.now();
document.getElementById("threshold").value = value;
updateMasks().then(async () => {
  const masks = ["deletion-image", "insertion-image"].map((id) => document.getElementById(id));
  await Promise.all(masks.map((i) => i.decode()));
  done(performance.now() - started);
});
"""


def scan_224() -> str:
    """A bundled sample scan resized to 224 x 224, as base64 PNG."""
    import base64

    buffer = io.BytesIO()
    Image.open(sample_scans()[0].path).convert("L").resize((224, 224)).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def bundled_choice(name: str, folder: Path) -> str:
    """The page's model choice for bundled model ``name``: ``default``, or a copy in
    ``folder`` (the page's ``--models`` folder)."""
    from causalcam.models.checkpoint import BUNDLED_MODELS, DEFAULT_BUNDLED, MODEL_ASSETS

    if name == DEFAULT_BUNDLED:
        return "default"
    shutil.copy(MODEL_ASSETS / BUNDLED_MODELS[name], folder / f"{name}.pt")
    return f"{name}.pt"


def start_server(models_dir: Path | None) -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app(ExplainService(models_dir))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}"


def summary(name: str, times: list[float], target: float) -> None:
    ordered = sorted(times)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    median = statistics.median(times)
    verdict = "meets" if median < target else "MISSES"
    print(
        f"{name}: median {median:.0f} ms, p90 {p90:.0f} ms over {len(times)} "
        f"(target < {target:.0f} ms: {verdict})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--screenshot", type=Path, default=None)
    parser.add_argument(
        "--bundled",
        choices=list(BUNDLED_MODELS),
        default=DEFAULT_BUNDLED,
        help="the bundled model to explain with (default: the default one, 224 px)",
    )
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="causalcam-bench-"))
    chosen = bundled_choice(args.bundled, folder)
    base = start_server(folder)
    driver: Any = offline_chromium(1400, 1180)
    try:
        driver.set_script_timeout(120)
        driver.get(base + "/")
        time.sleep(1.0)
        driver.execute_script(f"document.getElementById('model').value = '{chosen}'")
        print(f"model: {chosen}")
        payload = scan_224()
        for _ in range(2):  # warm-up
            driver.execute_async_script(UPLOAD_JS, payload)
        explain = [driver.execute_async_script(UPLOAD_JS, payload) for _ in range(args.rounds)]
        values = [f"{0.05 + 0.9 * (i % 19) / 18:.2f}" for i in range(2 * args.rounds)]
        driver.execute_async_script(SLIDER_JS, "0.3")
        slider = [driver.execute_async_script(SLIDER_JS, value) for value in values]
        print(f"load average (1, 5, 15 min) at the end: {os.getloadavg()}")
        summary("explain and show a 224 px scan", explain, 1000.0)
        summary("slider move", slider, 200.0)
        if args.screenshot:
            driver.execute_async_script(SLIDER_JS, "0.5")
            driver.save_screenshot(str(args.screenshot))
            print(f"screenshot: {args.screenshot}")
    finally:
        driver.quit()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
