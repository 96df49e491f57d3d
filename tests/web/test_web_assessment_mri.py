"""The assessment page follows the patient's own MRIs, like the report."""

from __future__ import annotations

import pytest
from _webtools import login, make_client
from bs4 import BeautifulSoup


@pytest.fixture
def doc(app):
    with make_client(app) as c:
        c.csrf = login(c, "doc")
        yield c


def test_assessment_page_says_the_estimate_is_conditional_on_the_follow_up_mri(
    doc, patient_with_series
):
    """1,500 -> 600 mm3: the page says the probability is given the follow-up MRI and
    that the shrinkage is beyond measurement error, and shows the forecast's chances."""
    html = doc.get(f"/patients/{patient_with_series}/assessment").text
    soup = BeautifulSoup(html, "html.parser")
    text = soup.get_text(" ", strip=True)
    assert "given the follow-up MRIs" in text and "from the findings alone" in text
    observed = soup.find(id="observed-change").get_text(" ", strip=True)
    assert "already shrunk by 60 %" in observed and "beyond measurement error" in observed
    assert "complete resolution by 24 months" in text


def test_assessment_page_reads_the_typed_assessment_without_losing_content(
    doc, registry, patient_with_series
):
    """The page reads the typed sections by attribute: every management step, every factor
    and every forecast point of the assessment appears on it."""
    from resorb.web._assess import assess_records

    assessment, data = assess_records(registry.patient_records(patient_with_series))
    html = doc.get(f"/patients/{patient_with_series}/assessment").text
    text = BeautifulSoup(html, "html.parser").get_text(" ", strip=True)
    for step in assessment.management.steps:
        assert step.title in text and step.timing in text
    for info in assessment.management.patient_information:
        assert info.heading in text
    for reason in assessment.triage.reasons:
        assert reason.text in text
    assert "No red flag calls for urgent referral" in text
    assert len(BeautifulSoup(html, "html.parser").select("table")) >= 3
    for point in data["forecast"]["points"]:
        assert point["date"] in text


def test_assessment_page_says_a_shrinking_herniation_shrank_in_words(doc, patient_with_series):
    """1,500 -> 600 mm3: the measurements table reads 'shrank by 60 %', not '60.0 %'."""
    soup = BeautifulSoup(doc.get(f"/patients/{patient_with_series}/assessment").text, "html.parser")
    cells = [td.get_text(" ", strip=True) for td in soup.find_all("td")]
    assert "shrank by 60 %" in cells
    assert "60.0 %" not in cells


def test_timeline_and_research_page_say_a_shrinking_herniation_shrank_in_words(
    app, doc, patient_with_series
):
    """The patient timeline and the research view read 'shrank by 60 %' like the report."""
    timeline = BeautifulSoup(doc.get(f"/patients/{patient_with_series}").text, "html.parser")
    assert "shrank by 60 %" in [td.get_text(" ", strip=True) for td in timeline.find_all("td")]
    with make_client(app) as c:
        login(c, "res")
        page = BeautifulSoup(c.get("/research/patients/WEB-001").text, "html.parser")
    assert "shrank by 60 %" in [td.get_text(" ", strip=True) for td in page.find_all("td")]
