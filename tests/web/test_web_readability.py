"""What a clinician reads on the web pages: no rounded certainty, no catalogue codes or
case-file keys, scores and sources in words."""

from __future__ import annotations

import re

import pytest
from _webtools import auth, login, make_client
from bs4 import BeautifulSoup


@pytest.fixture
def doc(app):
    with make_client(app) as c:
        c.csrf = login(c, "doc")
        yield c


@pytest.fixture
def res(app):
    with make_client(app) as c:
        c.csrf = login(c, "res")
        yield c


def _text(html: str) -> str:
    return BeautifulSoup(html, "html.parser").get_text(" ", strip=True)


@pytest.fixture
def resorbed_sequestration(client, app):
    """A sequestration with complete rim enhancement, 2,000 -> 150 -> 20 mm3 over a year,
    an NSAID course and two visits (leg pain 8 -> 1)."""
    h = auth(app, "doc")
    pid = client.post(
        "/api/patients",
        headers=h,
        json={
            "pseudonym": "WEB-READ-1",
            "birth_year": 1979,
            "sex": "male",
            "onset_date": "2025-09-01",
        },
    ).json()["id"]
    m1 = client.post(
        f"/api/patients/{pid}/mri",
        headers=h,
        json={"date": "2025-09-08", "volume_mm3": 2000, "level": "L5-S1"},
    ).json()["id"]
    for date, volume in (("2026-01-08", 150), ("2026-09-08", 20)):
        client.post(
            f"/api/patients/{pid}/mri",
            headers=h,
            json={"date": date, "volume_mm3": volume, "level": "L5-S1"},
        )
    r = client.post(
        f"/api/patients/{pid}/findings",
        headers=h,
        json={
            "mri_id": m1,
            "level": "L5-S1",
            "morphology": "sequestration",
            "containment": "uncontained",
            "rim_enhancement": "complete",
            "t2_signal": "high",
            "msu": "2-AB",
        },
    )
    assert r.status_code == 201, r.text
    client.post(
        f"/api/patients/{pid}/therapies",
        headers=h,
        json={"name": "nsaid", "start": "2025-09-02", "end": "2025-09-20"},
    )
    for date, nrs in (("2025-09-08", 8), ("2026-01-08", 1)):
        client.post(
            f"/api/patients/{pid}/visits",
            headers=h,
            json={"date": date, "leg_pain_nrs": nrs, "back_pain_nrs": 4},
        )
    return pid


def test_near_certain_resorption_reads_above_99_percent_not_100(
    doc, registry, resorbed_sequestration
):
    """A 99 % shrinkage makes the estimate round to 100 %: the page says '> 99 %' (as the
    report does), never a certainty, and the interval says it is 95 %."""
    from resorb.web._assess import assess_records

    assessment, _ = assess_records(registry.patient_records(resorbed_sequestration))
    assert 0.99 < assessment.resorption.probability < 1.0
    html = doc.get(f"/patients/{resorbed_sequestration}/assessment").text
    soup = BeautifulSoup(html, "html.parser")
    assert soup.select_one("p.big-number").get_text(strip=True) == "> 99 %"
    text = _text(html)
    assert "95 % interval" in text and "within 12 months" in text
    assert not re.search(r"(?<![\d.])100 %", text)
    assert "12.0 months" not in text


def test_assessment_page_names_findings_and_therapy_evidence_in_words(doc, resorbed_sequestration):
    """Factor rows say 'Rim enhancement' and 'MSU class' as the findings do, and the
    therapy evidence badges say 'not measured' / 'no difference', not catalogue codes."""
    html = doc.get(f"/patients/{resorbed_sequestration}/assessment").text
    text = _text(html)
    assert "Rim enhancement: complete" in text
    assert "T2 signal of the fragment: high" in text
    assert "MSU class 2-AB" in text
    assert "not measured" in text and "no difference" in text
    for code in ("not_measured", "no_difference", "rim enhancement:", "Msu "):
        assert code not in text, code


def test_timeline_mcid_flags_name_the_score_as_the_column_headers(doc, resorbed_sequestration):
    """Leg pain 8 -> 1 reaches the MCID: the flag reads 'Leg NRS MCID reached', not the
    record's key 'leg pain nrs'."""
    html = doc.get(f"/patients/{resorbed_sequestration}").text
    flags = [
        b.get_text(" ", strip=True)
        for b in BeautifulSoup(html, "html.parser").select("td span.badge")
    ]
    assert "Leg NRS MCID reached ✓" in flags
    assert "Back NRS MCID not reached" in flags
    assert not any("pain nrs" in f for f in flags)


