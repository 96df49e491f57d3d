"""Pages: forms keep input and show the message at the field; timeline, assessment, PDF,
report, cohort dashboard (checked against lifelines), patient search, user admin."""

from __future__ import annotations

import io
import math
import re

import pytest
from _webtools import login, make_client
from bs4 import BeautifulSoup


def _error_at(html: str, field: str) -> str:
    """The message shown beside ``field`` (its ``.error`` element)."""
    soup = BeautifulSoup(html, "html.parser")
    box = soup.find(id=f"e-{field}")
    assert box is not None, f"no message beside {field}"
    return box.get_text(" ", strip=True)


def _value_of(html: str, field: str) -> str | None:
    soup = BeautifulSoup(html, "html.parser")
    el = soup.find(attrs={"name": field})
    if el is None:
        return None
    if el.name == "select":
        opt = el.find("option", selected=True)
        return opt["value"] if opt else None
    return el.get("value")


@pytest.fixture
def doc(app):
    with make_client(app) as c:
        c.csrf = login(c, "doc")
        yield c


def test_new_patient_form_shows_errors_beside_fields_and_keeps_input(doc, registry):
    r = doc.post(
        "/patients/new",
        data={
            "csrf_token": doc.csrf,
            "pseudonym": "FORM-1",
            "birth_year": "nineteen",
            "sex": "alien",
        },
    )
    assert r.status_code == 422
    assert "integer" in _error_at(r.text, "birth_year")
    assert "female" in _error_at(r.text, "sex")  # the allowed values are named
    assert _value_of(r.text, "pseudonym") == "FORM-1"
    assert _value_of(r.text, "birth_year") == "nineteen"
    assert registry.find_patient("FORM-1") is None
    ok = doc.post(
        "/patients/new",
        data={"csrf_token": doc.csrf, "pseudonym": "FORM-1", "birth_year": "1961", "sex": "male"},
    )
    assert ok.status_code == 303
    rec = registry.find_patient("FORM-1")
    assert ok.headers["location"] == f"/patients/{rec.id}"


def test_duplicate_pseudonym_is_reported_at_the_field(doc, patient_with_series):
    r = doc.post(
        "/patients/new",
        data={
            "csrf_token": doc.csrf,
            "pseudonym": "WEB-001",
            "birth_year": "1980",
            "sex": "female",
        },
    )
    assert r.status_code == 422 and "already exists" in _error_at(r.text, "pseudonym")


def test_visit_form_validates_scores_and_keeps_odi_answers(doc, registry, patient_with_series):
    pid = patient_with_series
    data = {
        "csrf_token": doc.csrf,
        "date": "2026-07-01",
        "leg_pain_nrs": "14",
        "odi_1": "3",
        "odi_2": "2",
        "red_flags": ["saddle_anesthesia"],
        "notes": "keep me",
    }
    r = doc.post(f"/patients/{pid}/visit/new", data=data)
    assert r.status_code == 422
    assert "0-10" in _error_at(r.text, "leg_pain_nrs")
    assert _value_of(r.text, "leg_pain_nrs") == "14"
    assert _value_of(r.text, "odi_1") == "3"
    assert 'value="saddle_anesthesia" checked' in r.text
    assert "keep me" in r.text
    assert len(registry.list_visits(pid)) == 2
    data["leg_pain_nrs"] = "4"
    assert doc.post(f"/patients/{pid}/visit/new", data=data).status_code == 303
    v = registry.list_visits(pid)[-1]
    assert v.leg_pain_nrs == 4 and v.red_flags == ["saddle_anesthesia"]
    assert v.odi_answers[:3] == [3, 2, None]


