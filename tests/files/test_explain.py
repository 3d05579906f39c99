"""causalcam.files: the functions behind `causalcam explain` / `demo`."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from causalcam import models
from causalcam.data import CLASSES, sample_scans
from causalcam.errors import CheckpointError, InputError
from causalcam.files import (
    DEFAULT_METHODS,
    ExplainSettings,
    ModelSource,
    check_methods,
    collect_images,
    explain_files,
    load_model_source,
    map_statistics,
    model_sized,
    parse_contrast_class,
    run_demo,
)
from causalcam.files.inputs import Reading, read_image_scan
from causalcam.models.checkpoint import DEFAULT_MODEL
from causalcam.network import resolve_device
from causalcam.preprocess import Preprocessing


@pytest.fixture(scope="module")
def small_source() -> ModelSource:
    torch.manual_seed(0)
    model = models.build("resnet18", num_classes=2).eval()
    return ModelSource(model, "resnet18", list(CLASSES), Preprocessing(size=64), "random test")


def test_run_demo_explains_every_sample_scan(small_source: ModelSource, tmp_path: Path) -> None:
    run = run_demo(tmp_path / "demo", source=small_source, progress=False)
    scans = sample_scans()
    assert [r["true_class"] for r in run.records] == [scan.class_name for scan in scans]
    summary = json.loads(run.summary.read_text())
    assert summary["methods"] == list(DEFAULT_METHODS)
    for scan in scans:
        folder = tmp_path / "demo" / scan.path.stem
        assert (folder / "panel.png").is_file()
        assert {p.name for p in folder.glob("overlay_*.png")} == {
            f"overlay_{m}.png" for m in DEFAULT_METHODS
        }
        assert not list(folder.glob("*.npy"))


def test_collect_images_expands_folders_sorted_and_names_clashes(tmp_path: Path) -> None:
    for sub in ("b", "a"):
        (tmp_path / sub).mkdir()
        shutil.copy(sample_scans()[0].path, tmp_path / sub / "scan.png")
    (tmp_path / "a" / "notes.txt").write_text("not an image")
    found = collect_images([tmp_path])
    assert found == [tmp_path / "a" / "scan.png", tmp_path / "b" / "scan.png"]
    with pytest.raises(InputError, match="no such file"):
        collect_images([tmp_path / "missing"])
    with pytest.raises(InputError, match="no input images"):
        collect_images([])


def test_same_stem_images_get_distinct_output_folders(
    small_source: ModelSource, tmp_path: Path
) -> None:
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        shutil.copy(sample_scans()[0].path, tmp_path / sub / "scan.png")
    run = explain_files(
        [tmp_path / "a", tmp_path / "b"],
        small_source,
        tmp_path / "out",
        ExplainSettings(methods=["gradcam"], progress=False),
    )
    panels = [Path(r["outputs"]["panel"]).parent.name for r in run.records]
    assert panels == ["scan", "scan-2"]


def test_contrast_class_by_name_or_index() -> None:
    assert parse_contrast_class(None, CLASSES) is None
    assert parse_contrast_class("CT_NonCOVID", CLASSES) == 1
    assert parse_contrast_class("0", CLASSES) == 0
    for bad in ("2", "-1", "covid"):
        with pytest.raises(InputError, match="0=CT_COVID, 1=CT_NonCOVID"):
            parse_contrast_class(bad, CLASSES)


def test_methods_are_checked_and_deduplicated() -> None:
    assert check_methods(["causal", "gradcam", "causal"]) == ("causal", "gradcam")
    with pytest.raises(InputError, match="unknown method"):
        check_methods(["gradcam", "lime"])


def test_map_statistics() -> None:
    values = np.zeros((4, 4), np.float32)
    values[1, 2] = 1.0
    values[0, 0] = 0.6
    stats = map_statistics(values)
    assert stats["peak"] == [1, 2]
    assert stats["area_above_0.5"] == pytest.approx(2 / 16)
    assert stats["mean"] == pytest.approx(1.6 / 16)


def test_model_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cpu = torch.device("cpu")
    random = load_model_source("resnet18", cpu)
    assert random.warning and "RANDOM" in random.warning
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_model_source(str(tmp_path / "x.pt"), cpu)
    with pytest.raises(InputError, match="unknown architecture"):
        load_model_source("resnet9000", cpu)
    bundled = load_model_source("resnet18-112", cpu)
    assert (
        bundled.preprocessing.size == 112
        and bundled.description == "bundled ResNet-18 (resnet18-112)"
    )
    monkeypatch.setattr(models.checkpoint, "MODEL_ASSETS", tmp_path / "gone")
    with pytest.raises(
        CheckpointError, match=rf"embedded model .*gone.*{re.escape(DEFAULT_MODEL.name)} is missing"
    ):
        load_model_source("default", cpu)


def test_device_names() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda")
    with pytest.raises(InputError, match="not a torch device"):
        resolve_device("toaster")


def test_model_sized_is_grey_for_grey_models_and_colour_for_rgb_ones(tmp_path: Path) -> None:
    from PIL import Image

    picture = np.zeros((40, 60, 3), np.uint8)
    picture[..., 0], picture[..., 2] = 200, 40
    Image.fromarray(picture).save(tmp_path / "photo.png")
    scan = read_image_scan(tmp_path / "photo.png", Reading())
    grey = model_sized([scan], 16)
    luminance = np.asarray(Image.fromarray(picture).convert("L"))[0, 0]
    assert grey.shape == (1, 16, 16) and int(grey[0, 8, 8]) == int(luminance)
    colour = model_sized([scan], 16, rgb=True)
    assert colour.shape == (1, 3, 16, 16) and colour[0, :, 8, 8].tolist() == [200, 0, 40]
