"""De-identification cases of the interop review, each named after the situation.

The objects are the synthetic MR series and SEG of ``dicom_factory`` with the
identifying attributes of a clinical object (``add_clinical_identifiers``).
"""

from __future__ import annotations

import datetime as dt
import warnings

import pydicom
import pytest
from dicom_factory import BIRTH_DATE, add_clinical_identifiers, make_mr_series, make_seg
from test_interop_validators import clinical_sr

from resorb.errors import ImagingError, InvalidInputError
from resorb.interop.deid import TABLE_EDITION, UIDMap, deidentify

OFFSET = -250


@pytest.fixture
def clinic(tmp_path):
    series = make_mr_series(
        tmp_path / "clinic" / "mr", study_date=dt.date(2025, 3, 14), markers=False
    )
    for path in series:
        add_clinical_identifiers(pydicom.dcmread(path)).save_as(path, enforce_file_format=True)
    seg_path = make_seg(series, tmp_path / "clinic" / "seg.dcm", markers=False)
    add_clinical_identifiers(pydicom.dcmread(seg_path)).save_as(seg_path, enforce_file_format=True)
    return {
        "series": series,
        "seg": seg_path,
        "images": [pydicom.dcmread(p) for p in series],
        "seg_ds": pydicom.dcmread(seg_path),
        "tmp": tmp_path,
    }


def test_table_edition_is_stated():
    assert TABLE_EDITION == "2024b"


def test_birth_date_is_emptied_not_shifted_when_dates_are_shifted(clinic):
    """The review found 19700412 -> 19690313 under PatientIdentityRemoved=YES."""
    out = deidentify(clinic["images"][0], offset_days=OFFSET)
    assert clinic["images"][0].PatientBirthDate == BIRTH_DATE
    assert "PatientBirthDate" in out and out.PatientBirthDate in ("", None)  # Type 2: empty
    assert out.StudyDate == (dt.date(2025, 3, 14) + dt.timedelta(OFFSET)).strftime("%Y%m%d")
    assert "PatientAge" not in out  # X in the Basic Profile


def test_seg_keeps_its_type_1_content_time_and_device_serial_number(clinic):
    """SEG: ContentTime (Multi-frame Functional Groups) and DeviceSerialNumber (Enhanced
    General Equipment) are Type 1, so Z/D and X/Z/D take D (a dummy), not Z or X."""
    out = deidentify(clinic["seg_ds"], offset_days=OFFSET)
    assert out.ContentTime == "000000"
    assert out.DeviceSerialNumber == "REMOVED"
    assert out.ContentCreatorName in ("", None)  # Type 2: Z
    for kw in ("InstitutionName", "StationName", "OperatorsName", "InstanceCreationTime"):
        assert kw not in out, kw  # Type 3 in the SEG IOD: X


def test_mr_image_drops_type_3_attributes_of_compound_actions(clinic):
    out = deidentify(clinic["images"][0], offset_days=OFFSET)
    assert "DeviceSerialNumber" not in out and "ProtocolName" not in out
    assert out.ContentTime in ("", None)  # Type 2C in the General Image module: Z


def test_sr_keeps_type_1_content_time_and_type_2_performed_procedure_step_sequence(clinic):
    sr = clinical_sr(clinic["seg_ds"], clinic["images"])
    out = deidentify(sr, offset_days=OFFSET)
    assert out.ContentTime == "000000"
    assert "ReferencedPerformedProcedureStepSequence" in out
    assert len(out.ReferencedPerformedProcedureStepSequence) == 0


def _items(seq):
    for item in seq:
        yield item
        yield from _items(item.get("ContentSequence", []))


def test_imported_sr_content_tree_is_cleaned_not_wiped(clinic):
    """The review found an imported SR's 39 content items reduced to 0. Now every item
    stays; text and person names are replaced, codes, numbers and references kept (the
    references with their UIDs remapped)."""
    sr = clinical_sr(clinic["seg_ds"], clinic["images"])
    uids = UIDMap(key=b"k" * 32)
    out = deidentify(sr, offset_days=OFFSET, uid_map=uids)
    before, after = list(_items(sr.ContentSequence)), list(_items(out.ContentSequence))
    assert len(before) >= 14 and len(after) == len(before)
    for a, b in zip(before, after, strict=True):
        assert a.ValueType == b.ValueType
        assert a.ConceptNameCodeSequence[0].CodeValue == b.ConceptNameCodeSequence[0].CodeValue
        if a.ValueType == "TEXT":
            assert b.TextValue == "REMOVED" and a.TextValue != "REMOVED"
        elif a.ValueType == "PNAME":
            assert str(b.PersonName) == "ANONYMOUS" and "Marker" in str(a.PersonName)
        elif a.ValueType == "NUM":
            assert (
                b.MeasuredValueSequence[0].NumericValue == a.MeasuredValueSequence[0].NumericValue
            )
        elif a.ValueType == "CODE":
            assert b.ConceptCodeSequence[0].CodeValue == a.ConceptCodeSequence[0].CodeValue
        elif a.ValueType == "UIDREF":
            assert uids(a.UID) == b.UID
        elif a.ValueType == "IMAGE":
            ref_a, ref_b = a.ReferencedSOPSequence[0], b.ReferencedSOPSequence[0]
            assert ref_b.ReferencedSOPInstanceUID == uids(ref_a.ReferencedSOPInstanceUID)
    assert "Marker" not in repr(out) and "Jane Doe" not in repr(out)


