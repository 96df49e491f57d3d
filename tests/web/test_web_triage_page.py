"""Assessment page of a registry patient with red flags: the referral comes first, and no
resorption percentage or volume forecast stands beside it."""

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


def _patient(client, app, pseudonym: str, red_flags: list[str] | None, **findings) -> int:
    """Central L4-L5 extrusion, two MRIs (1800 -> 1500 mm3), one visit with the red flags
    (no visit when ``red_flags`` is None)."""
    h = auth(app, "doc")
    pid = client.post(
        "/api/patients",
        headers=h,
        json={
            "pseudonym": pseudonym,
            "birth_year": 1974,
            "sex": "male",
            "onset_date": "2026-01-02",
        },
    ).json()["id"]
    m1 = client.post(
        f"/api/patients/{pid}/mri",
        headers=h,
        json={"date": "2026-01-05", "volume_mm3": 1800, "level": "L4-L5"},
    ).json()["id"]
    client.post(
        f"/api/patients/{pid}/mri",
        headers=h,
        json={"date": "2026-03-05", "volume_mm3": 1500, "level": "L4-L5"},
    )
    client.post(
        f"/api/patients/{pid}/findings",
        headers=h,
        json={
            "mri_id": m1,
            "level": "L4-L5",
            "morphology": "extrusion",
            "zone": "central",
            "canal_compromise_percent": 60,
            **findings,
        },
    )
    if red_flags is None:
        return pid
    r = client.post(
        f"/api/patients/{pid}/visits",
        headers=h,
        json={"date": "2026-03-05", "leg_pain_nrs": 9, "red_flags": red_flags},
    )
    assert r.status_code in (200, 201), r.text
    return pid


def test_cauda_equina_patient_page_shows_the_emergency_and_no_percentage_or_forecast(
    doc, client, app
):
    pid = _patient(client, app, "CES-001", ["saddle_anaesthesia", "urinary_retention"])
    html = doc.get(f"/patients/{pid}/assessment").text
    soup = BeautifulSoup(html, "html.parser")
    triage = soup.find(id="triage").get_text(" ", strip=True)
    assert triage.startswith("Emergency: suspected cauda equina syndrome")
    assert "emergency MRI" in triage
    text = soup.get_text(" ", strip=True)
    assert soup.find(id="withheld") is not None
    assert "Probability of resorption" not in text
    assert not re.search(
        r"\b\d+ %",
        soup.find(class_="big-number").get_text() if soup.find(class_="big-number") else "",
    )
    assert "Forecast of the herniation volume" not in text
    assert "What the estimate rests on" not in text
    assert soup.find("img", class_="plot") is None
    # The measured volumes stay: they are observations, not estimates.
    assert "1 800 mm³" in text and "1 500 mm³" in text
    # The plain-language card explains the referral instead of natural-course figures.
    info = soup.find(id="patient-information").get_text(" ", strip=True)
    assert "Why you are being sent for an urgent assessment" in info
    assert "95 %" not in info
    # Sources by name and link, never by record id.
    assert not re.search(
        r"\b[a-z]+(?:_[a-z0-9]+)*20\d\d\b|\b[a-z0-9]+_[a-z0-9_]+\b",
        soup.find(id="triage").get_text(" ") + info,
    )


def test_patient_without_red_flags_still_sees_the_estimate_and_the_patient_page(doc, client, app):
    pid = _patient(client, app, "NRF-001", [])
    soup = BeautifulSoup(doc.get(f"/patients/{pid}/assessment").text, "html.parser")
    text = soup.get_text(" ", strip=True)
    assert re.search(r"Probability of resorption \d+ %", text)
    assert soup.find(id="withheld") is None
    info = soup.find(id="patient-information").get_text(" ", strip=True)
    assert "Most sciatica gets better without an operation" in info
    assert "When to come back at once" in info


def test_timeline_of_a_cauda_equina_patient_draws_no_forecast_band(doc, client, app):
    pid = _patient(client, app, "CES-002", ["urinary_hesitancy"])
    html = doc.get(f"/patients/{pid}").text
    assert "from the current assessment" not in html
    calm = _patient(client, app, "NRF-002", [])
    assert "from the current assessment" in doc.get(f"/patients/{calm}").text


def test_visit_form_records_a_recurrence_shown_on_the_timeline(doc, client, app, registry):
    pid = _patient(client, app, "REC-001", [])
    r = doc.post(
        f"/patients/{pid}/visit/new",
        data={
            "csrf_token": doc.csrf,
            "date": "2026-09-14",
            "leg_pain_nrs": "7",
            "recurrence": "yes",
        },
    )
    assert r.status_code == 303, r.text
    visits = registry.list_visits(pid)
    assert [v.recurrence for v in visits] == [None, True]
    soup = BeautifulSoup(doc.get(f"/patients/{pid}").text, "html.parser")
    visits_table = soup.find_all("table", class_="timeline")[1].get_text(" ", strip=True)
    assert visits_table.startswith("Date") and "2026-09-14" in visits_table
    assert "recurrence" in visits_table


@pytest.mark.parametrize("red_flags", [[], ["urinary_retention"]])
def test_assessment_page_names_no_python_objects_options_or_record_ids(doc, client, app, red_flags):
    pid = _patient(
        client,
        app,
        f"TXT-{len(red_flags)}",
        red_flags,
        rim_enhancement="complete",
        t2_signal="high",
        modic=1,
        komori=3,
        pll="ruptured",
    )
    soup = BeautifulSoup(doc.get(f"/patients/{pid}/assessment").text, "html.parser")
    for tag in soup(["style", "script"]):
        tag.decompose()
    text = soup.get_text(" ", strip=True)
    for word in ("allow", "unverified no", "True", "None", "resorb.", "evidence_ids"):
        assert word not in text, word
    assert not re.findall(r"\b[a-z0-9]+_[a-z0-9_]+\b|\b[a-z]+20\d\d\b", text)


def test_visit_form_lists_every_red_flag_in_words_with_what_it_points_to(doc, client, app):
    from resorb.domain import RedFlag

    pid = _patient(client, app, "FORM-1", [])
    soup = BeautifulSoup(doc.get(f"/patients/{pid}/visit/new").text, "html.parser")
    boxes = soup.select('input[name="red_flags"]')
    assert [b["value"] for b in boxes] == [f.value for f in RedFlag]
    labels = [b.parent.get_text(" ", strip=True) for b in boxes]
    assert labels[0].startswith("Cauda equina, late sign: perineal")
    assert any(x.startswith("Serious pathology: intravenous drug use") for x in labels)
    assert not any("_" in x for x in labels)


def test_cauda_equina_patient_page_heads_the_pathway_as_an_emergency(doc, client, app):
    """The pathway heading said 'urgent referral' under the emergency banner."""
    pid = _patient(client, app, "CES-002", ["urinary_retention"])
    soup = BeautifulSoup(doc.get(f"/patients/{pid}/assessment").text, "html.parser")
    heading = next(
        h.get_text(" ", strip=True)
        for h in soup.find_all("h2")
        if h.get_text().startswith("Management pathway")
    )
    assert "emergency referral" in heading and "urgent referral" not in heading


def test_registry_patient_without_a_visit_is_asked_for_red_flags_not_cleared(doc, client, app):
    """No visit means the red flags were never asked: the page must not read 'none'."""
    pid = _patient(client, app, "NOV-001", None)
    soup = BeautifulSoup(doc.get(f"/patients/{pid}/assessment").text, "html.parser")
    triage = soup.find(id="triage").get_text(" ", strip=True)
    assert "Red flags not recorded" in triage
    assert "conservative trial can be considered" not in triage
