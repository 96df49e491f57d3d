"""Stored values outside the plausible bounds (rows written before the bounds were
enforced) never take a page down, show as invalid, and can be corrected or
deleted from the web app with an audit entry (issue 11, item 1)."""

from __future__ import annotations

import datetime as dt

import pytest
from _webtools import auth, csrf_of, login, make_client
from sqlalchemy import insert, update

from cli_helpers import run_cli
from resorb.registry import _models as m


@pytest.fixture
def legacy_patient(registry) -> int:
    """A patient whose onset, visit and therapy are dated 0001-01-05 and whose MRI
    volumes are 1e308 mm3 (one from diameters of 1e120 mm), written straight into
    the database as an older version could have stored them."""
    p = registry.create_patient(
        {"pseudonym": "LEGACY-1", "birth_year": 1980, "sex": "male"}, actor="doc"
    )
    mri = registry.add_mri(
        p.id, {"date": "2026-01-01", "volume_mm3": 900, "level": "L4-L5"}, actor="doc"
    )
    registry.add_findings(
        p.id, {"level": "L4-L5", "morphology": "extrusion"}, mri_id=mri.id, actor="doc"
    )
    with registry.engine.begin() as c:
        c.execute(update(m.Patient).where(m.Patient.id == p.id).values(onset_date=dt.date(1, 1, 5)))
        c.execute(insert(m.Visit).values(patient_id=p.id, date=dt.date(1, 1, 5), red_flags=[]))
        c.execute(
            insert(m.MRIStudy).values(
                patient_id=p.id,
                date=dt.date(2026, 2, 1),
                date_is_shifted=False,
                level="L4-L5",
                source="manual",
                method="reported",
                volume_mm3=1e308,
            )
        )
        c.execute(
            insert(m.MRIStudy).values(
                patient_id=p.id,
                date=dt.date(2026, 3, 1),
                date_is_shifted=False,
                level="L4-L5",
                source="diameters",
                method="ellipsoid",
                volume_mm3=1e308,
                diameters_mm=[1e120, 1.0, 1.0],
            )
        )
        c.execute(
            insert(m.TherapyCourse).values(patient_id=p.id, name="nsaid", start=dt.date(1, 1, 5))
        )
    registry.create_patient(
        {"pseudonym": "FINE-1", "birth_year": 1970, "sex": "female"}, actor="doc"
    )
    return p.id


def test_one_early_date_does_not_break_the_research_side_for_everyone(app, client, legacy_patient):
    """Finding: a visit dated 0001-01-05 made /api/research/patients, /research/patients,
    /cohort and the pseudonymised export fail for every user (overflowing date shift)."""
    h = auth(app, "res")
    r = client.get("/api/research/patients", headers=h)
    assert r.status_code == 200
    rows = {row["pseudonym"]: row for row in r.json()}
    bad = rows["LEGACY-1"]
    assert rows["FINE-1"]["invalid"] == []
    assert {"onset_date", "visits[0].date", "therapies[0].start"} <= set(bad["invalid"])
    assert bad["onset_date"] is None and bad["visits"][0]["date"] is None
    assert client.get("/api/research/patients/LEGACY-1", headers=h).status_code == 200
    with make_client(app) as c:
        login(c, "res")
        for path in ("/research/patients", "/research/patients/LEGACY-1", "/cohort"):
            assert c.get(path).status_code == 200, path


def test_pseudonymised_export_survives_a_legacy_early_date(
    db_url, legacy_patient, tmp_path, capsys
):
    code, _, err = run_cli(
        capsys,
        "registry",
        "export",
        "--db",
        db_url,
        "--out",
        str(tmp_path / "out"),
        "--pseudonymised",
        "--json",
    )
    assert code == 0, err


def test_huge_stored_volumes_show_as_invalid_and_pages_still_render(app, client, legacy_patient):
    """Finding: volume_mm3 1e308 or diameters 1e120 broke the patient, assessment, PDF,
    timeline and cohort pages."""
    h = auth(app, "res")
    bad = {row["pseudonym"]: row for row in client.get("/api/research/patients", headers=h).json()}[
        "LEGACY-1"
    ]
    assert {"mri[1].volume_mm3", "mri[2].volume_mm3", "mri[2].diameters_mm"} <= set(bad["invalid"])
    h = auth(app, "doc")
    assert client.get(f"/api/patients/{legacy_patient}/timeline", headers=h).status_code == 200
    r = client.get(f"/api/patients/{legacy_patient}/assessment", headers=h)
    assert r.status_code == 422 and "volume_mm3" in r.json()["error"]
    with make_client(app) as c:
        login(c, "doc")
        for path in (
            f"/patients/{legacy_patient}",
            f"/patients/{legacy_patient}/assessment",
            f"/patients/{legacy_patient}/assessment.pdf",
            "/patients",
            f"/patients/{legacy_patient}/corrections",
        ):
            assert c.get(path).status_code in (200, 422), path
        page = c.get(f"/patients/{legacy_patient}/corrections").text
        assert page.count("invalid:") >= 4


def test_wrong_records_can_be_deleted_from_the_web_app_with_an_audit_entry(
    app, registry, legacy_patient
):
    records = registry.patient_records(legacy_patient)
    bad_mri = [r for r in records.mri if r.volume_mm3 and r.volume_mm3 > 1e6]
    bad_visit = records.visits[0]
    bad_therapy = records.therapies[0]
    with make_client(app) as c:
        login(c, "doc")
        base = f"/patients/{legacy_patient}/corrections"
        for kind, rid in [("mri", r.id) for r in bad_mri] + [
            ("visit", bad_visit.id),
            ("therapy", bad_therapy.id),
        ]:
            token = csrf_of(c.get(base).text)
            r = c.post(f"{base}/{kind}/{rid}/delete", data={"csrf_token": token})
            assert r.status_code == 303, (kind, r.text)
        token = csrf_of(c.get(base).text)
        r = c.post(
            f"{base}/patient",
            data={
                "csrf_token": token,
                "birth_year": "1980",
                "sex": "male",
                "onset_date": "2025-12-01",
            },
        )
        assert r.status_code == 303
        # The researcher's view is clean now, and the assessment computes.
        h = auth(app, "doc")
        assert c.get(f"/api/patients/{legacy_patient}/assessment", headers=h).status_code == 200
    deleted = [a for a in registry.audit_log(table="mri_studies") if a["action"] == "delete"]
    assert {a["row_id"] for a in deleted} == {str(r.id) for r in bad_mri}
    assert all(a["actor"] == "doc" for a in deleted)
    upd = [a for a in registry.audit_log(table="patients") if a["action"] == "update"]
    assert upd and upd[-1]["actor"] == "doc"


def test_a_record_of_another_patient_cannot_be_deleted_through_this_one(
    app, registry, legacy_patient
):
    other = registry.find_patient("FINE-1")
    v = registry.add_visit(other.id, {"date": "2026-01-05", "leg_pain_nrs": 3}, actor="doc")
    with make_client(app) as c:
        login(c, "doc")
        base = f"/patients/{legacy_patient}/corrections"
        token = csrf_of(c.get(base).text)
        r = c.post(f"{base}/visit/{v.id}/delete", data={"csrf_token": token})
        assert r.status_code == 404
    assert [x.id for x in registry.list_visits(other.id)] == [v.id]


def test_researchers_cannot_open_the_corrections_page(app, legacy_patient):
    with make_client(app) as c:
        login(c, "res")
        assert c.get(f"/patients/{legacy_patient}/corrections").status_code == 403