def test_uids_from_the_same_key_are_the_same_in_separate_runs(clinic):
    seg = clinic["seg_ds"]
    a = deidentify(seg, offset_days=OFFSET, uid_map=UIDMap(key=b"registry-key" * 2))
    b = deidentify(seg, offset_days=OFFSET, uid_map=UIDMap(key=b"registry-key" * 2))
    c = deidentify(seg, offset_days=OFFSET, uid_map=UIDMap(key=b"another-key!" * 2))
    assert a.SOPInstanceUID == b.SOPInstanceUID != c.SOPInstanceUID
    assert a.SOPInstanceUID.startswith("2.25.") and len(a.SOPInstanceUID) <= 64
    assert a.SOPInstanceUID != seg.SOPInstanceUID


def test_file_meta_application_entity_titles_and_private_information_are_removed(clinic):
    meta = clinic["seg_ds"].file_meta
    assert meta.SourceApplicationEntityTitle == "MARKER_AE" and "PrivateInformation" in meta
    out = deidentify(clinic["seg_ds"], offset_days=OFFSET)
    for kw in (
        "SourceApplicationEntityTitle",
        "PrivateInformationCreatorUID",
        "PrivateInformation",
    ):
        assert kw not in out.file_meta, kw
    assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID


def test_clean_descriptors_replace_segment_labels_and_drop_descriptions(clinic):
    out = deidentify(clinic["seg_ds"], offset_days=OFFSET)
    item = out.SegmentSequence[0]
    assert item.SegmentLabel == item.SegmentedPropertyTypeCodeSequence[0].CodeMeaning
    assert "SegmentDescription" not in item
    assert out.ContentLabel == "DEIDENTIFIED"
    assert "113105" in {c.CodeValue for c in out.DeidentificationMethodCodeSequence}
    image = deidentify(clinic["images"][0], offset_days=OFFSET)
    assert not any(e.tag.group == 0x6000 for e in image)  # the overlay, description and all
    assert "SeriesDescription" not in image and "ImageComments" not in image
    kept = deidentify(clinic["seg_ds"], offset_days=OFFSET, clean_descriptors=False)
    assert kept.SegmentSequence[0].SegmentLabel == "Jane Doe herniation"
    assert "113105" not in {c.CodeValue for c in kept.DeidentificationMethodCodeSequence}


