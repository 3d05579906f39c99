"""What of a DICOM header may leave the process: a short allow-list, nothing else.

Every DICOM value causalcam writes (JSON, logs, file names, the web page) comes from
:func:`slice_facts`, which copies only the geometry and identity-free fields below. Names,
IDs, dates, institutions, accession numbers and every other header field stay unread.
:data:`IDENTIFYING_KEYWORDS` lists the fields a de-identification profile removes; the
tests fill a file with them and check none appears in any output.
"""

from __future__ import annotations

from typing import Any

#: Header fields that identify a person or a visit (DICOM PS3.15 basic profile, abridged).
IDENTIFYING_KEYWORDS: tuple[str, ...] = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "PatientAge",
    "PatientAddress",
    "PatientTelephoneNumbers",
    "OtherPatientIDs",
    "AccessionNumber",
    "InstitutionName",
    "InstitutionAddress",
    "ReferringPhysicianName",
    "PerformingPhysicianName",
    "OperatorsName",
    "StationName",
    "StudyDate",
    "StudyTime",
    "StudyID",
    "StudyDescription",
    "SeriesDescription",
    "DeviceSerialNumber",
)

#: The only header fields causalcam reads into its outputs.
ALLOWED_KEYWORDS: tuple[str, ...] = (
    "SOPInstanceUID",
    "ImagePositionPatient",
    "ImageOrientationPatient",
    "PixelSpacing",
    "SliceThickness",
    "InstanceNumber",
    "Modality",
)


def slice_facts(dataset: Any) -> dict[str, Any]:
    """The allowed fields of a pydicom dataset as plain JSON values (missing ones omitted)."""
    facts: dict[str, Any] = {}
    for keyword in ALLOWED_KEYWORDS:
        value = getattr(dataset, keyword, None)
        if value is None or value == "":
            continue
        if keyword in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing"):
            facts[keyword] = [float(v) for v in value]
        elif keyword in ("SliceThickness",):
            facts[keyword] = float(value)
        elif keyword == "InstanceNumber":
            facts[keyword] = int(value)
        else:
            facts[keyword] = str(value)
    return facts
