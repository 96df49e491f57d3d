"""A measured change of volume is said in words ('shrank by', 'grew by') in the report
and the terminal summary: a signed '+51 %' of shrinkage reads as growth to a clinician."""

from __future__ import annotations

from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from cli_helpers import run_cli
from resorb.reports import change_in_words, render_html

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "cases"


@pytest.mark.parametrize(
    ("percent", "words"),
    [
        (50.6, "shrank by 51 %"),
        (-125.0, "grew by 125 %"),
        (0.3, "no change"),
        (-0.4, "no change"),
        (None, "\u2014"),
    ],
)
def test_change_against_first_mri_in_words(percent, words):
    assert change_in_words(percent) == words


def _mri_row(assessment, date):
    soup = BeautifulSoup(render_html(assessment), "html.parser")
    rows = {tr.find("td").get_text(strip=True): tr for tr in soup.select("#measurements tbody tr")}
    return rows[date].find_all("td")[3].get_text(" ", strip=True)


def test_shrinking_extrusion_reads_shrank_in_the_report_not_plus_percent(assessments):
    """524 -> 259 mm3 (extrusion_diameters): 'shrank by 51 %', never '+51 %'."""
    cell = _mri_row(assessments["extrusion_diameters"], "2026-07-20")
    assert cell == "shrank by 51 %"


def test_grown_protrusion_reads_grew_in_the_report(assessments):
    """600 -> 1,350 mm3 (protrusion_grew_followup): 'grew by 125 %', never '-125 %'."""
    cell = _mri_row(assessments["protrusion_grew_followup"], "2026-08-17")
    assert cell == "grew by 125 %"


def test_terminal_summary_says_shrank_and_grew_in_words(capsys):
    code, out, err = run_cli(capsys, "assess", str(EXAMPLES / "extrusion_diameters.json"))
    assert code == 0, err
    flat = " ".join(out.split())
    assert "shrank by 51" in flat and "+51 %" not in flat
    code, out, err = run_cli(capsys, "assess", str(EXAMPLES / "protrusion_grew_followup.yaml"))
    assert code == 0, err
    flat = " ".join(out.split())
    assert "grew by 125" in flat and "-125 %" not in flat


def test_grown_protrusion_with_leg_pain_7_next_step_is_surgery_discussion(assessments):
    """600 -> 1,350 mm3 with leg pain still 7/10: the report's next step is to discuss
    surgery now, not a follow-up MRI 'not to document resorption in a patient who is
    recovering'."""
    soup = BeautifulSoup(render_html(assessments["protrusion_grew_followup"]), "html.parser")
    para = next(p for p in soup.find_all("p") if p.get_text().startswith("Next step:"))
    text = para.get_text(" ", strip=True)
    assert text.startswith("Next step: Discuss surgery: the herniation has grown")
    assert "leg pain 7/10" in text and "follow-up MRI" not in text
