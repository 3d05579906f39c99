"""The page's service with the bundled model, and a live server on a free local port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the app extra is not installed")
pytest.importorskip("uvicorn", reason="the app extra is not installed")

from causalcam.app.service import ExplainService


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a checkpoint of another architecture and a file that is no checkpoint."""
    import torch

    from causalcam import models
    from causalcam.data import CLASSES
    from causalcam.preprocess import Preprocessing

    folder = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    small = models.build("resnet18", num_classes=2)
    meta = models.CheckpointMeta("resnet34", list(CLASSES))  # claims another architecture
    models.save_checkpoint(folder / "wrong-arch.pt", small, meta)
    (folder / "notes.pt").write_bytes(b"not a checkpoint")
    # a segmentation network whose every pixel is "covid" (class 1), "nocovid" nowhere
    seg = models.build("lraspp_mobilenet_v3_large", num_classes=3)
    with torch.no_grad():
        seg.classifier.high_classifier.bias.copy_(torch.tensor([0.0, 1e3, 0.0]))
    classes = ["background", "covid", "nocovid"]
    models.save_checkpoint(folder / "seg.pt", seg, models.CheckpointMeta(
        "lraspp_mobilenet_v3_large", classes, Preprocessing(size=64)))  # fmt: skip
    return folder


@pytest.fixture(scope="session")
def service(models_dir: Path) -> ExplainService:
    return ExplainService(models_dir)


@pytest.fixture(scope="session")
def live_server(service: ExplainService) -> Iterator[str]:
    """``http://127.0.0.1:PORT`` of the page, served from a thread for the session."""
    import uvicorn

    from causalcam.app.server import create_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(create_app(service), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            pytest.fail("the test server did not start within 30 s")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def lesion_volume(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 32^3 NIfTI volume with a planted lesion, from the generator ``small3d-lesion`` knows."""
    pytest.importorskip("nibabel", reason="the medical extra is not installed")
    from causalcam.files.demo import generated_volume

    return generated_volume(tmp_path_factory.mktemp("volume"))
