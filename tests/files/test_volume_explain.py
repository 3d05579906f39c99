"""``explain_files`` with a 3-D checkpoint: volumes whole, maps as NIfTI on the source grid."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from causalcam import models
from causalcam.errors import InputError
from causalcam.files import ExplainSettings, Reading, explain_files, load_model_source
from causalcam.method_names import CAUSAL, GRADCAM
from causalcam.preprocess import Preprocessing
from medical_files import write_nifti, write_series

nib = pytest.importorskip("nibabel", reason="the medical extra is not installed")
pytest.importorskip("pydicom", reason="the medical extra is not installed")

AFFINE = np.array(
    [[-0.8, 0.0, 0.0, 12.0], [0.0, 0.7, 0.0, -20.0], [0.0, 0.0, 2.5, -60.0], [0, 0, 0, 1.0]]
)


@pytest.fixture(scope="module")
def net3d(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    model = models.build("small3d", num_classes=2)
    grid = models.VolumeGrid((16, 16, 16), (2.0, 2.0, 2.0))
    meta = models.CheckpointMeta(
        "small3d", ["clear", "lesion"], Preprocessing(size=16), volume=grid
    )
    return models.save_checkpoint(tmp_path_factory.mktemp("m") / "net3d.pt", model, meta)


def test_a_nifti_and_a_dicom_series_give_maps_on_their_own_grids(
    net3d: Path, tmp_path: Path
) -> None:
    data = np.full((30, 36, 8), -1000.0, dtype=np.float32)
    data[10:16, 12:20, 3:6] = 40.0
    scan = write_nifti(tmp_path / "scan.nii.gz", data, AFFINE)
    write_series(tmp_path / "series", count=4)
    source = load_model_source(str(net3d), torch.device("cpu"))
    assert source.volume is not None
    out = tmp_path / "out"
    methods = (GRADCAM, CAUSAL)
    settings = ExplainSettings(methods=methods, progress=False)
    run = explain_files([scan, tmp_path / "series"], source, out, settings)
    summary = json.loads(run.summary.read_text())
    assert summary["model"]["input_grid"]["shape"] == [16, 16, 16]
    assert [r["file"] for r in summary["images"]] == [str(scan), str(tmp_path / "series")]
    first = summary["images"][0]
    assert first["volume"]["grid"]["shape"] == [16, 16, 16]
    assert set(first["probabilities"]) == {"clear", "lesion"}
    for method in methods:
        saved = nib.load(out / "scan" / f"{method}.nii.gz")
        assert saved.shape == data.shape
        np.testing.assert_allclose(saved.affine, AFFINE, atol=1e-6)
        values = np.asarray(saved.get_fdata())
        assert values.min() >= 0.0 and values.max() <= 1.0 + 1e-6
    series = nib.load(out / "dicom-series-1" / f"{GRADCAM}.nii.gz")
    assert series.shape == (48, 40, 4)  # DICOM's (column, row, slice) order, as for 2-D
    assert (out / "scan" / "planes.png").stat().st_size > 0
    assert [v["name"] for v in summary["volumes"]] == ["scan", "dicom-series-1"]


def test_a_3d_network_refuses_slices_and_skips_2d_images(net3d: Path, tmp_path: Path) -> None:
    from PIL import Image

    source = load_model_source(str(net3d), torch.device("cpu"))
    scan = write_nifti(tmp_path / "scan.nii.gz", np.zeros((8, 8, 8), np.float32), np.eye(4))
    with pytest.raises(InputError, match="--slices"):
        sliced = ExplainSettings(progress=False, reading=Reading(slices="2"))
        explain_files([scan], source, tmp_path / "o", sliced)
    Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(tmp_path / "slice.png")
    quiet = ExplainSettings(progress=False)
    run = explain_files([tmp_path / "slice.png", scan], source, tmp_path / "o2", quiet)
    assert [s["file"] for s in run.skipped] == [str(tmp_path / "slice.png")]
    assert len(run.records) == 1