def test_mri_form_accepts_diameters_as_an_ellipsoid(doc, registry, patient_with_series):
    pid = patient_with_series
    r = doc.post(
        f"/patients/{pid}/mri/new",
        data={
            "csrf_token": doc.csrf,
            "date": "2026-09-01",
            "level": "L5-S1",
            "measure": "diameters",
            "ap_mm": "6",
            "tr_mm": "10",
            "cc_mm": "12",
        },
    )
    assert r.status_code == 303
    last = registry.list_mri(pid)[-1]
    assert last.volume_mm3 == pytest.approx(math.pi / 6 * 6 * 10 * 12)
    bad = doc.post(
        f"/patients/{pid}/mri/new",
        data={
            "csrf_token": doc.csrf,
            "date": "2026-09-02",
            "measure": "volume",
            "volume_mm3": "-3",
        },
    )
    assert bad.status_code == 422 and _error_at(bad.text, "volume_mm3")
    assert _value_of(bad.text, "volume_mm3") == "-3"
    none = doc.post(
        f"/patients/{pid}/mri/new",
        data={"csrf_token": doc.csrf, "date": "2026-09-02", "measure": "volume"},
    )
    assert none.status_code == 422 and "volume_mm3" in _error_at(none.text, "measurement")
    half = doc.post(
        f"/patients/{pid}/mri/new",
        data={"csrf_token": doc.csrf, "date": "2026-09-02", "measure": "diameters", "ap_mm": "5"},
    )
    assert half.status_code == 422 and _error_at(half.text, "measurement")
    assert _value_of(half.text, "ap_mm") == "5"


def test_findings_form_reports_cross_field_rule_at_the_field(doc, registry, patient_with_series):
    pid = patient_with_series
    mri_id = registry.list_mri(pid)[0].id
    r = doc.post(
        f"/patients/{pid}/findings/new",
        data={
            "csrf_token": doc.csrf,
            "parent": f"mri:{mri_id}",
            "level": "L5-S1",
            "morphology": "sequestration",
            "containment": "contained",
        },
    )
    assert r.status_code == 422
    assert "sequestration" in _error_at(r.text, "containment")
    assert _value_of(r.text, "morphology") == "sequestration"
    missing = doc.post(
        f"/patients/{pid}/findings/new",
        data={"csrf_token": doc.csrf, "level": "L5-S1", "morphology": "extrusion"},
    )
    assert missing.status_code == 422 and "MRI or visit" in missing.text


def test_therapy_form_rejects_end_before_start(doc, patient_with_series):
    r = doc.post(
        f"/patients/{patient_with_series}/therapy/new",
        data={"csrf_token": doc.csrf, "name": "nsaid", "start": "2026-03-01", "end": "2026-02-01"},
    )
    assert r.status_code == 422 and "end" in r.text and "2026-02-01" in r.text


def test_timeline_shows_volumes_resorption_grade_and_mcid(doc, patient_with_series):
    html = doc.get(f"/patients/{patient_with_series}").text
    soup = BeautifulSoup(html, "html.parser")
    text = soup.get_text(" ", strip=True)
    assert "1 500 mm³" in text and "600 mm³" in text
    assert "shrank by 60 %" in text and "significant" in text
    assert "Leg NRS MCID reached ✓" in text
    img = soup.find("img", class_="plot")
    assert img["src"].startswith("data:image/svg+xml;base64,")


def test_patient_search_and_partial_rows(doc, patient_with_series):
    page = doc.get("/patients", params={"q": "web-0"})
    assert "WEB-001" in page.text and "1 patient matching" in page.text
    assert "WEB-001" not in doc.get("/patients", params={"q": "zzz"}).text
    rows = doc.get("/patients", params={"q": "WEB"}, headers={"X-Partial": "patient-rows"})
    assert rows.text.lstrip().startswith("<tr>") and "<html" not in rows.text


def test_assessment_page_shows_the_report_content(doc, patient_with_series):
    html = doc.get(f"/patients/{patient_with_series}/assessment").text
    text = BeautifulSoup(html, "html.parser").get_text(" ", strip=True)
    assert re.search(r"Probability of resorption \d+ %", text)
    for heading in (
        "What the estimate rests on",
        "Measurements",
        "Management pathway",
        "Therapies and their evidence",
        "Sources",
    ):
        assert heading in text
    assert "doi.org/10." in html
    assert f'href="/patients/{patient_with_series}/assessment.pdf"' in html


def test_storing_an_assessment_from_the_page(doc, registry, patient_with_series):
    r = doc.post(f"/patients/{patient_with_series}/assessment", data={"csrf_token": doc.csrf})
    assert r.status_code == 303
    assert len(registry.list_assessments(patient_with_series)) == 1
    html = doc.get(f"/patients/{patient_with_series}").text
    assert "stored-assessment" in html and "#1" not in html  # dated, no record id


def test_timeline_plot_carries_the_forecast_band(doc, patient_with_series):
    html = doc.get(f"/patients/{patient_with_series}").text
    assert "forecast median" in _svg_text(html)
    assert "from the current assessment" in html


