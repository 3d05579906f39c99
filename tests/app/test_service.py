"""The page's operations without a browser: explain, slices, masks, downloads, bad input."""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from causalcam.app.service import ExplainService
from causalcam.data import sample_scans
from causalcam.errors import CausalCamError, InputError
from causalcam.evaluate.huffman import huffman_bits


def _sample_bytes() -> bytes:
    return sample_scans()[0].path.read_bytes()


def test_a_scan_is_explained_and_masked(service: ExplainService) -> None:
    upload = service.upload("covid_1.png", _sample_bytes())
    described = service.describe(upload, 0)
    assert described["slices"] == 1
    assert set(described["overlays"]) == {
        "gradcam",
        "gradcam++",
        "causal",
        "contrast_pq",
        "contrast_p",
    }
    assert sum(described["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert described["contrast_class"] != described["predicted_class"]
    result = service.result(upload, 0)
    low = service.masks(upload, 0, "causal", 0.1)
    high = service.masks(upload, 0, "causal", 0.9)
    assert low["deletion"]["H"] > high["deletion"]["H"]  # a higher threshold deletes more
    assert low["insertion"]["H"] < high["insertion"]["H"]
    kept = result.maps["causal"] > 0.9
    expected = np.where(kept, result.grey, 0).astype(np.uint8)
    np.testing.assert_array_equal(high["deletion"]["image"], expected)
    bits = huffman_bits(np.stack([expected, result.grey]))
    assert high["deletion"]["H"] == pytest.approx(bits[0] / bits[1])


def test_downloads(service: ExplainService) -> None:
    upload = service.upload("covid_1.png", _sample_bytes())
    assert service.panel_png(upload, 0)[:4] == b"\x89PNG"
    with zipfile.ZipFile(io.BytesIO(service.maps_zip(upload, 0))) as archive:
        names = set(archive.namelist())
        assert {"causal.npy", "overlay_causal.png", "scan.png", "explanation.json"} <= names
        summary = json.loads(archive.read("explanation.json"))
        assert "Research use only" in summary["notice"]
        values = np.load(io.BytesIO(archive.read("causal.npy")))
    np.testing.assert_array_equal(values, service.result(upload, 0).maps["causal"])


def test_nifti_upload_has_slices(service: ExplainService, tmp_path: Path) -> None:
    nib = pytest.importorskip("nibabel")
    data = np.full((40, 40, 5), -1000.0, dtype=np.float32)
    data[10:30, 10:30, :] = np.arange(5) * 100.0  # brighter slice by slice
    nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / "v.nii.gz")
    upload = service.upload("v.nii.gz", (tmp_path / "v.nii.gz").read_bytes())
    assert len(upload.scans) == 5 and list(upload.results) == [2]
    assert service.describe(upload, 4)["slice"] == 4
    with pytest.raises(InputError, match="outside"):
        service.result(upload, 5)


def test_uploads_are_not_kept_on_disk(service: ExplainService) -> None:
    before = set(Path(tempfile.gettempdir()).glob("causalcam-upload-*"))
    service.upload("covid_1.png", _sample_bytes())
    with pytest.raises(CausalCamError):
        service.upload("broken.png", b"\x89PNG broken")
    assert set(Path(tempfile.gettempdir()).glob("causalcam-upload-*")) == before


def test_bad_inputs_are_clear(service: ExplainService) -> None:
    with pytest.raises(InputError, match=r"notes\.txt: cannot decode image"):
        service.upload("notes.txt", b"just some text")
    with pytest.raises(InputError, match="empty"):
        service.upload("a.png", b"")
    buffer = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(buffer, format="PNG")  # 100 megapixels, tiny file
    with pytest.raises(InputError, match="100 megapixels"):
        service.upload("huge.png", buffer.getvalue())
    with pytest.raises(CausalCamError, match="does not fit a resnet34"):
        service.upload("covid_1.png", _sample_bytes(), model="wrong-arch.pt")
    with pytest.raises(CausalCamError, match="is not a causalcam checkpoint"):
        service.upload("covid_1.png", _sample_bytes(), model="notes.pt")
    with pytest.raises(InputError, match="not the bundled one"):
        service.upload("covid_1.png", _sample_bytes(), model="../../etc/passwd")
    assert service.model_names() == [
        "default", "small3d-lesion", "notes.pt", "seg.pt", "wrong-arch.pt"
    ]  # fmt: skip


def test_dicom_upload_shows_no_private_field(service: ExplainService, tmp_path: Path) -> None:
    pytest.importorskip("pydicom")
    from medical_files import IDENTIFYING, write_dicom_slice

    stored = np.full((64, 64), 24, dtype=np.int16)
    stored[20:40, 20:40] = 1064
    path = write_dicom_slice(tmp_path / "slice.dcm", stored, 0.0, identifying=True)
    upload = service.upload("slice.dcm", path.read_bytes())
    described = service.describe(upload, 0)
    text = json.dumps({k: v for k, v in described.items() if k not in ("scan", "overlays")})
    assert described["facts"]["dicom"]["sop_instance_uid"]
    with zipfile.ZipFile(io.BytesIO(service.maps_zip(upload, 0))) as archive:
        text += archive.read("explanation.json").decode()
    for value in IDENTIFYING.values():
        assert all(part not in text for part in value.split("^") if len(part) > 2), value


def test_a_volume_is_explained_whole_by_a_3d_network(
    service: ExplainService, lesion_volume: Path
) -> None:
    upload = service.upload(lesion_volume.name, lesion_volume.read_bytes(), model="small3d-lesion")
    assert upload.scans == [] and upload.volume is not None
    described = service.describe(upload, 0)
    assert described["kind"] == "volume" and described["predicted_class"] == "lesion"
    assert sum(described["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert list(described["planes"]) == ["axial", "coronal", "sagittal"]
    grey = upload.volume.grey
    assert grey.shape == (32, 32, 32)
    for shown in described["planes"].values():
        assert (shown["index"], shown["slices"]) == (16, 32)
        assert shown["scan"].shape == (32, 32) and shown["scan"].dtype == np.uint8
        assert set(shown["overlays"]) == set(upload.volume.maps)
        assert all(o.shape == (32, 32, 3) for o in shown["overlays"].values())
    # the planes cut the one explained volume: axial along D, coronal along H, sagittal
    # along W, coronal and sagittal with superior (the last D) at the top
    np.testing.assert_array_equal(service.plane(upload, "axial", 3)["scan"], grey[3])
    np.testing.assert_array_equal(service.plane(upload, "coronal", 5)["scan"], grey[::-1, 5])
    np.testing.assert_array_equal(service.plane(upload, "sagittal", 7)["scan"], grey[::-1, :, 7])
    with pytest.raises(InputError, match=r"outside 0\.\.31"):
        service.plane(upload, "coronal", 32)
    with pytest.raises(InputError, match="unknown plane"):
        service.plane(upload, "oblique", 0)
    with pytest.raises(InputError, match="has planes, not slices"):
        service.masks(upload, 0, "causal", 0.5)


def test_a_2d_image_for_a_3d_network_is_a_clear_error(service: ExplainService) -> None:
    with pytest.raises(InputError, match=r"covid_1\.png is a 2-D image; a 3-D network"):
        service.upload("covid_1.png", _sample_bytes(), model="small3d-lesion")


def _zipped(folder: Path, nested: str = "") -> bytes:
    """The files of ``folder`` zipped, under ``nested`` (or a path that tries to escape)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, f"{nested}{path.name}")
    return buffer.getvalue()


def test_a_zipped_dicom_series_is_one_upload(service: ExplainService, tmp_path: Path) -> None:
    """A 2-D network gets the series' slices in z order (slice k's square grows with k); a
    3-D network the series whole; member paths never leave the upload's folder."""
    pytest.importorskip("pydicom")
    from medical_files import write_series

    write_series(tmp_path / "series", count=4)
    payload = _zipped(tmp_path / "series", nested="../../escape/")
    upload = service.upload("series.zip", payload)
    assert len(upload.scans) == 4
    bright = [int((scan.pixels > 128).sum()) for scan in upload.scans]
    assert bright == sorted(bright) and bright[0] < bright[-1]
    assert not (tmp_path / "escape").exists()
    volume = service.upload("series.zip", payload, model="small3d-lesion")
    assert volume.volume is not None and volume.scans == []
    assert service.describe(volume, 0)["kind"] == "volume"
    with pytest.raises(InputError, match=r"broken\.zip is not a readable zip"):
        service.upload("broken.zip", b"PK not really")
    empty = io.BytesIO()
    zipfile.ZipFile(empty, "w").close()
    with pytest.raises(InputError, match=r"empty\.zip holds no file"):
        service.upload("empty.zip", empty.getvalue())


def test_a_segmentation_network_explains_a_region(service: ExplainService) -> None:
    """Its largest region by default (every pixel is "covid"), the probabilities averaged over
    it, the masks' predictions over it; a class it predicts nowhere is a clear error."""
    upload = service.upload("covid_1.png", _sample_bytes(), model="seg.pt")
    described = service.describe(upload, 0)
    assert described["region"] == {
        "class": "covid", "share": 1.0, "classes": ["background", "covid", "nocovid"]
    }  # fmt: skip
    assert described["predicted_class"] == "covid"
    assert described["probabilities"]["covid"] == pytest.approx(1.0)
    assert described["scan"].shape == (64, 64)
    masks = service.masks(upload, 0, "gradcam", 0.5)
    assert masks["deletion"]["predicted_class"] == "covid"
    chosen = service.upload("covid_1.png", _sample_bytes(), model="seg.pt", segment="1")
    assert service.describe(chosen, 0)["region"]["class"] == "covid"
    with pytest.raises(InputError, match="no pixel of slice 0 is predicted as nocovid"):
        service.upload("covid_1.png", _sample_bytes(), model="seg.pt", segment="nocovid")
    with pytest.raises(InputError, match="segment 'lung' is neither a class name"):
        service.upload("covid_1.png", _sample_bytes(), model="seg.pt", segment="lung")
    with pytest.raises(InputError, match="is a classifier: it has no regions"):
        service.upload("covid_1.png", _sample_bytes(), segment="covid")
