"""DICOM import into the registry: measurement stored, nothing identifying stored or logged."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3

import numpy as np
import pydicom
import pytest
from dicom_factory import (
    BIRTH_DATE,
    PATIENT_ID,
    PATIENT_NAME,
    VOXEL_MM3,
    make_mr_series,
    make_seg,
)

from cli_helpers import run_cli
from resorb.errors import ImagingError, InvalidInputError
from resorb.registry import Registry
from resorb.registry._dicom import import_dicom

BASELINE = dt.date(2025, 3, 14)
FOLLOW_UP = dt.date(2025, 9, 10)


@pytest.fixture
def site(tmp_path):
    """A registry file and two studies of one fictional patient in folders named after her."""
    db = tmp_path / "reg.db"
    reg = Registry(f"sqlite:///{db}")
    reg.upgrade()
    p = reg.create_patient(
        {"pseudonym": "LDH-0042", "birth_year": 1970, "sex": "female"}, actor="radiographer"
    )
    base = tmp_path / "DOE_JANE_PID-778899" / "study1"
    series = make_mr_series(base / "mr", study_date=BASELINE)
    make_seg(series, base / "seg.dcm")
    follow = tmp_path / "DOE_JANE_PID-778899" / "study2"
    series2 = make_mr_series(follow / "mr", study_date=FOLLOW_UP)
    make_seg(series2, follow / "seg.dcm")
    originals = [
        pydicom.dcmread(f) for f in [*series, *series2, base / "seg.dcm", follow / "seg.dcm"]
    ]
    yield {
        "reg": reg,
        "db": db,
        "patient": p,
        "base": base,
        "follow": follow,
        "originals": originals,
        "tmp": tmp_path,
    }
    reg.close()


def _database_text(db) -> str:
    """Every value of every table, plus the raw bytes of the file (free pages included)."""
    con = sqlite3.connect(db)
    try:
        parts = []
        for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'"):
            parts.extend(repr(row) for row in con.execute(f'SELECT * FROM "{table}"'))
    finally:
        con.close()
    return "\n".join(parts) + db.read_bytes().decode("latin-1")


def _identifiers(originals) -> set[str]:
    ids = {
        PATIENT_NAME,
        PATIENT_ID,
        BIRTH_DATE,
        "1970-04-12",
        "DOE_JANE",
        "ACC-556677",
        "STUDY-4455",
        "REFERRER",
        "MARKER",
        "SERIAL-MARKER-1",
    }
    for d in (BASELINE, FOLLOW_UP):
        ids |= {d.strftime("%Y%m%d"), d.isoformat()}
    for ds in originals:
        for kw in (
            "StudyInstanceUID",
            "SeriesInstanceUID",
            "SOPInstanceUID",
            "FrameOfReferenceUID",
        ):
            if kw in ds:
                ids.add(str(ds.data_element(kw).value))
    return ids


def test_import_stores_the_volume_and_nothing_identifying(site, caplog):
    """Peer for the volume: highdicom reads the same SEG (``segread(...).get_volume``) and the
    segment's voxels times |det(affine)| give 60 x 0.25 mm3 = 15 mm3."""
    import highdicom as hd

    caplog.set_level(logging.DEBUG)
    reg, pid = site["reg"], site["patient"].id
    out1 = import_dicom(
        reg,
        site["base"],
        patient_id=pid,
        level="L5-S1",
        label=1,
        actor="radiographer",
        store_dir=site["tmp"] / "deid",
    )
    out2 = import_dicom(
        reg,
        site["follow"] / "seg.dcm",
        patient_id=pid,
        level="L5-S1",
        label=1,
        actor="radiographer",
    )
    vol = hd.seg.segread(site["base"] / "seg.dcm").get_volume(
        segment_numbers=[1], combine_segments=True
    )
    peer = int((vol.array == 1).sum()) * abs(np.linalg.det(vol.affine[:3, :3]))
    assert out1["mri"][0]["volume_mm3"] == pytest.approx(peer) == pytest.approx(60 * VOXEL_MM3)
    assert out1["deidentified"] == 9 and out2["deidentified"] == 1

    text = _database_text(site["db"])
    logged = "\n".join(r.getMessage() for r in caplog.records)
    returned = json.dumps([out1, out2])
    leaks = [
        i for i in _identifiers(site["originals"]) if i in text or i in logged or i in returned
    ]
    assert leaks == []
    assert caplog.records, "the import logs what it did"

    # Stored dates are shifted by the patient's one offset, so the interval is kept ...
    con = sqlite3.connect(site["db"])
    stored = [
        dt.date.fromisoformat(d) for (d,) in con.execute("SELECT date FROM mri_studies ORDER BY id")
    ]
    (offset,) = con.execute("SELECT offset_days FROM date_shifts").fetchone()
    con.close()
    assert stored == [BASELINE + dt.timedelta(days=offset), FOLLOW_UP + dt.timedelta(days=offset)]
    assert stored[1] - stored[0] == FOLLOW_UP - BASELINE
    # ... and the clinician's timeline puts them back on the calendar, with resorption.
    t = reg.patient_timeline(pid)
    assert [r["date"] for r in t["mri"]] == [BASELINE, FOLLOW_UP]
    assert [r["source"] for r in t["mri"]] == ["dicom-seg", "dicom-seg"]
    assert t["mri"][1]["resorption_percent"] == 0.0 and t["mri"][1]["grade"] == "unchanged"
    # The researcher's view shows the shifted dates only.
    view = reg.pseudonymised_view(actor="researcher")
    assert [r["date"] for r in view[0]["mri"]] == stored


