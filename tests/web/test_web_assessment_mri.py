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
        doc, patient_with_series):
    """1,500 -> 600 mm3: the page says the probability is given the follow-up MRI and
    that the shrinkage is beyond measurement error, and shows the forecast's chances."""
    html = doc.get(f"/patients/{patient_with_series}/assessment").text
    soup = BeautifulSoup(html, "html.parser")
    text = soup.get_text(" ", strip=True)
    assert "given the follow-up MRIs" in text and "from the findings alone" in text
    observed = soup.find(id="observed-change").get_text(" ", strip=True)
    assert "already shrunk by 60 %" in observed and "beyond measurement error" in observed
    assert "complete resolution by 24 months" in text