@pytest.mark.parametrize("flag", ["YES", "Y", "TRUE", "yes", " Yes ", "true", "1"])
def test_burned_in_annotation_variants_are_refused(clinic, flag):
    ds = clinic["images"][0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns on lower case, which is the point
        ds.BurnedInAnnotation = flag
    with pytest.raises(ImagingError, match="BurnedInAnnotation is not NO") as exc:
        deidentify(ds, offset_days=OFFSET)
    assert flag.strip() not in str(exc.value).replace("NO", "")


def test_deidentification_raises_no_warning_quoting_element_values(clinic):
    """An over-long name and a malformed UID used to make pydicom warn with the raw value
    on stderr. The test runs with warnings as errors (pyproject filterwarnings)."""
    ds = clinic["images"][0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.InstitutionName = "Jane Doe Private Clinic " * 4
        ds.ReferencedSOPInstanceUID = "1.2.JANE.DOE"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = deidentify(ds, offset_days=OFFSET)
    assert "Jane Doe" not in repr(out)


def test_import_of_a_series_and_its_seg_in_two_calls_keeps_every_reference(clinic):
    """The review found a series and its SEG imported separately in two studies, 0 of 24
    SEG references resolving. One key per registry: the same new UIDs in both imports."""
    from resorb.registry import Registry
    from resorb.registry._dicom import import_dicom

    tmp = clinic["tmp"]
    reg = Registry(f"sqlite:///{tmp / 'reg.db'}")
    reg.upgrade()
    try:
        p = reg.create_patient(
            {"pseudonym": "LDH-0101", "birth_year": 1970, "sex": "female"}, actor="test"
        )
        store = tmp / "stored"
        first = import_dicom(
            reg, tmp / "clinic" / "mr", patient_id=p.id, actor="test", store_dir=store
        )
        second = import_dicom(
            reg, clinic["seg"], patient_id=p.id, label=1, actor="test", store_dir=store
        )
        assert first["mri"][0]["StudyInstanceUID"] == second["mri"][0]["StudyInstanceUID"]
        stored = [pydicom.dcmread(f) for f in store.glob("*.dcm")]
        seg = next(d for d in stored if d.Modality == "SEG")
        image_uids = {str(d.SOPInstanceUID) for d in stored if d.Modality == "MR"}
        refs = [
            str(r.ReferencedSOPInstanceUID)
            for f in seg.PerFrameFunctionalGroupsSequence
            for d in f.DerivationImageSequence
            for r in d.SourceImageSequence
        ]
        refs += [
            str(i.ReferencedSOPInstanceUID)
            for s in seg.ReferencedSeriesSequence
            for i in s.ReferencedInstanceSequence
        ]
        assert refs and all(r in image_uids for r in refs)
        assert {str(s.SeriesInstanceUID) for s in seg.ReferencedSeriesSequence} == {
            str(d.SeriesInstanceUID) for d in stored if d.Modality == "MR"
        }
    finally:
        reg.close()


def test_importing_the_same_seg_twice_makes_no_duplicate_row(clinic):
    from resorb.registry import Registry
    from resorb.registry._dicom import import_dicom

    tmp = clinic["tmp"]
    reg = Registry(f"sqlite:///{tmp / 'reg.db'}")
    reg.upgrade()
    try:
        p = reg.create_patient(
            {"pseudonym": "LDH-0102", "birth_year": 1970, "sex": "female"}, actor="test"
        )
        a = import_dicom(reg, tmp / "clinic", patient_id=p.id, label=1, actor="test")
        b = import_dicom(reg, tmp / "clinic", patient_id=p.id, label=1, actor="test")
        assert [r["already_imported"] for r in a["mri"]] == [False]
        assert [r["already_imported"] for r in b["mri"]] == [True]
        assert a["mri"][0]["id"] == b["mri"][0]["id"]
        assert len(reg.patient_timeline(p.id)["mri"]) == 1
        series_only = import_dicom(reg, tmp / "clinic" / "mr", patient_id=p.id, actor="test")
        again = import_dicom(reg, tmp / "clinic" / "mr", patient_id=p.id, actor="test")
        assert series_only["mri"][0]["id"] == again["mri"][0]["id"]
        assert len(reg.patient_timeline(p.id)["mri"]) == 2
        q = reg.create_patient(
            {"pseudonym": "LDH-0103", "birth_year": 1980, "sex": "male"}, actor="test"
        )
        with pytest.raises(InvalidInputError, match="another patient"):
            import_dicom(reg, tmp / "clinic", patient_id=q.id, label=1, actor="test")
    finally:
        reg.close()


def _seg_without_spacing_and_middle_slice(seg_path) -> None:
    """Rewrite the factory SEG as a tool that omits empty frames and SpacingBetweenSlices
    writes it: segment 1 kept on slices 2 and 4 only (slice 3 left out)."""
    from pydicom.pixels import pack_bits

    ds = pydicom.dcmread(seg_path)
    frames = ds.pixel_array
    keep = [
        i
        for i, f in enumerate(ds.PerFrameFunctionalGroupsSequence)
        if f.SegmentIdentificationSequence[0].ReferencedSegmentNumber == 1
        and float(f.PlanePositionSequence[0].ImagePositionPatient[2]) in (2.0, 4.0)
    ]
    assert len(keep) == 2
    ds.PerFrameFunctionalGroupsSequence = pydicom.Sequence(
        [ds.PerFrameFunctionalGroupsSequence[i] for i in keep]
    )
    ds.NumberOfFrames = len(keep)
    ds.PixelData = pack_bits(frames[keep].ravel())
    del ds.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0].SpacingBetweenSlices
    ds.save_as(seg_path)


def test_import_of_a_seg_without_spacing_uses_its_series_and_is_exact(clinic):
    """The review found import-dicom doubling such a SEG's volume (the 2 mm gap between
    the frames taken as the slice spacing). With its series in the import the spacing is
    the series' 1 mm: 2 x 20 voxels x 0.25 mm3 = 10 mm3. Alone, the SEG is refused."""
    from resorb.registry import Registry
    from resorb.registry._dicom import import_dicom

    tmp = clinic["tmp"]
    _seg_without_spacing_and_middle_slice(clinic["seg"])
    reg = Registry(f"sqlite:///{tmp / 'reg.db'}")
    reg.upgrade()
    try:
        p = reg.create_patient(
            {"pseudonym": "LDH-0104", "birth_year": 1970, "sex": "female"}, actor="test"
        )
        with pytest.raises(ImagingError, match="source images"):
            import_dicom(reg, clinic["seg"], patient_id=p.id, label=1, actor="test")
        out = import_dicom(reg, tmp / "clinic", patient_id=p.id, label=1, actor="test")
        assert out["mri"][0]["volume_mm3"] == pytest.approx(10.0)
    finally:
        reg.close()
