"""MRI from a mask file in the web app: NIfTI, NRRD and DICOM SEG uploads, measured and
kept de-identified; multi-label masks ask for the label; limits and bad files refused."""

from __future__ import annotations

import datetime as dt
import gzip
import sqlite3

import nibabel as nib
import nrrd
import numpy as np
import pydicom
import pytest
from _webtools import SECRET, login, make_client
from bs4 import BeautifulSoup

from resorb.web import create_app

NAME_IN_FILE = "DOE^JANE^MARKER"


def _error_at(html: str, field: str) -> str:
    box = BeautifulSoup(html, "html.parser").find(id=f"e-{field}")
    assert box is not None, f"no message beside {field}"
    return box.get_text(" ", strip=True)


def _ellipsoid(shape=(24, 20, 12), radii=(8.0, 6.0, 4.0)) -> np.ndarray:
    idx = np.indices(shape).astype(float)
    centre = [(n - 1) / 2 for n in shape]
    r2 = sum(((idx[i] - centre[i]) / radii[i]) ** 2 for i in range(3))
    return (r2 <= 1.0).astype(np.uint8)


@pytest.fixture
def doc(app):
    with make_client(app) as c:
        c.csrf = login(c, "doc")
        yield c


@pytest.fixture
def pid(doc, registry):
    return registry.create_patient(
        {"pseudonym": "MASK-1", "birth_year": 1970, "sex": "female"}, actor="doc"
    ).id


def _post(client, pid, path, *, name=None, **fields):
    data = {"csrf_token": client.csrf, "date": "2026-02-20", "level": "L5-S1", **fields}
    with open(path, "rb") as fh:
        return client.post(
            f"/patients/{pid}/mri/mask",
            data=data,
            files={"mask": (name or path.name, fh, "application/octet-stream")},
        )


def _db_text(db_url: str) -> str:
    path = db_url.removeprefix("sqlite:///")
    con = sqlite3.connect(path)
    try:
        rows = []
        for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'"):
            rows.extend(repr(r) for r in con.execute(f'SELECT * FROM "{table}"'))
    finally:
        con.close()
    return "\n".join(rows)


def test_nifti_mask_upload_stores_its_volume_and_a_deidentified_copy(
    doc, pid, registry, db_url, tmp_path
):
    """Peer: nibabel's own affine; volume = voxel count x |det(affine[:3, :3])|."""
    labels = _ellipsoid()
    affine = np.diag([0.4, 0.5, 3.0, 1.0])
    img = nib.Nifti1Image(labels, affine)
    img.header["descrip"] = f"{NAME_IN_FILE} 19700412".encode()
    img.header["aux_file"] = b"PID-778899"
    path = tmp_path / "DOE_JANE_PID-778899.nii.gz"
    nib.save(img, path)
    expected = int(labels.sum()) * abs(np.linalg.det(affine[:3, :3]))

    r = _post(doc, pid, path)
    assert r.status_code == 303, r.text
    page = doc.get(r.headers["location"]).text
    assert f"{expected:.1f}" in page.replace("\u202f", " ")  # the volume is shown
    (mri,) = registry.list_mri(pid)
    assert mri.source == "mask" and mri.date == dt.date(2026, 2, 20) and mri.level == "L5-S1"
    assert mri.volume_mm3 == pytest.approx(expected)
    info = mri.series_info
    assert info["label"] == 1 and info["voxel_count"] == int(labels.sum())

    store = tmp_path / "resorb.db.objects"
    copy = store / info["mask_file"]
    assert copy.is_file()
    raw = gzip.decompress(copy.read_bytes())
    for secret in (b"DOE", b"JANE", b"778899", b"19700412"):
        assert secret not in raw
    back = nib.load(copy)
    assert np.array_equal(np.asarray(back.dataobj), labels)
    assert np.allclose(back.affine, affine)
    assert "DOE_JANE" not in _db_text(db_url) and "PID-778899" not in _db_text(db_url)


def test_multilabel_slicer_nrrd_lists_each_label_and_stores_the_chosen_one(
    doc, pid, registry, tmp_path
):
    """A Slicer .seg.nrrd with disc (1) and herniation (2): no guess, each volume listed."""
    labels = np.zeros((20, 20, 8), dtype=np.uint8)
    labels[2:12, 2:12, 1:6] = 1  # 500 voxels
    labels[14:18, 5:9, 2:5] = 2  # 48 voxels
    header = {
        "space": "left-posterior-superior",
        "space directions": np.diag([0.5, 0.5, 4.0]),
        "space origin": np.zeros(3),
        "Segment0_LabelValue": "1",
        "Segment0_Name": "disc",
        "Segment1_LabelValue": "2",
        "Segment1_Name": "herniation",
        "content": f"{NAME_IN_FILE} study",
    }
    path = tmp_path / "case.seg.nrrd"
    nrrd.write(str(path), labels, header, index_order="F")

    r = _post(doc, pid, path)
    assert r.status_code == 422
    assert "several labels" in _error_at(r.text, "label")
    table = BeautifulSoup(r.text, "html.parser").find("table").get_text(" ", strip=True)
    assert "herniation" in table and "disc" in table
    assert "48.0 mm³" in table and "500.0 mm³" in table  # 48 x 1 mm3, 500 x 1 mm3
    assert registry.list_mri(pid) == []

    r = _post(doc, pid, path, label="2")
    assert r.status_code == 303, r.text
    (mri,) = registry.list_mri(pid)
    assert mri.volume_mm3 == pytest.approx(48.0)
    assert mri.series_info["labels_present"] == [1, 2] and mri.series_info["label"] == 2
    copy = tmp_path / "resorb.db.objects" / mri.series_info["mask_file"]
    assert b"DOE" not in gzip.decompress(copy.read_bytes())