def test_uids_are_consistent_within_one_import(site):
    reg, pid = site["reg"], site["patient"].id
    import_dicom(
        reg,
        site["base"],
        patient_id=pid,
        label=1,
        actor="radiographer",
        store_dir=site["tmp"] / "deid",
    )
    files = [pydicom.dcmread(p) for p in sorted((site["tmp"] / "deid").glob("*.dcm"))]
    seg = next(d for d in files if d.Modality == "SEG")
    mrs = [d for d in files if d.Modality == "MR"]
    assert len(mrs) == 8
    assert {d.StudyInstanceUID for d in files} == {seg.StudyInstanceUID}
    assert {d.SeriesInstanceUID for d in mrs} == {seg.ReferencedSeriesSequence[0].SeriesInstanceUID}
    assert {d.FrameOfReferenceUID for d in files} == {seg.FrameOfReferenceUID}
    referenced = {
        i.ReferencedSOPInstanceUID
        for i in seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence
    }
    assert referenced == {d.SOPInstanceUID for d in mrs}
    # Each frame's Source Image Sequence (X/Z/U*: kept, UIDs replaced) points at a new MR UID.
    sources = {
        src.ReferencedSOPInstanceUID
        for frame in seg.PerFrameFunctionalGroupsSequence
        for deriv in frame.DerivationImageSequence
        for src in deriv.SourceImageSequence
    }
    assert sources and sources <= referenced
    originals = {str(d.SOPInstanceUID) for d in site["originals"]}
    assert not referenced & originals
    assert all(d.PatientIdentityRemoved == "YES" for d in files)
    # The de-identified SEG still measures the same.
    from resorb.imaging import HerniationMask, mask_volume

    seg_path = next(
        p for p in (site["tmp"] / "deid").glob("*.dcm") if pydicom.dcmread(p).Modality == "SEG"
    )
    vm = mask_volume(HerniationMask.from_dicom_seg(seg_path), label=1)
    assert vm.volume_mm3 == pytest.approx(60 * VOXEL_MM3)


def test_a_series_without_seg_is_stored_without_a_volume(site):
    reg, pid = site["reg"], site["patient"].id
    out = import_dicom(reg, site["base"] / "mr", patient_id=pid, actor="radiographer")
    assert [(m["source"], m["volume_mm3"]) for m in out["mri"]] == [("dicom-series", None)]
    info = reg.list_mri(pid)[0].series_info
    assert info["instances"] == 8 and info["Modality"] == "MR"
    assert info["deidentification"]["PatientIdentityRemoved"] == "YES"


def test_burned_in_annotation_is_refused_and_nothing_written(site):
    reg, pid = site["reg"], site["patient"].id
    path = site["base"] / "mr" / "mr_00.dcm"
    ds = pydicom.dcmread(path)
    ds.BurnedInAnnotation = "YES"
    ds.save_as(path)
    with pytest.raises(ImagingError, match="BurnedInAnnotation"):
        import_dicom(reg, site["base"], patient_id=pid, label=1, actor="radiographer")
    assert reg.list_mri(pid) == []


def _run(capsys, monkeypatch, *argv):
    return run_cli(capsys, *argv, stdin="", monkeypatch=monkeypatch)


