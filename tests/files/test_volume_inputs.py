"""Whole volumes for a 3-D network: orientation, spacing, bad metadata, maps back on the
source grid with the source affine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from causalcam.errors import DataError
from causalcam.files import Reading, gather
from causalcam.files.volume_explain import on_grid
from causalcam.files.volume_inputs import read_nifti_whole, whole_volumes
from causalcam.medical import WINDOW_PRESETS
from causalcam.medical.nifti import save_nifti
from causalcam.medical.window import apply_window
from causalcam.models import VolumeGrid
from medical_files import write_nifti, write_series

nib = pytest.importorskip("nibabel", reason="the medical extra is not installed")
pytest.importorskip("pydicom", reason="the medical extra is not installed")

LUNG = WINDOW_PRESETS["lung"]
#: voxel axis 0 runs to the patient's right, 1 posterior-wards, 2 superior-wards (RPS)
AFFINE = np.array(
    [[0.8, 0.0, 0.0, -12.0], [0.0, -0.7, 0.0, 20.0], [0.0, 0.0, 2.5, -60.0], [0, 0, 0, 1.0]]
)


def _marked() -> np.ndarray:
    data = np.full((30, 36, 8), -1000.0, dtype=np.float32)
    data[3:6, 4:9, 5:7] = 40.0  # a block towards the patient's right, anterior, superior
    return data


def _world(affine: np.ndarray, index: np.ndarray) -> np.ndarray:
    return affine[:3, :3] @ index + affine[:3, 3]


def test_a_nifti_is_read_whole_in_axial_order_with_its_spacing(tmp_path: Path) -> None:
    path = write_nifti(tmp_path / "scan.nii.gz", _marked(), AFFINE)
    volume = read_nifti_whole(path, LUNG)
    # (D, H, W) = (superior-wards, posterior-wards, left-wards)
    assert volume.grey.shape == (8, 36, 30) and volume.grey.dtype == np.uint8
    assert volume.spacing == pytest.approx((2.5, 0.7, 0.8))
    depth, rows, cols = np.nonzero(volume.grey > 200)
    assert set(depth) == {5, 6} and set(rows) == set(range(4, 9))
    assert set(cols) == {30 - 6, 30 - 5, 30 - 4}  # axis 0 runs right-wards: flipped
    np.testing.assert_array_equal(volume.to_source(volume.grey), apply_window(_marked(), LUNG))
    assert volume.name == "scan" and volume.facts["spacing"] == pytest.approx([2.5, 0.7, 0.8])


def test_a_map_on_the_grid_lands_on_the_source_voxels_it_came_from(tmp_path: Path) -> None:
    path = write_nifti(tmp_path / "scan.nii.gz", _marked(), AFFINE)
    volume = read_nifti_whole(path, LUNG)
    placed = on_grid(volume, VolumeGrid((16, 16, 16), (1.0, 1.0, 1.0)))
    assert placed.inputs.shape == (1, 1, 16, 16, 16)
    source = placed.placement.to_source(placed.grey[None])[0].numpy()  # the volume, there and back
    back = volume.to_source(source)
    out = save_nifti(tmp_path / "map.nii.gz", back, volume.affine, volume.header)
    saved = nib.load(out)
    np.testing.assert_allclose(saved.affine, AFFINE, atol=1e-6)
    values = np.asarray(saved.get_fdata())
    peak = np.array(np.unravel_index(int(np.argmax(values)), values.shape), dtype=float)
    centre = np.argwhere(_marked() > 0).mean(axis=0)
    assert np.linalg.norm(_world(AFFINE, peak) - _world(AFFINE, centre)) < 3.0  # mm


def test_mismatched_spacing_metadata_names_the_file(tmp_path: Path) -> None:
    image = nib.Nifti1Image(_marked(), AFFINE)
    image.header.set_zooms((1.0, 1.0, 1.0))  # the affine says 0.8 x 0.7 x 2.5 mm
    path = tmp_path / "bad.nii.gz"
    nib.save(image, path)
    with pytest.raises(DataError, match=r"bad\.nii\.gz.*mismatched spacing metadata"):
        read_nifti_whole(path, LUNG)


def test_a_dicom_series_is_read_whole_and_bad_ones_are_listed(tmp_path: Path) -> None:
    write_series(tmp_path / "good", count=4)
    write_series(tmp_path / "mixed", count=3)
    from medical_files import write_dicom_slice

    stored = np.full((40, 48), 24, dtype=np.int16)
    write_dicom_slice(tmp_path / "mixed" / "IM9999", stored, -92.5, instance=4)
    # the extra slice fits the series but claims another pixel spacing
    import pydicom

    odd = pydicom.dcmread(tmp_path / "mixed" / "IM9999")
    odd.PixelSpacing = [0.9, 0.9]
    odd.save_as(tmp_path / "mixed" / "IM9999")
    (tmp_path / "image.png").write_bytes(b"")  # a 2-D input: skipped by a 3-D network
    found = gather([tmp_path / "good", tmp_path / "mixed"], Reading())
    volumes = list(whole_volumes(found, None))
    assert len(volumes) == 1
    volume = volumes[0]
    # 4 axial slices 2.5 mm apart of 40 x 48 pixels (0.75 x 0.5 mm)
    assert volume.grey.shape == (4, 40, 48) and volume.spacing == pytest.approx((2.5, 0.75, 0.5))
    squares = [(volume.grey[k] > 100).sum() for k in range(4)]
    assert squares == sorted(squares)  # bright squares grow with height: inferior first
    assert [s.file for s in found.skipped] == [str(tmp_path / "mixed")]
    assert "mismatched spacing metadata: IM9999" in found.skipped[0].reason
    assert volume.to_source(volume.grey.astype(np.float32)).shape == (48, 40, 4)


def test_a_2d_image_is_skipped_by_a_3d_network(tmp_path: Path) -> None:
    from PIL import Image

    Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(tmp_path / "slice.png")
    found = gather([tmp_path / "slice.png"], Reading())
    assert list(whole_volumes(found, None)) == []
    assert "2-D image; a 3-D network explains volumes" in found.skipped[0].reason
