"""The report page follows the patient's own MRIs and never contradicts itself."""

from __future__ import annotations

import datetime as dt
import re

from bs4 import BeautifulSoup

from resorb.domain import Case
from resorb.reports import assess_case, render_html

AS_OF = dt.date(2026, 11, 26)


def _case(volumes):
    return Case.from_dict(
        {
            "herniation": {"level": "L4-L5", "morphology": "extrusion"},
            "mri": [{"date": d, "volume_mm3": v} for d, v in volumes],
        },
        today=AS_OF,
    )


def _percent(text: str) -> float:
    return float(re.search(r"([\d.]+) ?%", text).group(1))


def test_a_herniation_shrunk_from_754_to_188_mm3_at_4_months_reads_coherently():
    """754 -> 188 mm3 at 4 months used to sit beside a 78 % chance of >= 50 % by 12 months
    and a headline that ignored the MRIs."""
    a = assess_case(_case([("2026-01-10", 754), ("2026-05-10", 188)]), as_of=AS_OF)
    d = a.to_dict()
    r, f = d["resorption"], d["forecast"]
    assert r["conditional_on_mri"] and r["observed"]["beyond_measurement_error"]
    assert r["observed"]["grade"] == "significant" and r["observed"]["date"] == "2026-05-10"
    assert r["probability"] > 0.95 and f["probability_50pct_by_12_months"] > 0.8
    soup = BeautifulSoup(render_html(a), "html.parser")
    card = soup.find(id="probability-card").get_text(" ", strip=True)
    assert "given the follow-up MRIs" in card and "already shrunk by 75 %" in card
    forecast = soup.find(id="forecast-card").get_text(" ", strip=True)
    assert _percent(forecast) > 80
    assert "same model" in soup.find(id="forecast").get_text(" ", strip=True)


def test_a_herniation_that_grew_shows_a_lower_estimate_than_before_the_mri():
    a = assess_case(_case([("2026-01-10", 1000), ("2026-07-10", 1780)]), as_of=AS_OF)
    r = a.to_dict()["resorption"]
    assert r["probability"] < r["probability_before_mri"] - 0.3
    text = BeautifulSoup(render_html(a), "html.parser").find(id="observed").get_text()
    assert "From the findings alone" in text


def test_the_typed_and_the_stored_assessment_render_the_same_page(assessments):
    """The template reads attributes of the typed sections of a live assessment and the
    keys of one stored as JSON; both give the same page."""
    for name, a in assessments.items():
        assert render_html(a) == render_html(a.to_dict()), name
    a = assess_case(_case([("2026-01-10", 754), ("2026-05-10", 188)]), as_of=AS_OF)
    assert render_html(a) == render_html(a.to_dict())
    assert a.resorption.observed.beyond_measurement_error  # typed all the way
    assert (
        a.forecast.forecast.probability_complete_by_24_months
        == a.to_dict()["forecast"]["probability_complete_by_24_months"]
    )


def test_regrowth_after_shrinking_reaches_the_page_and_the_surgical_indications():
    a = assess_case(
        _case([("2025-01-10", 1000), ("2025-07-10", 150), ("2026-09-10", 1400)]), as_of=AS_OF
    )
    assert a.resorption.observed.regrown
    step = next(s for s in a.management.steps if s.code == "surgical_indications")
    assert "grown beyond measurement error" in step.text
    soup = BeautifulSoup(render_html(a), "html.parser")
    assert "grew again after shrinking" in soup.find(id="observed").get_text(" ", strip=True)
