"""Import from PACS in the web app: search a real Orthanc (DICOMweb) for a patient's
studies, import one de-identified; clinicians only, CSRF-checked, PACS failures shown."""

from __future__ import annotations

import sqlite3

import pydicom
import pytest
from _webtools import SECRET, login, make_client
from bs4 import BeautifulSoup

from resorb.interop.dicomweb import PacsClient, PacsConfig
from resorb.web import create_app


@pytest.fixture
def pacs_config() -> PacsConfig:
    from interop.pacs_helpers import orthanc_url

    return PacsConfig(orthanc_url())


@pytest.fixture
def study(pacs_config, tmp_path):
    from interop.pacs_helpers import unique_study

    s = unique_study(tmp_path / "pacs-study")
    PacsClient(pacs_config).store([*s["series"], s["seg"]])
    return s


def _app(db_url, registry, clock, pacs):
    return create_app(db_url, secret_key=SECRET, registry=registry, clock=clock, pacs=pacs)


@pytest.fixture
def pid(registry):
    return registry.create_patient(
        {"pseudonym": "PACS-WEB-1", "birth_year": 1970, "sex": "female"}, actor="doc"
    ).id


@pytest.mark.pacs
def test_clinician_finds_the_patients_study_on_the_pacs_and_imports_it_deidentified(
    db_url, registry, clock, pacs_config, study, pid, tmp_path, caplog
):
    import logging

    caplog.set_level(logging.DEBUG)
    app = _app(db_url, registry, clock, pacs_config)
    with make_client(app) as c:
        c.csrf = login(c, "doc")
        page = c.post(
            f"/patients/{pid}/pacs", data={"csrf_token": c.csrf, "patient_id": study["patient_id"]}
        )
        assert page.status_code == 200, page.text
        soup = BeautifulSoup(page.text, "html.parser")
        forms = soup.select("form.inline-import")
        assert len(forms) == 1
        row = forms[0].find_parent("tr").get_text(" ", strip=True)
        assert study["patient_id"] in row and "MR, SEG" in row
        uid = forms[0].find("input", attrs={"name": "study_uid"})["value"]
        assert uid == study["study_uid"]

        r = c.post(
            f"/patients/{pid}/pacs/import",
            data={"csrf_token": c.csrf, "study_uid": uid, "level": "L4-L5", "label": "1"},
        )
        assert r.status_code == 303, r.text
        after = c.get(r.headers["location"]).text
        # Imported twice (a double click): recognised, not added again.
        r2 = c.post(
            f"/patients/{pid}/pacs/import",
            data={"csrf_token": c.csrf, "study_uid": uid, "level": "L4-L5", "label": "1"},
        )
        assert r2.status_code == 303, r2.text
        again = c.get(r2.headers["location"]).text
    assert "Imported from the PACS: 9 objects de-identified; MRI 15 mm³." in after
    assert "already in the registry, not added again" in again
    (mri,) = registry.list_mri(pid)
    assert mri.source == "dicom-seg" and mri.level == "L4-L5"
    assert mri.volume_mm3 == pytest.approx(15.0)
    stored = list((tmp_path / "resorb.db.objects" / "dicom").glob("*.dcm"))
    assert len(stored) == 9
    assert {pydicom.dcmread(p, stop_before_pixels=True).PatientIdentityRemoved for p in stored} == {
        "YES"
    }
    con = sqlite3.connect(db_url.removeprefix("sqlite:///"))
    text = "\n".join(
        repr(r)
        for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'")
        for r in con.execute(f'SELECT * FROM "{t}"')
    )
    con.close()
    assert [i for i in study["identifiers"] if i in text] == []
    # What the app and the PACS client log (the test client's own request log aside).
    logged = "\n".join(
        r.getMessage()
        for r in caplog.records
        if r.name.startswith(("resorb", "dicomweb_client")) and r.levelno >= logging.INFO
    )
    assert "PACS search by doc" in logged
    assert [i for i in study["identifiers"] if i in logged] == []


@pytest.mark.pacs
def test_pacs_import_without_the_csrf_token_is_refused(
    db_url, registry, clock, pacs_config, study, pid
):
    app = _app(db_url, registry, clock, pacs_config)
    with make_client(app) as c:
        login(c, "doc")
        r = c.post(
            f"/patients/{pid}/pacs/import", data={"study_uid": study["study_uid"], "label": "1"}
        )
    assert r.status_code == 403
    assert registry.list_mri(pid) == []


