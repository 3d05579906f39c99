"""Small DICOM and NIfTI files written by the tests themselves (nothing downloaded)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: Values a de-identification profile removes; none may appear in any output.
IDENTIFYING = {
    "PatientName": "DOE^JANE^Q",
    "PatientID": "PID-98765-XQ",
    "PatientBirthDate": "19510203",
    "PatientSex": "F",
    "PatientAge": "073Y",
    "PatientAddress": "12 Quarry Lane Springfield",
    "OtherPatientIDs": "ALT-55221",
    "AccessionNumber": "ACC-4455-ZZ",
    "InstitutionName": "Saint Example Hospital",
    "InstitutionAddress": "1 Hospital Road Exampleton",
    "ReferringPhysicianName": "HOUSE^GREGORY",
    "PerformingPhysicianName": "WILSON^JAMES",
    "OperatorsName": "CUDDY^LISA",
    "StationName": "CTSTATION-07",
    "StudyDate": "20200314",
    "StudyID": "STUDY-3141",
    "StudyDescription": "CHEST CT FOR JANE DOE",
    "SeriesDescription": "LUNG JANE DOE",
    "DeviceSerialNumber": "SN-424242",
}

ORIENTATION = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
SPACING = [0.75, 0.5]  # row spacing, column spacing (mm)


def write_dicom_slice(
    path: Path,
    stored: np.ndarray,
    z: float,
    *,
    series: str = "1.2.826.0.1.3680043.8.498.1",
    instance: int = 1,
    slope: float = 1.0,
    intercept: float = -1024.0,
    pixels: bool = True,
    identifying: bool = False,
    syntax: str | None = None,
) -> Path:
    """One CT slice at height ``z`` (stored int16 values, HU = stored * slope + intercept)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    uid = generate_uid()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = uid
    meta.TransferSyntaxUID = syntax or ExplicitVRLittleEndian
    data = Dataset()
    data.file_meta = meta
    data.SOPClassUID = CTImageStorage
    data.SOPInstanceUID = uid
    data.SeriesInstanceUID = series
    data.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.9"
    data.Modality = "CT"
    data.InstanceNumber = instance
    data.ImagePositionPatient = [-40.0, -30.0, z]
    data.ImageOrientationPatient = ORIENTATION
    data.PixelSpacing = SPACING
    data.SliceThickness = 2.0
    data.RescaleSlope = slope
    data.RescaleIntercept = intercept
    if identifying:
        for keyword, value in IDENTIFYING.items():
            setattr(data, keyword, value)
    if pixels:
        data.Rows, data.Columns = stored.shape
        data.SamplesPerPixel = 1
        data.PhotometricInterpretation = "MONOCHROME2"
        data.BitsAllocated = data.BitsStored = 16
        data.HighBit = 15
        data.PixelRepresentation = 1
        raw = stored.astype("<i2").tobytes()
        if syntax is not None:
            from pydicom.encaps import encapsulate

            raw = encapsulate([b"\xff\xd8\xff\xf7" + raw[:64]])
        data.PixelData = raw
    data.save_as(path, enforce_file_format=True)
    return path


def write_series(
    folder: Path, count: int = 4, size: tuple[int, int] = (40, 48), **options: object
) -> list[tuple[Path, float, np.ndarray]]:
    """``count`` slices 2.5 mm apart, written in shuffled file order; slice k holds a bright
    square whose side grows with k, so slice order can be checked from the pixels."""
    folder.mkdir(parents=True, exist_ok=True)
    order = np.random.default_rng(3).permutation(count)
    written = []
    for k in range(count):
        stored = np.full(size, 24, dtype=np.int16)  # -1000 HU: air
        stored[4 : 8 + 4 * k, 4 : 8 + 4 * k] = 1024 + 40  # +40 HU: soft tissue
        z = -100.0 + 2.5 * k
        path = folder / f"IM{order[k]:04d}"
        write_dicom_slice(path, stored, z, instance=int(k + 1), **options)  # type: ignore[arg-type]
        written.append((path, z, stored))
    return written


def write_nifti(path: Path, data: np.ndarray, affine: np.ndarray) -> Path:
    import nibabel as nib

    nib.save(nib.Nifti1Image(data, affine), path)
    return path
