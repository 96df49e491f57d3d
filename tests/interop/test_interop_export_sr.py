"""``resorb registry export-sr``: the right SEG and segment, one Tracking UID per herniation,
flags that agree with the FHIR export, a procedure code from CID 100."""

from __future__ import annotations

import datetime as dt
import json

import pydicom
import pytest
from dicom_factory import make_mr_series, make_seg

from cli_helpers import run_cli
from resorb.registry import Registry
from resorb.registry._dicom import import_dicom


@pytest.fixture
def registry_with_two_studies(tmp_path):
    db = tmp_path / "reg.db"
    reg = Registry(f"sqlite:///{db}")
    reg.upgrade()
    p = reg.create_patient(
        {"pseudonym": "LDH-0200", "birth_year": 1965, "sex": "male"}, actor="test"
    )
    store = tmp_path / "stored"
    ids, segs = [], []
    for k, day in enumerate((dt.date(2025, 1, 10), dt.date(2025, 7, 2))):
        folder = tmp_path / f"study{k}"
        series = make_mr_series(folder / "mr", study_date=day, markers=False)
        make_seg(series, folder / "seg.dcm", markers=False)
        out = import_dicom(
            reg, folder, patient_id=p.id, level="L4-L5", label=1, actor="test", store_dir=store
        )
        row = out["mri"][0]
        ids.append(row["id"])
        uid = reg.patient_timeline(p.id)["mri"][k]["series_info"]["SOPInstanceUID"]
        segs.append(store / f"{uid}.dcm")
    reg.close()
    return {"db": f"sqlite:///{db}", "mri": ids, "segs": segs, "tmp": tmp_path}


def _export(capsys, site, seg, mri, *extra):
    out = site["tmp"] / f"sr-{mri}-{seg.stem[-6:]}.dcm"
    code, stdout, err = run_cli(
        capsys,
        "registry",
        "export-sr",
        str(seg),
        "--db",
        site["db"],
        "--mri",
        str(mri),
        "--out",
        str(out),
        "--json",
        *extra,
    )
    return code, (json.loads(stdout) if code == 0 else None), err, out


def _tracking_uids(ds):
    found = []

    def walk(items):
        for item in items:
            if (
                item.ValueType == "UIDREF" and item.ConceptNameCodeSequence[0].CodeValue == "112040"
            ):  # DCM Tracking Unique Identifier
                found.append(str(item.UID))
            walk(item.get("ContentSequence", []))

    walk(ds.ContentSequence)
    return found


def test_baseline_and_follow_up_srs_of_one_herniation_share_one_tracking_uid(
    registry_with_two_studies, capsys
):
    site = registry_with_two_studies
    results = []
    for seg, mri in zip(site["segs"], site["mri"], strict=True):
        code, data, err, path = _export(capsys, site, seg, mri)
        assert code == 0, err
        results.append((data, pydicom.dcmread(path)))
    (a, sr_a), (b, sr_b) = results
    assert a["tracking_uid"] == b["tracking_uid"]
    assert _tracking_uids(sr_a) == _tracking_uids(sr_b) == [a["tracking_uid"]]
    # exporting again gives the same Tracking UID (a new SR instance, the same herniation)
    code, again, _, _ = _export(capsys, site, site["segs"][0], site["mri"][0])
    assert again["tracking_uid"] == a["tracking_uid"]
    assert again["sop_instance_uid"] != a["sop_instance_uid"]


def test_sr_is_final_like_the_fhir_status_and_reports_a_cid_100_procedure(
    registry_with_two_studies, capsys
):
    site = registry_with_two_studies
    code, _, err, path = _export(capsys, site, site["segs"][0], site["mri"][0])
    assert code == 0, err
    sr = pydicom.dcmread(path)
    assert (sr.PreliminaryFlag, sr.CompletionFlag, sr.VerificationFlag) == (
        "FINAL",
        "COMPLETE",
        "UNVERIFIED",
    )
    procedures = [
        item.ConceptCodeSequence[0]
        for item in sr.ContentSequence
        if item.ConceptNameCodeSequence[0].CodeValue == "121058"
    ]  # Procedure reported
    assert [(c.CodeValue, c.CodingSchemeDesignator) for c in procedures] == [("25056-3", "LN")]


def test_export_sr_refuses_a_seg_that_does_not_belong_to_the_mri_study(
    registry_with_two_studies, capsys
):
    """The review found the follow-up SEG accepted for the baseline MRI (reporting the
    baseline volume on the follow-up segmentation)."""
    site = registry_with_two_studies
    code, _, err, path = _export(capsys, site, site["segs"][1], site["mri"][0])
    assert code == 2 and not path.exists()
    assert len(err.strip().splitlines()) == 1 and "seg" in err and "measured on" in err


def test_export_sr_refuses_a_segment_other_than_the_one_measured(registry_with_two_studies, capsys):
    site = registry_with_two_studies
    code, _, err, _ = _export(capsys, site, site["segs"][0], site["mri"][0], "--segment", "2")
    assert code == 2 and "segment" in err and "not the segment measured" in err
    code, _, err, _ = _export(capsys, site, site["segs"][0], site["mri"][0], "--segment", "7")
    assert code == 2 and "not a segment of the SEG" in err
