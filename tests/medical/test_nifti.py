"""NIfTI volumes: viewing orientation, slice choice, maps written back with the source affine."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from causalcam.data.cache import eval_resize
from causalcam.errors import InputError
from causalcam.files import ExplainSettings, ModelSource, Reading, explain_files
from causalcam.medical import WINDOW_PRESETS
from causalcam.medical.nifti import parse_slices, read_volume
from causalcam.medical.volumes import map_to_source
from medical_files import write_nifti

AFFINE = np.array(
    [[-0.8, 0.0, 0.0, 90.0], [0.0, 0.7, 0.0, -120.0], [0.0, 0.0, 2.5, -60.0], [0, 0, 0, 1.0]]
)  # LAS+: the first voxel axis runs to the patient's left


def _volume() -> np.ndarray:
    data = np.full((30, 36, 5), -1000.0, dtype=np.float32)
    data[2:6, 20:30, :] = 40.0  # a block towards the patient's left and anterior
    return data


def test_axial_slices_are_in_viewing_order(tmp_path: Path) -> None:
    path = write_nifti(tmp_path / "v.nii.gz", _volume(), AFFINE)
    volume = read_volume(path, "axial")
    assert volume.data.shape == (36, 30, 5)  # rows posterior-wards, columns left-wards
    rows, cols = np.nonzero(volume.data[:, :, 0] > 0)
    # voxel axis 1 runs anterior-wards, so the block (j = 20..29) sits at the top rows;
    # voxel axis 0 already runs left-wards, so columns keep i = 2..5
    assert set(rows) == set(range(36 - 30, 36 - 20)) and set(cols) == set(range(2, 6))
    np.testing.assert_array_equal(volume.to_source(volume.data), _volume())


def test_slices_option() -> None:
    where = Path("v.nii")
    assert list(parse_slices(None, 5, where)) == [0, 1, 2, 3, 4]
    assert list(parse_slices("1:3", 5, where)) == [1, 2]
    assert list(parse_slices("-1", 5, where)) == [4]
    assert list(parse_slices("::2", 5, where)) == [0, 2, 4]
    for bad in ("7", "a:b", "3:3", "::0"):
        with pytest.raises(InputError, match="--slices"):
            parse_slices(bad, 5, where)


def test_maps_keep_the_source_affine(small_source: ModelSource, tmp_path: Path) -> None:
    import nibabel as nib

    path = write_nifti(tmp_path / "chest.nii.gz", _volume(), AFFINE)
    reading = Reading(WINDOW_PRESETS["lung"], "axial", "1:3")
    out = tmp_path / "out"
    run = explain_files(
        [path], small_source, out, ExplainSettings(progress=False, reading=reading, save_npy=True)
    )
    assert [r["nifti"]["slice"] for r in run.records] == [1, 2]
    summary = json.loads(run.summary.read_text())
    [volume] = summary["volumes"]
    assert volume["explained"] == 2 and volume["slices"] == 5
    for method in summary["methods"]:
        image = nib.load(volume["maps"][method])
        assert image.shape == (30, 36, 5)
        np.testing.assert_allclose(image.affine, AFFINE, atol=1e-5)
        data = np.asarray(image.dataobj)
        assert not data[:, :, [0, 3, 4]].any()  # slices not asked for stay empty
        view = np.zeros((36, 30, 5), dtype=np.float32)
        for k in (1, 2):
            crop_map = np.load(out / "chest" / f"axial-{k:04d}" / f"{method}.npy")
            view[:, :, k] = map_to_source(crop_map, (36, 30), 64, eval_resize(64))
        np.testing.assert_allclose(data, read_volume(path).to_source(view), atol=1e-6)


def test_map_to_source_undoes_resize_and_crop() -> None:
    size = 64
    ones = np.ones((size, size), dtype=np.float32)
    back = map_to_source(ones, (60, 120), size, eval_resize(size))
    assert back.shape == (60, 120)
    # the crop covers the middle 64/73 of the shorter side, centred
    assert back[30, 60] == pytest.approx(1.0) and back[30, 2] == pytest.approx(0.0)
    assert back[2, 60] < 0.5 and back[57, 60] < 0.5