def test_researcher_cannot_search_the_pacs(db_url, registry, clock, pid):
    app = _app(db_url, registry, clock, PacsConfig("http://127.0.0.1:9/dicom-web"))
    with make_client(app) as c:
        c.csrf = login(c, "res")
        assert c.get(f"/patients/{pid}/pacs").status_code == 403
        assert (
            c.post(
                f"/patients/{pid}/pacs", data={"csrf_token": c.csrf, "patient_id": "X"}
            ).status_code
            == 403
        )
        r = c.post(
            f"/patients/{pid}/pacs/import",
            data={"csrf_token": c.csrf, "study_uid": "1.2.3", "label": "1"},
        )
        assert r.status_code == 403


def test_pacs_page_without_a_configured_pacs_says_so(db_url, registry, clock, pid):
    app = _app(db_url, registry, clock, None)
    with make_client(app) as c:
        csrf = login(c, "doc")
        r = c.post(f"/patients/{pid}/pacs", data={"csrf_token": csrf, "patient_id": "X"})
    assert r.status_code == 200 and "No PACS is configured" in r.text


def test_unreachable_pacs_is_one_message_on_the_page(db_url, registry, clock, pid):
    app = _app(
        db_url,
        registry,
        clock,
        PacsConfig("http://user:pw-x7q2@127.0.0.1:9/dicom-web", timeout_s=2),
    )
    with make_client(app) as c:
        csrf = login(c, "doc")
        r = c.post(f"/patients/{pid}/pacs", data={"csrf_token": csrf, "patient_id": "X"})
    assert r.status_code == 502
    alert = BeautifulSoup(r.text, "html.parser").find(class_="notice bad").get_text()
    assert "cannot connect" in alert and "pw-x7q2" not in r.text


def test_pacs_search_without_a_criterion_lists_nothing(db_url, registry, clock, pid):
    """The form alone, or sent empty, does not query the PACS (no search of the whole
    archive); a search without the CSRF token is refused."""
    app = _app(db_url, registry, clock, PacsConfig("http://127.0.0.1:9/dicom-web"))
    with make_client(app) as c:
        csrf = login(c, "doc")
        r = c.get(f"/patients/{pid}/pacs")
        assert r.status_code == 200 and "found" not in r.text
        r = c.post(f"/patients/{pid}/pacs", data={"csrf_token": csrf})
        assert r.status_code == 200 and "found" not in r.text
        assert c.post(f"/patients/{pid}/pacs", data={"patient_id": "X"}).status_code == 403


def test_pacs_search_values_stay_out_of_urls(db_url, registry, clock, pid):
    """The search form posts: the hospital ID never appears in a URL (access logs,
    browser history)."""
    app = _app(db_url, registry, clock, PacsConfig("http://127.0.0.1:9/dicom-web"))
    with make_client(app) as c:
        login(c, "doc")
        form = (
            BeautifulSoup(c.get(f"/patients/{pid}/pacs").text, "html.parser")
            .find("input", attrs={"name": "patient_id"})
            .find_parent("form")
        )
    assert form["method"] == "post"


@pytest.mark.pacs
def test_failed_import_says_why_beside_the_search_results(
    db_url, registry, clock, pacs_config, study, pid
):
    """Segment 7 does not exist in the SEG: nothing stored, the reason and the results shown."""
    app = _app(db_url, registry, clock, pacs_config)
    with make_client(app) as c:
        c.csrf = login(c, "doc")
        r = c.post(
            f"/patients/{pid}/pacs/import",
            data={
                "csrf_token": c.csrf,
                "study_uid": study["study_uid"],
                "label": "7",
                "patient_id": study["patient_id"],
            },
        )
    assert r.status_code == 422
    soup = BeautifulSoup(r.text, "html.parser")
    message = soup.find(id="e-import").get_text(" ", strip=True)
    assert message.startswith("The study was not imported") and "7" in message
    assert len(soup.select("form.inline-import")) == 1  # the results are still there
    assert registry.list_mri(pid) == []