def _svg_text(html: str) -> str:
    import base64

    src = BeautifulSoup(html, "html.parser").find("img", class_="plot")["src"]
    return base64.b64decode(src.split(",", 1)[1]).decode()


def test_assessment_page_without_findings_says_what_to_record(doc):
    r = doc.post(
        "/patients/new",
        data={
            "csrf_token": doc.csrf,
            "pseudonym": "EMPTY-1",
            "birth_year": "1970",
            "sex": "female",
        },
    )
    html = doc.get(r.headers["location"] + "/assessment").text
    assert "cannot be computed yet" in html and "level and morphology" in html


def test_pdf_download_is_a_pdf_with_pages(doc, patient_with_series):
    r = doc.get(f"/patients/{patient_with_series}/assessment.pdf")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pdf"
    assert "attachment" in r.headers["content-disposition"]
    assert r.content.startswith(b"%PDF-")
    from pypdf import PdfReader

    pdf = PdfReader(io.BytesIO(r.content))
    assert len(pdf.pages) >= 1
    assert (
        "WEB-001" in pdf.pages[0].extract_text()
        or "resorption" in pdf.pages[0].extract_text().lower()
    )


def test_full_report_has_its_own_csp_without_script(doc, patient_with_series):
    r = doc.get(f"/patients/{patient_with_series}/report")
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script" not in csp
    assert "<script" not in r.text.lower()


def test_cohort_dashboard_renders_both_plots(doc, patient_with_series):
    html = doc.get("/cohort").text
    soup = BeautifulSoup(html, "html.parser")
    alts = [img["alt"] for img in soup.find_all("img", class_="plot")]
    assert any("morphology" in a for a in alts) and any("Kaplan-Meier" in a for a in alts)
    assert "extrusion" in soup.get_text()


def _row(pseudonym, morphology, series):
    return {
        "pseudonym": pseudonym,
        "findings": [{"level": "L5-S1", "morphology": morphology}],
        "mri": [{"date": d, "level": "L5-S1", "volume_mm3": v} for d, v in series],
    }


def test_cohort_summary_kaplan_meier_matches_the_product_limit_by_hand():
    """Peer check against lifelines and a hand-computed product-limit estimate.

    Recipe: four extrusions with baseline 1000 mm3. A resorbs (>= 50 %) at
    day 61 (2 months at 30.44 d/month), B at day 122 (~4 months), C is censored
    at day 91 (only -20 %), D grows and is censored at day 183. Product-limit:
    S(2 mo) = 3/4; at 4 months one event among the 2 still at risk (B, D):
    S = 3/4 * 1/2 = 3/8. lifelines' KaplanMeierFitter on the same
    (durations, events) must give the same steps.
    """
    import datetime as dt

    from lifelines import KaplanMeierFitter

    from resorb.web._cohort import summarise_cohort

    d0 = dt.date(2026, 1, 1)

    def day(n):
        return d0 + dt.timedelta(days=n)

    rows = [
        _row("A", "extrusion", [(d0, 1000), (day(61), 400)]),
        _row("B", "extrusion", [(d0, 1000), (day(60), 900), (day(122), 300)]),
        _row("C", "extrusion", [(d0, 1000), (day(91), 800)]),
        _row("D", "extrusion", [(d0, 1000), (day(183), 1300)]),
        _row("E", "protrusion", [(d0, 500)]),  # one MRI: left out
        {"pseudonym": "F", "findings": [], "mri": []},
    ]
    s = summarise_cohort(rows)
    months, events = s.survival["extrusion"]
    assert events == [1, 1, 0, 0]
    km = s.kaplan_meier()["extrusion"]
    by_hand = {0.0: 1.0, months[0]: 3 / 4, months[2]: 3 / 4, months[1]: 3 / 8}
    for t, surv in by_hand.items():
        i = max(k for k, x in enumerate(km["months"]) if x <= t)
        assert km["survival"][i] == pytest.approx(surv)
    peer = KaplanMeierFitter().fit(months, events)
    assert km["survival"] == pytest.approx(list(peer.survival_function_.iloc[:, 0]))
    assert km["median_months"] == pytest.approx(peer.median_survival_time_)
    assert s.excluded == {"fewer than two MRI volumes": 1, "no findings": 1}
    assert s.resorption_percent["extrusion"] == pytest.approx([60.0, 70.0, 20.0, -30.0])