def test_import_dicom_command(site, capsys, monkeypatch):
    db = f"sqlite:///{site['db']}"
    code, out, err = _run(
        capsys,
        monkeypatch,
        "registry",
        "import-dicom",
        str(site["base"] / "seg.dcm"),
        "--db",
        db,
        "--patient",
        "LDH-0042",
        "--level",
        "L5-S1",
        "--label",
        "1",
        "--json",
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["mri"][0]["volume_mm3"] == pytest.approx(15.0)
    assert not [i for i in _identifiers(site["originals"]) if i in out + err]
    code, _, err = _run(
        capsys,
        monkeypatch,
        "registry",
        "import-dicom",
        str(site["base"] / "seg.dcm"),
        "--db",
        db,
        "--patient",
        "NOBODY",
    )
    assert code == 2 and err.count("\n") == 1 and "patient" in err
    code, _, err = _run(
        capsys,
        monkeypatch,
        "registry",
        "import-dicom",
        str(site["base"] / "seg.dcm"),
        "--db",
        db,
        "--patient",
        "LDH-0042",
        "--level",
        "L9",
    )
    assert code == 2 and "level" in err and "L5-S1" in err


def test_import_then_export_sr_and_fhir_from_the_command_line(site, capsys, monkeypatch):
    """import-dicom --store-deidentified, then export-sr on the de-identified SEG (read back
    with highdicom) and export-fhir (validated by fhir.resources)."""
    import highdicom as hd
    from fhir.resources.R4B.bundle import Bundle

    db = f"sqlite:///{site['db']}"
    store = site["tmp"] / "deid"
    code, out, err = _run(
        capsys,
        monkeypatch,
        "registry",
        "import-dicom",
        str(site["base"]),
        "--db",
        db,
        "--patient",
        "LDH-0042",
        "--level",
        "L4-L5",
        "--label",
        "1",
        "--store-deidentified",
        str(store),
        "--json",
    )
    assert code == 0, err
    mri_id = json.loads(out)["mri"][0]["id"]
    seg_file = next(p for p in store.glob("*.dcm") if pydicom.dcmread(p).Modality == "SEG")
    sr_path = site["tmp"] / "out" / "sr.dcm"
    code, out, err = _run(
        capsys,
        monkeypatch,
        "registry",
        "export-sr",
        str(seg_file),
        "--db",
        db,
        "--mri",
        str(mri_id),
        "--out",
        str(sr_path),
        "--json",
    )
    assert code == 0, err
    assert json.loads(out)["unit"] == "mm3"
    from resorb.interop.sr import read_volumes

    vols = read_volumes(hd.sr.srread(sr_path))
    assert vols[0]["volume"] == pytest.approx(15.0) and vols[0]["unit"] == "mm3"
    assert vols[0]["seg_sop_instance_uid"] == str(pydicom.dcmread(seg_file).SOPInstanceUID)
    sr = pydicom.dcmread(sr_path)
    assert PATIENT_NAME not in repr(sr) and PATIENT_ID not in repr(sr)
    fhir_path = site["tmp"] / "out" / "bundle.json"
    code, out, err = _run(
        capsys,
        monkeypatch,
        "registry",
        "export-fhir",
        "--db",
        db,
        "--patient",
        "LDH-0042",
        "--out",
        str(fhir_path),
        "--json",
    )
    assert code == 0, err
    bundle = Bundle.model_validate_json(fhir_path.read_text())
    kinds = [e.resource.__resource_type__ for e in bundle.entry]
    assert kinds == ["CodeSystem", "Patient", "Observation", "DiagnosticReport"]
    code, _, err = _run(
        capsys,
        monkeypatch,
        "registry",
        "export-sr",
        str(seg_file),
        "--db",
        db,
        "--mri",
        "999",
        "--out",
        str(sr_path),
    )
    assert code == 2 and "mri" in err


def test_single_segment_highdicom_seg_is_imported(site, tmp_path):
    images = [pydicom.dcmread(p) for p in sorted((site["base"] / "mr").glob("*.dcm"))]
    path = tmp_path / "one.dcm"
    _one_segment_seg(images).save_as(path)
    out = import_dicom(site["reg"], path, patient_id=site["patient"].id, actor="radiographer")
    assert out["mri"][0]["volume_mm3"] == pytest.approx(60 * VOXEL_MM3)


def test_a_future_study_date_is_refused_before_shifting(site, tmp_path):
    """The study date is checked as recorded, not after the 30-730 day backward shift
    (which would make a date up to 30 days ahead look past); the date itself is not
    echoed (it identifies), and nothing is written."""
    reg, pid = site["reg"], site["patient"].id
    ahead = dt.date.today() + dt.timedelta(days=10)
    series = make_mr_series(tmp_path / "ahead" / "mr", study_date=ahead)
    make_seg(series, tmp_path / "ahead" / "seg.dcm")
    with pytest.raises(InvalidInputError, match=r"^StudyDate: is in the future") as err:
        import_dicom(reg, tmp_path / "ahead", patient_id=pid, label=1, actor="radiographer")
    assert ahead.strftime("%Y%m%d") not in str(err.value)
    assert ahead.isoformat() not in str(err.value)
    assert reg.list_mri(pid) == []
    # A series without SEG is checked too.
    with pytest.raises(InvalidInputError, match="StudyDate"):
        import_dicom(reg, tmp_path / "ahead" / "mr", patient_id=pid, actor="radiographer")
    assert reg.list_mri(pid) == []


def test_a_seg_with_two_segments_imported_without_label_is_refused_not_added_up(
    site, capsys, monkeypatch
):
    """The factory's SEG holds the herniation (segment 1, 15 mm3) and another structure
    (segment 2, 2 mm3). Without --label the import added both (17 mm3, exit 0); now it
    asks which segment is the herniation (exit 2, one line naming the field and the
    segments, not their free-text labels), and writes nothing."""
    db = f"sqlite:///{site['db']}"
    code, out, err = _run(
        capsys,
        monkeypatch,
        "registry",
        "import-dicom",
        str(site["base"]),
        "--db",
        db,
        "--patient",
        "LDH-0042",
        "--level",
        "L5-S1",
        "--json",
    )
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "error: label: is needed" in err
    assert "segments 1, 2" in err and "herniation" in err
    assert "Traceback" not in err
    assert site["reg"].list_mri(site["patient"].id) == []
    code, out, err = _run(
        capsys,
        monkeypatch,
        "registry",
        "import-dicom",
        str(site["base"]),
        "--db",
        db,
        "--patient",
        "LDH-0042",
        "--level",
        "L5-S1",
        "--label",
        "1",
        "--json",
    )
    assert code == 0, err
    assert json.loads(out)["mri"][0]["volume_mm3"] == pytest.approx(60 * VOXEL_MM3)


def test_a_seg_whose_one_segment_is_imported_without_label_records_that_segment(site):
    """One segment holding voxels: measured without --label, and recorded as the segment
    measured, so that export-sr can refer to it."""
    from resorb.registry._dicom import volume_sr

    reg, pid = site["reg"], site["patient"].id
    images = [pydicom.dcmread(p) for p in sorted((site["base"] / "mr").glob("*.dcm"))]
    seg_path = site["tmp"] / "one_segment.dcm"
    _one_segment_seg(images).save_as(seg_path)
    out = import_dicom(
        reg,
        seg_path,
        patient_id=pid,
        level="L5-S1",
        actor="radiographer",
        store_dir=site["tmp"] / "deid",
    )
    (mri,) = out["mri"]
    assert mri["volume_mm3"] == pytest.approx(60 * VOXEL_MM3)
    info = reg.patient_timeline(pid)["mri"][0]["series_info"]
    assert info["segment"] == 1
    stored = pydicom.dcmread(site["tmp"] / "deid" / f"{info['SOPInstanceUID']}.dcm")
    _sr, meta = volume_sr(reg, mri["id"], stored, actor="radiographer")
    assert meta["segment"] == 1 and meta["volume_mm3"] == pytest.approx(60 * VOXEL_MM3)


def _one_segment_seg(images):
    import highdicom as hd
    from pydicom.sr.codedict import codes

    mask = np.zeros((len(images), 16, 16), dtype=bool)
    mask[2:5, 4:9, 6:10] = True
    desc = hd.seg.SegmentDescription(
        segment_number=1,
        segment_label="herniation",
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=codes.SCT.Lesion,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
    )
    return hd.seg.Segmentation(
        source_images=images,
        pixel_array=mask,
        segmentation_type="BINARY",
        segment_descriptions=[desc],
        series_instance_uid=hd.UID(),
        series_number=6,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="resorb synthetic",
        manufacturer_model_name="test",
        software_versions="0",
        device_serial_number="1",
    )
