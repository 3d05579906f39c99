"""Speed of ``causalcam serve`` as a person sees it, in headless Chromium (outside traffic off).

The bundled model, a 224 x 224 PNG scan. Measured inside the page with ``performance.now()``:

- explain: from handing the file to the page until the scan, the five maps and the masks
  are decoded and shown (the page's upload path: POST, explanation, PNG maps, first masks);
- slider: from a threshold change until both masks, their H and predictions are shown.

Medians and 90th percentiles after warm-up. Targets: explain < 1 s, slider < 200 ms.
Run: ``.venv/bin/python benchmarks/serve_speed.py [--screenshot docs/serve-page.png]``.
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


def random_224_model(folder: Path) -> str:
    """A randomly initialised ResNet-18 checkpoint with 224 px inputs, in ``folder``."""
    from causalcam import models
    from causalcam.data import CLASSES
    from causalcam.preprocess import Preprocessing

    model = models.build("resnet18", num_classes=len(CLASSES))
    meta = models.CheckpointMeta("resnet18", list(CLASSES), Preprocessing(size=224))
    models.save_checkpoint(folder / "resnet18-224.pt", model, meta)
    return "resnet18-224.pt"


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
        "--model-224",
        action="store_true",
        help="use a random ResNet-18 with 224 px inputs (the bundled one reads 112 px)",
    )
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="causalcam-bench-"))
    chosen = random_224_model(folder) if args.model_224 else "default"
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