def test_admin_creates_users_and_sees_errors_at_the_field(app, registry):
    with make_client(app) as c:
        token = login(c, "adm")
        r = c.post(
            "/admin/users",
            data={
                "csrf_token": token,
                "username": "newdoc",
                "password": "short",
                "role": "clinician",
            },
        )
        assert r.status_code == 422 and "at least" in _error_at(r.text, "password")
        assert _value_of(r.text, "username") == "newdoc"
        ok = c.post(
            "/admin/users",
            data={
                "csrf_token": token,
                "username": "newdoc",
                "password": "long-enough-pw",
                "role": "researcher",
            },
        )
        assert ok.status_code == 303
        assert registry.get_user("newdoc").role == "researcher"
        off = c.post("/admin/users/newdoc/active", data={"csrf_token": token, "active": "0"})
        assert off.status_code == 303 and registry.get_user("newdoc").active is False
        me = c.post("/admin/users/adm/active", data={"csrf_token": token, "active": "0"})
        assert me.status_code == 422 and registry.get_user("adm").active is True


def test_forms_refuse_future_dates_beside_the_field(doc, registry, patient_with_series):
    import datetime as dt

    pid = patient_with_series
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    n_visits, n_mri = len(registry.list_visits(pid)), len(registry.list_mri(pid))
    r = doc.post(
        f"/patients/{pid}/visit/new",
        data={"csrf_token": doc.csrf, "date": tomorrow, "leg_pain_nrs": "3"},
    )
    assert r.status_code == 422 and "is in the future" in _error_at(r.text, "date")
    r = doc.post(
        f"/patients/{pid}/mri/new",
        data={"csrf_token": doc.csrf, "date": tomorrow, "measure": "volume", "volume_mm3": "800"},
    )
    assert r.status_code == 422 and "is in the future" in _error_at(r.text, "date")
    r = doc.post(
        "/patients/new",
        data={
            "csrf_token": doc.csrf,
            "pseudonym": "FUT-2",
            "birth_year": str(dt.date.today().year + 1),
            "sex": "male",
        },
    )
    assert r.status_code == 422 and "is in the future" in _error_at(r.text, "birth_year")
    assert len(registry.list_visits(pid)) == n_visits and len(registry.list_mri(pid)) == n_mri
    assert registry.find_patient("FUT-2") is None


def test_cohort_events_need_a_change_beyond_the_minimal_detectable_change(doc, patient_with_series):
    """A 52 % reduction of a 600 mm3 herniation (310 mm3, below the 323 mm3 minimal
    detectable change of that pair under the size-relative error model) is graded
    'significant' but could be measurement error: it is not a resorption event.
    1500 -> 600 mm3 (900 mm3, MDC 701 mm3) is."""
    import datetime as dt

    from resorb.imaging import compare_volumes
    from resorb.web._cohort import summarise_cohort

    small = compare_volumes(600, 290, warn=False)
    assert small.grade.value == "significant" and small.within_mdc
    assert small.mdc_mm3 == pytest.approx(323, abs=1)
    assert not compare_volumes(1500, 600, warn=False).within_mdc
    d0 = dt.date(2026, 1, 1)
    later = d0 + dt.timedelta(days=120)
    s = summarise_cohort(
        [
            _row("S", "extrusion", [(d0, 600), (later, 290)]),
            _row("L", "extrusion", [(d0, 1500), (later, 600)]),
        ]
    )
    _months, events = s.survival["extrusion"]
    assert events == [0, 1]
    assert "more than the minimal detectable change of that pair of volumes" in s.definition
    # The dashboard states the definition.
    text = BeautifulSoup(doc.get("/cohort").text, "html.parser").get_text(" ", strip=True)
    assert "more than the minimal detectable change of that pair of volumes" in text


def test_web_registry_and_cohort_use_the_shared_constants():
    """No private copy of the days-per-month constant and no import of imaging's
    private modules in the web, registry, cohort and interop packages (one
    definition: resorb.imaging.DAYS_PER_MONTH, resorb.imaging.ResorptionGrading)."""
    from pathlib import Path

    import resorb

    root = Path(resorb.__file__).parent
    offenders = []
    for pkg in ("web", "registry", "cohort", "interop"):
        for path in (root / pkg).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            for needle in ("365.25", "30.4375", "30.44", "imaging._"):
                if needle in text:
                    offenders.append(f"{path.relative_to(root)}: {needle}")
    assert offenders == []