def test_dicom_seg_upload_is_deidentified_and_dated_by_its_study(doc, pid, registry, tmp_path):
    from interop.dicom_factory import (
        BIRTH_DATE,
        PATIENT_ID,
        PATIENT_NAME,
        make_mr_series,
        make_seg,
    )

    series = make_mr_series(tmp_path / "mr", study_date=dt.date(2025, 3, 14))
    seg = make_seg(series, tmp_path / "seg.dcm")
    # Sent without a file-name suffix (as some PACS exports are): recognised by its
    # DICOM preamble.
    r = _post(doc, pid, seg, name="IM000123", label="1")
    assert r.status_code == 303, r.text
    (mri,) = registry.list_mri(pid)
    assert mri.source == "dicom-seg" and mri.volume_mm3 == pytest.approx(15.0)
    assert mri.date == dt.date(2025, 3, 14)  # the study date, shifted back for the clinician
    stored = list((tmp_path / "resorb.db.objects" / "dicom").glob("*.dcm"))
    assert len(stored) == 1
    ds = pydicom.dcmread(stored[0])
    assert ds.PatientIdentityRemoved == "YES"
    text = stored[0].read_bytes()
    for secret in (PATIENT_NAME, PATIENT_ID, BIRTH_DATE):
        assert secret.encode() not in text
    # The same SEG again is recognised: nothing added, and the page says so.
    again = _post(doc, pid, seg, label="1")
    assert again.status_code == 303
    assert "imported before" in doc.get(again.headers["location"]).text
    assert len(registry.list_mri(pid)) == 1


def test_mask_upload_over_the_size_limit_is_refused(db_url, registry, clock, tmp_path):
    app = create_app(db_url, secret_key=SECRET, registry=registry, clock=clock, mask_max_bytes=4096)
    with make_client(app) as c:
        c.csrf = login(c, "doc")
        pid = registry.create_patient(
            {"pseudonym": "MASK-2", "birth_year": 1970, "sex": "male"}, actor="doc"
        ).id
        path = tmp_path / "big.nii"
        nib.save(nib.Nifti1Image(np.ones((32, 32, 32), np.uint8), np.eye(4)), path)
        r = _post(c, pid, path)
    assert r.status_code == 413
    assert "larger than" in r.text
    assert registry.list_mri(pid) == []


def test_a_file_that_is_not_a_mask_is_refused_at_the_field(doc, pid, registry, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not an image")
    r = _post(doc, pid, path)
    assert r.status_code == 422
    assert "not a NIfTI, NRRD or DICOM SEG" in _error_at(r.text, "mask")
    broken = tmp_path / "broken.nii.gz"
    broken.write_bytes(b"\x1f\x8b" + b"\x00" * 200)
    r = _post(doc, pid, broken)
    assert r.status_code == 422
    message = _error_at(r.text, "mask")
    assert "Traceback" not in r.text and str(tmp_path) not in message
    assert registry.list_mri(pid) == []


def test_empty_mask_is_refused(doc, pid, registry, tmp_path):
    path = tmp_path / "empty.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((8, 8, 4), np.uint8), np.eye(4)), path)
    r = _post(doc, pid, path)
    assert r.status_code == 422 and "no labelled voxels" in _error_at(r.text, "mask")


def test_researcher_cannot_upload_a_mask(app, pid, tmp_path):
    path = tmp_path / "m.nii.gz"
    nib.save(nib.Nifti1Image(_ellipsoid(), np.eye(4)), path)
    with make_client(app) as c:
        c.csrf = login(c, "res")
        assert c.get(f"/patients/{pid}/mri/mask").status_code == 403
        assert _post(c, pid, path).status_code == 403


def test_mask_upload_without_the_csrf_token_is_refused(doc, pid, registry, tmp_path):
    path = tmp_path / "m.nii.gz"
    nib.save(nib.Nifti1Image(_ellipsoid(), np.eye(4)), path)
    with open(path, "rb") as fh:
        r = doc.post(
            f"/patients/{pid}/mri/mask",
            data={"date": "2026-02-20"},
            files={"mask": ("m.nii.gz", fh, "application/gzip")},
        )
    assert r.status_code == 403
    assert registry.list_mri(pid) == []


def test_mask_with_a_future_mri_date_is_refused_at_the_date_and_nothing_is_kept(
    doc, pid, registry, tmp_path
):
    path = tmp_path / "m.nii.gz"
    nib.save(nib.Nifti1Image(_ellipsoid(), np.eye(4)), path)
    future = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    r = _post(doc, pid, path, date=future)
    assert r.status_code == 422
    assert "future" in _error_at(r.text, "date")
    assert registry.list_mri(pid) == []
    masks = tmp_path / "resorb.db.objects" / "masks"
    assert not masks.exists() or list(masks.iterdir()) == []
