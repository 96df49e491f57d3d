"""PS3.15 Basic Profile de-identification of a synthetic DICOM carrying every table attribute."""

from __future__ import annotations

import datetime as dt

import pydicom
import pytest
from dicom_factory import BIRTH_DATE, PATIENT_ID, PATIENT_NAME, fill_markers, make_mr_series
from pydicom.datadict import dictionary_description, keyword_for_tag

from resorb.errors import ImagingError, InvalidInputError
from resorb.interop.deid import UIDMap, basic_profile, deidentify, is_new_uid, shift_da, shift_dt

OFFSET = -417


def test_profile_table_agrees_with_the_pydicom_dictionary():
    """Every tag of the Table E.1-1 data file exists in pydicom's data dictionary under the
    keyword written next to it, and the actions are the PS3.15 codes."""
    table = basic_profile()
    assert len(table) > 550
    for tag, entry in table.items():
        assert keyword_for_tag(tag) == entry.keyword, hex(tag)
        assert entry.action in {"D", "Z", "X", "U", "Z/D", "X/Z", "X/D", "X/Z/D", "X/Z/U*"}
    by_kw = {e.keyword: e.action for e in table.values()}
    # Spot checks against the standard's best-known rows.
    assert by_kw["PatientName"] == "Z" and by_kw["PatientID"] == "Z/D"  # Z/D since 2024b
    assert by_kw["PatientBirthDate"] == "Z" and by_kw["StudyDate"] == "Z"
    assert by_kw["StudyInstanceUID"] == "U" and by_kw["SOPInstanceUID"] == "U"
    assert by_kw["InstitutionName"] == "X/Z/D" and by_kw["PatientAddress"] == "X"
    assert by_kw["OtherPatientIDs"] == "X" and by_kw["PatientAge"] == "X"
    assert "Modality" not in by_kw and "PixelSpacing" not in by_kw  # kept (K)


def test_date_shifts_keep_the_interval():
    assert shift_da("20250314", OFFSET) == (
        dt.date(2025, 3, 14) + dt.timedelta(days=OFFSET)
    ).strftime("%Y%m%d")
    assert shift_dt("20250314101112.5+0100", -1) == "20250313101112.5+0100"
    assert shift_da("", 5) == "" and shift_da("garbage", 5) == ""


@pytest.fixture
def marked(tmp_path):
    path = make_mr_series(tmp_path / "mr", n_slices=1)[0]
    return pydicom.dcmread(path)


def test_no_basic_profile_attribute_survives_with_its_original_value(marked):
    """Recipe: a synthetic MR image with every Table E.1-1 attribute that pydicom can set
    filled with a marker value (``dicom_factory.fill_markers``), de-identified; each table
    attribute must then be absent, emptied, or hold a different value."""
    table = basic_profile()
    original = {int(e.tag): e.value for e in marked if int(e.tag) in table}
    assert len(original) > 500  # the fixture really filled the table
    out = deidentify(marked, offset_days=OFFSET)
    survivors = []
    for tag, before in original.items():
        if tag not in out:
            continue
        after = out[tag].value
        if after in (None, "", b"") or (out[tag].VR == "SQ" and len(after) == 0):
            continue
        if after == before:
            survivors.append(f"{dictionary_description(tag)} ({table[tag].action})")
    assert survivors == []
    assert out.PatientIdentityRemoved == "YES"
    assert [c.CodeValue for c in out.DeidentificationMethodCodeSequence] == [
        "113100",
        "113107",
        "113105",
    ]  # Basic Profile, Modified Dates, Clean Descriptors
    assert out.LongitudinalTemporalInformationModified == "MODIFIED"
    assert "MARKER^INSEQ" not in repr(out)  # person names in every sequence item
    # The SR content tree and the verifying observer are cleaned, not dropped: their codes
    # stay (the marker items carry a code); every other marker sequence is gone.
    shown = out.copy()
    for kw in ("ContentSequence", "VerifyingObserverSequence"):
        assert len(out.data_element(kw).value) == 1
        del shown[kw]
    text = repr(shown)
    for needle in (
        PATIENT_NAME,
        PATIENT_ID,
        BIRTH_DATE,
        "PRIVATE-MARKER",
        "MARKER-SEQ",
        "OVERLAY-COMMENT-MARKER",
        "MARKER^PERSON",
    ):
        assert needle not in text
    # Attributes outside the table are kept (K).
    assert (out.Modality, out.Rows, list(out.PixelSpacing)) == ("MR", 16, [0.5, 0.5])
    # The input dataset is untouched.
    assert marked.PatientName == PATIENT_NAME


def test_dates_are_shifted_by_the_offset_and_uids_remapped_consistently(marked):
    uids = UIDMap()
    out = deidentify(marked, offset_days=OFFSET, uid_map=uids)
    expected = shift_da("20250314", OFFSET)
    for kw in ("StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate"):
        assert out.data_element(kw).value == expected, kw
    assert out.InstanceCreationDate == shift_da("20240611", OFFSET)  # X/D: shifted, not kept
    assert "StudyTime" not in out or out.StudyTime in ("", None)
    for kw in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID"):
        new = str(out.data_element(kw).value)
        assert is_new_uid(new) and new == uids(str(marked.data_element(kw).value))
    assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID
    again = deidentify(marked, offset_days=OFFSET, uid_map=uids)
    assert again.StudyInstanceUID == out.StudyInstanceUID
    fresh = deidentify(marked, offset_days=OFFSET)
    assert fresh.StudyInstanceUID != out.StudyInstanceUID  # new map, new UIDs


def test_burned_in_annotation_is_refused(marked):
    marked.BurnedInAnnotation = "YES"
    with pytest.raises(ImagingError, match="BurnedInAnnotation"):
        deidentify(marked, offset_days=OFFSET)
    marked.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"  # secondary capture
    del marked.BurnedInAnnotation
    with pytest.raises(ImagingError, match="secondary capture"):
        deidentify(marked, offset_days=OFFSET)


def test_a_zero_offset_is_refused(marked):
    with pytest.raises(InvalidInputError, match="offset_days"):
        deidentify(marked, offset_days=0)


def test_the_deidentified_dataset_can_be_written_and_read(marked, tmp_path):
    out = deidentify(marked, offset_days=OFFSET)
    path = tmp_path / "deid.dcm"
    out.save_as(path, enforce_file_format=False)
    back = pydicom.dcmread(path)
    assert back.PatientIdentityRemoved == "YES"
    assert back.StudyInstanceUID == out.StudyInstanceUID


def test_markers_only_fill_absent_attributes():
    ds = pydicom.Dataset()
    ds.PatientName = "KEEP^ME"
    fill_markers(ds)
    assert ds.PatientName == "KEEP^ME"
