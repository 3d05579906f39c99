"""DICOM reading: Hounsfield units, slice order, series geometry, bad files, privacy."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from causalcam.errors import DataError
from causalcam.files import ExplainSettings, ModelSource, Reading, explain_files, gather
from causalcam.files.inputs import file_kind
from causalcam.medical.dicom import group_series, read_header, read_hounsfield, series_affine
from causalcam.medical.privacy import ALLOWED_KEYWORDS, IDENTIFYING_KEYWORDS
from medical_files import IDENTIFYING, ORIENTATION, SPACING, write_dicom_slice, write_series

QUIET = ExplainSettings(progress=False)


def test_hounsfield_units_from_rescale(tmp_path: Path) -> None:
    stored = np.arange(-4, 8, dtype=np.int16).reshape(3, 4) * 100
    path = write_dicom_slice(tmp_path / "a.dcm", stored, 0.0, slope=2.0, intercept=-1024.0)
    np.testing.assert_allclose(read_hounsfield(path), stored * 2.0 - 1024.0)


def test_dicom_without_extension_is_recognised_by_content(tmp_path: Path) -> None:
    path = write_dicom_slice(tmp_path / "IM0001", np.zeros((4, 4), np.int16), 0.0)
    (tmp_path / "README").write_text("a study")
    assert file_kind(path) == "dicom" and file_kind(tmp_path / "README") == "ignored"


def test_series_is_ordered_by_position_and_has_its_affine(tmp_path: Path) -> None:
    written = write_series(tmp_path / "series", count=5)
    [series] = group_series([read_header(path) for path, _, _ in written])
    zs = [s.position[2] for s in series.slices]  # type: ignore[index]
    assert zs == sorted(z for _, z, _ in written)
    assert series.affine is not None
    voxel_to_lps = np.diag([-1.0, -1.0, 1.0, 1.0]) @ series.affine
    np.testing.assert_allclose(voxel_to_lps @ [0, 0, 0, 1], [-40.0, -30.0, -100.0, 1.0])
    # voxel (column j, row i, slice k) -> P0 + j * dc * r + i * dr * c + k * 2.5 * n
    expected = np.array([-40.0, -30.0, -100.0]) + 3 * SPACING[1] * np.array(ORIENTATION[:3])
    expected += 2 * SPACING[0] * np.array(ORIENTATION[3:]) + 4 * 2.5 * np.array([0, 0, 1.0])
    np.testing.assert_allclose((voxel_to_lps @ [3, 2, 4, 1])[:3], expected)


def test_uneven_or_repeated_positions_give_no_volume(tmp_path: Path) -> None:
    paths = [
        write_dicom_slice(tmp_path / f"{i}.dcm", np.zeros((4, 4), np.int16), z)
        for i, z in enumerate([0.0, 2.0, 5.0])
    ]
    affine, reason = series_affine([read_header(p) for p in paths])
    assert affine is None and "evenly" in reason


def test_series_maps_are_a_nifti_in_the_series_geometry(
    small_source: ModelSource, tmp_path: Path
) -> None:
    import nibabel as nib

    written = write_series(tmp_path / "series", count=4)
    run = explain_files([tmp_path / "series"], small_source, tmp_path / "out", QUIET)
    assert not run.skipped
    records = run.records
    positions = [r["dicom"]["slice_position"][2] for r in records]
    assert positions == [-100.0, -97.5, -95.0, -92.5]
    uids = {read_header(p).facts["SOPInstanceUID"]: z for p, z, _ in written}
    assert [uids[r["dicom"]["sop_instance_uid"]] for r in records] == positions
    summary = json.loads(run.summary.read_text())
    [volume] = summary["volumes"]
    image = nib.load(volume["maps"]["causal"])
    assert image.shape == (48, 40, 4)  # (columns, rows, slices)
    [series] = group_series([read_header(p) for p, _, _ in written])
    np.testing.assert_allclose(image.affine, series.affine, atol=1e-5)
    data = np.asarray(image.dataobj)
    assert data.min() >= 0 and data.max() <= 1 and data.max() > 0


def test_private_fields_never_leave(small_source: ModelSource, tmp_path: Path) -> None:
    write_series(tmp_path / "series", count=2, identifying=True)
    out = tmp_path / "out"
    explain_files([tmp_path / "series"], small_source, out, QUIET)
    texts = [p.read_text(errors="ignore") for p in out.rglob("*.json")]
    names = [str(p.relative_to(out)) for p in out.rglob("*")]
    for value in IDENTIFYING.values():
        for part in (p for p in value.split("^") if len(p) > 2):
            assert all(part not in text for text in texts), value
            assert all(part not in name for name in names), value


def test_bad_inputs_are_named_and_the_rest_is_explained(
    small_source: ModelSource, tmp_path: Path
) -> None:
    import nibabel as nib

    folder = tmp_path / "mixed"
    write_series(folder / "good", count=3)
    write_dicom_slice(
        folder / "good" / "other-series.dcm", np.zeros((40, 48), np.int16), 7.0, series="9.9"
    )
    (folder / "notdicom.dcm").write_text("plain text")
    write_dicom_slice(folder / "nopixels.dcm", np.zeros((4, 4), np.int16), 0.0, pixels=False)
    write_dicom_slice(
        folder / "jpegls.dcm", np.zeros((8, 8), np.int16), 0.0, syntax="1.2.840.10008.1.2.4.80"
    )
    nib.save(nib.Nifti1Image(np.zeros((8, 8), np.float32), np.eye(4)), folder / "flat.nii")
    nans = np.zeros((8, 8, 3), np.float32)
    nans[1, 2, 0] = np.nan
    nib.save(nib.Nifti1Image(nans, np.eye(4)), folder / "nans.nii.gz")
    (folder / "DICOMDIR").write_bytes(b"index")
    run = explain_files([folder], small_source, tmp_path / "out", QUIET)
    assert len(run.records) == 3
    reasons = {Path(s["file"]).name: s["reason"] for s in run.skipped}
    assert set(reasons) == {
        "other-series.dcm", "notdicom.dcm", "nopixels.dcm", "jpegls.dcm", "flat.nii",
        "nans.nii.gz",
    }  # fmt: skip
    assert "another DICOM series" in reasons["other-series.dcm"]
    assert "not a readable DICOM file" in reasons["notdicom.dcm"]
    assert "without pixel data" in reasons["nopixels.dcm"]
    assert "JPEG-LS" in reasons["jpegls.dcm"] and "decoder" in reasons["jpegls.dcm"]
    assert "2-D NIfTI" in reasons["flat.nii"]
    assert "1 NaN" in reasons["nans.nii.gz"]
    summary = json.loads(run.summary.read_text())
    assert summary["ignored"]["count"] == 1


def test_single_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.dcm"
    path.write_bytes(b"\0" * 200)
    with pytest.raises(DataError, match=r"bad\.dcm"):
        read_header(path)
    found = gather([path], Reading())
    assert found.skipped and found.skipped[0].file == str(path)


def test_cli_logs_and_names_stay_private(small_source: ModelSource, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from causalcam import models
    from causalcam.cli import app

    checkpoint = models.save_checkpoint(
        tmp_path / "m.pt",
        small_source.model,
        models.CheckpointMeta("resnet18", small_source.classes, small_source.preprocessing),
    )
    write_series(tmp_path / "series", count=2, identifying=True)
    out = tmp_path / "out"
    args = ["explain", str(tmp_path / "series"), "-m", str(checkpoint), "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--window", "mediastinum", "--slices", "1"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "explanations.json").read_text())
    assert [r["dicom"]["slice"] for r in summary["images"]] == [1]
    assert summary["images"][0]["dicom"]["window"]["name"] == "mediastinum"
    logs = result.stdout + result.stderr
    for value in IDENTIFYING.values():
        assert all(part not in logs for part in value.split("^") if len(part) > 2), value


def test_load_images_reads_a_series_in_slice_order(tmp_path: Path) -> None:
    from causalcam.files import load_images

    write_series(tmp_path / "series", count=3)
    grey = load_images([tmp_path / "series"], 64)
    assert grey.shape == (3, 64, 64) and grey.dtype.is_floating_point is False
    bright = (grey > 128).float().mean(dim=(1, 2))
    assert bright[0] < bright[1] < bright[2]  # the soft-tissue square grows with position


def test_no_identifying_field_is_allowed_and_the_test_files_carry_only_identifying_ones() -> None:
    assert not set(IDENTIFYING_KEYWORDS) & set(ALLOWED_KEYWORDS)
    assert set(IDENTIFYING) <= set(IDENTIFYING_KEYWORDS)