def test_cohort_dashboard_cites_grade_thresholds_as_links_and_says_which_is_assumed(
    res, resorbed_sequestration
):
    """The footnote linked 'pmid:37559207' and printed 'assumption:enlarged_percent' and
    the Python library; it now links DOI/PubMed and says our assumption in words."""
    html = res.get("/cohort").text
    soup = BeautifulSoup(html, "html.parser")
    text = _text(html)
    assert "assumption:" not in text and "pmid:" not in text and "lifelines" not in text
    assert "our assumption for the enlarged threshold" in text
    assert soup.find("a", href="https://pubmed.ncbi.nlm.nih.gov/37559207/") is not None
    assert "Median time to resorption" in text and "KM median" not in text


def test_cohort_time_to_resorption_plot_labels_its_axis_and_counts_in_words(
    res, resorbed_sequestration
):
    """The Kaplan-Meier axis said 'not yet resorbed' with no quantity and the legend
    'events=1': it now reads 'proportion not yet resorbed' and '1 resorbed'."""
    import base64

    soup = BeautifulSoup(res.get("/cohort").text, "html.parser")
    img = soup.find("img", alt=re.compile("Kaplan-Meier"))
    svg = base64.b64decode(img["src"].split(",", 1)[1]).decode()
    assert "proportion not yet resorbed" in svg
    assert "sequestration (n=1, 1 resorbed)" in svg
    assert "events=" not in svg


def test_timeline_and_research_view_name_the_therapy_as_the_catalogue_does(
    doc, res, resorbed_sequestration
):
    """An NSAID course reads 'Non-steroidal anti-inflammatory drugs' on the timeline, the
    research view and the estimate's unused-findings line, not the catalogue id 'nsaid'."""
    timeline = _text(doc.get(f"/patients/{resorbed_sequestration}").text)
    assert "Non-steroidal anti-inflammatory drugs 2025-09-02 – 2025-09-20" in timeline
    assessment = _text(doc.get(f"/patients/{resorbed_sequestration}/assessment").text)
    assert "Therapy Non-steroidal anti-inflammatory drugs (therapies do not" in assessment
    research = BeautifulSoup(res.get("/research/patients").text, "html.parser")
    link = next(a["href"] for a in research.select("a[href^='/research/patients/']"))
    view = _text(res.get(link).text)
    assert "Non-steroidal anti-inflammatory drugs" in view
    for text in (timeline, assessment, view):
        assert not re.search(r"\bnsaid\b", text)


def test_timeline_dates_the_findings_and_stored_assessments_without_record_ids(
    doc, resorbed_sequestration
):
    """Findings said '(on MRI 1)' (a database id) and stored assessments '#1 · v…': the
    timeline now says on the MRI of which date, and when which version stored it."""
    r = doc.post(
        f"/patients/{resorbed_sequestration}/assessment",
        data={"csrf_token": doc.csrf},
        follow_redirects=True,
    )
    assert r.status_code == 200
    soup = BeautifulSoup(r.text, "html.parser")
    text = soup.get_text(" ", strip=True)
    assert "(on the MRI of 2025-09-08)" in text
    assert not re.search(r"on MRI \d", text)
    stored = [p.get_text(" ", strip=True) for p in soup.select("p.stored-assessment")]
    assert len(stored) == 1 and stored[0].startswith("20") and "resorb " in stored[0]
    assert "#" not in stored[0]
    assert re.search(r"Assessment of \d{4}-\d\d-\d\d \d\d:\d\d stored\.", text)
    assert not re.search(r"Assessment \d+ stored", text)


def test_management_steps_whose_date_has_passed_read_date_passed(doc, resorbed_sequestration):
    """A year after onset every dated step showed 'passed', which reads as if the option
    (e.g. discussing surgery) had lapsed; the badge says only that the date has passed."""
    html = doc.get(f"/patients/{resorbed_sequestration}/assessment").text
    badges = [
        b.get_text(strip=True)
        for b in BeautifulSoup(html, "html.parser").select("tr td span.badge")
    ]
    assert "date passed" in badges and "passed" not in badges


def test_halving_chance_names_the_estimated_starting_volume(doc, registry, resorbed_sequestration):
    """Beside measured volumes, 'the volume halves' needs its reference: the page names the
    true starting volume the forecast estimated and the first reading it differs from."""
    from resorb.web._assess import assess_records

    assessment, _ = assess_records(registry.patient_records(resorbed_sequestration))
    v0 = assessment.forecast.parameters["v0"]["median"]
    html = doc.get(f"/patients/{resorbed_sequestration}/assessment").text
    note = BeautifulSoup(html, "html.parser").find(id="forecast-baseline")
    text = note.get_text(" ", strip=True)
    assert f"{v0:,.0f}".replace(",", " ") + " mm³" in text
    assert "first MRI read 2 000 mm³" in text
