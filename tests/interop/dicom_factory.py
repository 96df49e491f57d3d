"""Synthetic DICOM for the interop and DICOM-import tests (no patient data).

``make_mr_series`` writes a small MR series (8 slices of 16 x 16 voxels,
0.5 x 0.5 mm pixels, 1 mm slices) of a fictional patient and fills **every
attribute of PS3.15 Table E.1-1 that pydicom can set** with a marker value;
``make_seg`` writes a highdicom BINARY SEG on that series with two segments:
1 = "herniation", a 4 x 5 x 3-voxel box (60 voxels x 0.25 mm3 = 15 mm3), and
2 = a 2 x 2 x 2-voxel box, and copies the same markers into it.
Everything is deterministic (no random numbers).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pydicom
from pydicom.datadict import dictionary_VR
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.sr.codedict import codes
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from resorb.interop.deid import basic_profile

PATIENT_NAME = "DOE^JANE^MARKER"
PATIENT_ID = "PID-778899"
BIRTH_DATE = "19700412"
MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
BOX_VOXELS = 4 * 5 * 3
VOXEL_MM3 = 0.5 * 0.5 * 1.0

_SKIP_GROUPS = (0x0000, 0x0002, 0xFFFA, 0xFFFC)
# Attributes the image itself needs with real values; they are still checked after
# de-identification (each is in the table with a U or date/time action).
_STRUCTURAL = {
    "AccessionNumber",
    "ReferringPhysicianName",
    "StudyID",
    "SOPInstanceUID",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "FrameOfReferenceUID",
    "StudyDate",
    "StudyTime",
    "ContentDate",
    "ContentTime",
    "SeriesDate",
    "SeriesTime",
    "AcquisitionDate",
    "AcquisitionTime",
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
}


def _marker(tag: int, vr: str, n: int):
    vr = vr.split(" or ")[0]
    if vr == "DA":
        return "20240611"
    if vr == "DT":
        return "20240611093015"
    if vr == "TM":
        return "093015"
    if vr == "UI":
        return f"1.2.826.0.1.3680043.10.1234.{n}"
    if vr == "PN":
        return "MARKER^PERSON"
    if vr in ("SH", "CS", "AE"):
        return f"MK{n}"[:16]
    if vr in ("LO", "LT", "ST", "UT", "UC"):
        return f"MARKER-{n}"
    if vr == "UR":
        return f"http://marker.invalid/{n}"
    if vr == "AS":
        return "042Y"
    if vr in ("US", "SS", "UL", "SL", "UV", "SV"):
        return 7
    if vr in ("FL", "FD"):
        return 7.5
    if vr in ("IS",):
        return "7"
    if vr == "DS":
        return "7.5"
    if vr in ("OB", "OW", "OF", "OD", "OL", "OV", "UN"):
        return b"MARK"
    if vr == "AT":
        return 0x00100010
    if vr == "SQ" and tag in (0x00081140, 0x00082112):  # Referenced/Source Image Sequence
        item = Dataset()
        item.ReferencedSOPClassUID = MR_IMAGE_STORAGE
        item.ReferencedSOPInstanceUID = f"1.2.826.0.1.3680043.10.1234.9{n}"
        return Sequence([item])
    if vr == "SQ":
        item = Dataset()
        item.CodeValue = f"MK{n}"
        item.CodingSchemeDesignator = "99MARK"
        item.CodeMeaning = f"MARKER-SEQ-{n}"
        item.PersonName = "MARKER^INSEQ"
        return Sequence([item])
    raise ValueError(vr)


def fill_markers(ds: Dataset) -> dict[int, object]:
    """Fill every settable Table E.1-1 attribute absent from ``ds`` with a marker.

    Returns the original value of every table attribute present afterwards.
    """
    for n, (tag, entry) in enumerate(sorted(basic_profile().items())):
        if tag >> 16 in _SKIP_GROUPS or entry.keyword in _STRUCTURAL or tag in ds:
            continue
        vr = dictionary_VR(tag)
        ds.add_new(tag, vr.split(" or ")[0], _marker(tag, vr, n))
    # A private attribute and an overlay, which the profile removes too.
    block = ds.private_block(0x0041, "RESORB TEST", create=True)
    block.add_new(0x10, "LO", "PRIVATE-MARKER")
    ds.add_new(0x60004000, "LT", "OVERLAY-COMMENT-MARKER")
    return {
        int(e.tag): e.value
        for e in ds
        if int(e.tag) in basic_profile() and e.tag.group not in _SKIP_GROUPS
    }


def make_mr_series(
    folder: Path,
    *,
    study_date: dt.date = dt.date(2025, 3, 14),
    study_uid: str | None = None,
    n_slices: int = 8,
    markers: bool = True,
) -> list[Path]:
    """Write a synthetic MR series; returns the file paths."""
    folder.mkdir(parents=True, exist_ok=True)
    study_uid = study_uid or generate_uid(entropy_srcs=["resorb-test-study", str(study_date)])
    series_uid = generate_uid(entropy_srcs=["resorb-test-series", str(study_date)])
    for_uid = generate_uid(entropy_srcs=["resorb-test-for", str(study_date)])
    paths = []
    for k in range(n_slices):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = MR_IMAGE_STORAGE
        sop_uid = generate_uid(entropy_srcs=["resorb-test-sop", str(study_date), str(k)])
        ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
        ds.SOPClassUID = MR_IMAGE_STORAGE
        ds.SOPInstanceUID = sop_uid
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.FrameOfReferenceUID = for_uid
        ds.PatientName = PATIENT_NAME
        ds.PatientID = PATIENT_ID
        ds.PatientBirthDate = BIRTH_DATE
        ds.PatientSex = "F"
        ds.AccessionNumber = "ACC-556677"
        ds.ReferringPhysicianName = "REFERRER^MARKER"
        ds.StudyID = "STUDY-4455"
        da = study_date.strftime("%Y%m%d")
        ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = da
        ds.StudyTime = ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = "101112"
        ds.Modality = "MR"
        ds.SeriesNumber = 3
        ds.InstanceNumber = k + 1
        ds.Manufacturer = "resorb synthetic"
        ds.BurnedInAnnotation = "NO"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "OTHER"]
        ds.PositionReferenceIndicator = ""
        ds.ImagePositionPatient = [0.0, 0.0, float(k)]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing = [0.5, 0.5]
        ds.SliceThickness = 1.0
        ds.SpacingBetweenSlices = 1.0
        ds.Rows = ds.Columns = 16
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = 16
        ds.BitsStored = 12
        ds.HighBit = 11
        ds.PixelRepresentation = 0
        ds.PatientPosition = "HFS"
        ds.Laterality = ""  # Type 2C (the lumbar spine is not a paired part): present, empty
        ds.ScanningSequence = "SE"
        ds.SequenceVariant = "NONE"
        ds.ScanOptions = ""
        ds.MRAcquisitionType = "2D"
        ds.EchoTime = 90
        ds.RepetitionTime = 3000
        ds.EchoTrainLength = 16
        ds.PixelData = (np.arange(256, dtype=np.uint16).reshape(16, 16) + k).tobytes()
        if markers:
            fill_markers(ds)
        path = folder / f"mr_{k:02d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def add_clinical_identifiers(ds: Dataset) -> Dataset:
    """Give ``ds`` the identifying attributes a clinical object really carries.

    Unlike :func:`fill_markers` (every table attribute with a marker, which makes
    the object invalid), these are valid values of attributes found in real MR,
    SEG and SR objects, so that the de-identified object can be validated.
    """
    ds.InstitutionName = "St Marker Hospital"
    ds.InstitutionAddress = "1 Marker Road, Markerton"
    ds.StationName = "MARKER-MR1"
    ds.OperatorsName = "OPERATOR^MARKER"
    ds.PerformingPhysicianName = "PERFORMER^MARKER"
    ds.DeviceSerialNumber = "SERIAL-MARKER-2"
    ds.ProtocolName = "Lumbar Doe Jane"
    ds.SeriesDescription = "Doe Jane lumbar T2"
    ds.StudyDescription = "MRI lumbar spine of Jane Doe"
    ds.PatientAge = "054Y"
    ds.PatientWeight = "61"
    ds.OtherPatientIDs = "OTHER-MARKER-ID"
    ds.InstanceCreationDate = "20250314"
    ds.InstanceCreationTime = "101112"
    ds.ImageComments = "Jane Doe, call back"
    if "Rows" in ds and "NumberOfFrames" not in ds:  # a complete overlay plane
        ds.add_new(0x60000010, "US", int(ds.Rows))
        ds.add_new(0x60000011, "US", int(ds.Columns))
        ds.add_new(0x60000040, "CS", "G")
        ds.add_new(0x60000050, "SS", [1, 1])
        ds.add_new(0x60000100, "US", 1)
        ds.add_new(0x60000102, "US", 0)
        ds.add_new(0x60000022, "LO", "OVERLAY DESCRIPTION MARKER")
        ds.add_new(0x60003000, "OW", bytes((int(ds.Rows) * int(ds.Columns) + 7) // 8))
    block = ds.private_block(0x0041, "RESORB TEST", create=True)
    block.add_new(0x10, "LO", "PRIVATE-MARKER")
    if "ContentCreatorName" in ds or str(getattr(ds, "Modality", "")) == "SEG":
        ds.ContentCreatorName = "READER^MARKER"
    for item in ds.get("SegmentSequence", []):
        item.SegmentLabel = "Jane Doe herniation"
        item.SegmentDescription = "drawn by Dr Marker"
    meta = getattr(ds, "file_meta", None)
    if meta is not None:
        meta.SourceApplicationEntityTitle = "MARKER_AE"
        meta.PrivateInformationCreatorUID = "1.2.826.0.1.3680043.10.1234.77"
        meta.PrivateInformation = b"MARKER-PRIVATE-INFO"
    return ds


def make_seg(series: list[Path], out: Path, *, markers: bool = True) -> Path:
    """Write a BINARY DICOM SEG of a 4 x 5 x 3 box on ``series``; returns its path."""
    import highdicom as hd

    images = [pydicom.dcmread(p) for p in series]
    labels = np.zeros((len(images), 16, 16), dtype=np.uint8)
    labels[2:5, 4:9, 6:10] = 1  # herniation: slices 2-4, rows 4-8, columns 6-9 = 60 voxels
    labels[5:7, 10:12, 2:4] = 2  # a second segment (2 x 2 x 2 voxels) that is not measured
    # Codes from pydicom's copy of the DICOM tables (no hand-typed SNOMED codes).
    category = codes.SCT.MorphologicallyAbnormalStructure
    descs = [
        hd.seg.SegmentDescription(
            segment_number=1,
            segment_label="herniation",
            segmented_property_category=category,
            segmented_property_type=codes.SCT.Lesion,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
        ),
        hd.seg.SegmentDescription(
            segment_number=2,
            segment_label="other",
            segmented_property_category=category,
            segmented_property_type=codes.SCT.Mass,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
        ),
    ]
    seg = hd.seg.Segmentation(
        source_images=images,
        pixel_array=labels,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descs,
        series_instance_uid=generate_uid(entropy_srcs=["resorb-test-seg-series", str(out)]),
        series_number=99,
        sop_instance_uid=generate_uid(entropy_srcs=["resorb-test-seg", str(out)]),
        instance_number=1,
        manufacturer="resorb synthetic",
        manufacturer_model_name="test",
        software_versions="0",
        device_serial_number="SERIAL-MARKER-1",
    )
    if markers:
        fill_markers(seg)
    seg.save_as(out)
    return out
