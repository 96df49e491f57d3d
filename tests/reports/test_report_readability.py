"""What a clinician reads on the report: no grade that the numbers contradict, findings
named as in the findings table, forecast chances with the volume they compare with,
and the two follow-up situations of the examples (growth; early large shrinkage)."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup

from resorb.reports import render_html


@pytest.fixture(scope="module")
def pages(assessments):
    return {name: BeautifulSoup(render_html(a), "html.parser") for name, a in assessments.items()}


def _mri_rows(soup):
    return {tr.find("td").get_text(strip=True): tr for tr in soup.select("#measurements tbody tr")}


def test_significant_grade_within_measurement_error_is_marked_not_confirmed(pages):
    """524 -> 259 mm3 is 51 % (graded significant) but within the minimal detectable
    change of 285 mm3: the grade carries 'not confirmed' beside the 'no' of the last column."""
    row = _mri_rows(pages["extrusion_diameters"])["2026-07-20"]
    grade = row.find_all("td")[4].get_text(" ", strip=True)
    assert grade.startswith("significant")
    assert "not confirmed: within measurement error" in grade


def test_grade_beyond_measurement_error_stands_alone(pages):
    """1650 -> 980 mm3 (41 %, within error) is qualified; 1650 -> 310 mm3 (beyond) is not."""
    rows = _mri_rows(pages["sequestration_rim_three_mri"])
    within = rows["2025-12-10"].find_all("td")[4].get_text(" ", strip=True)
    beyond = rows["2026-06-20"].find_all("td")[4].get_text(" ", strip=True)
    assert "not confirmed" in within
    assert beyond == "significant"


def test_unchanged_volume_within_measurement_error_is_not_qualified(pages):
    """820 -> 760 mm3 is graded unchanged: 'not confirmed' would make no sense beside it."""
    rows = _mri_rows(pages["protrusion_modic_stable"])
    grade = rows["2026-06-15"].find_all("td")[4].get_text(" ", strip=True)
    assert "not confirmed" not in grade


def test_factor_rows_name_the_finding_as_the_findings_table_does(pages):
    """'pll: intact' and 't2 signal: iso' were case-file keys; the rows now use the labels
    of section 1 (Posterior longitudinal ligament, T2 signal of the fragment)."""
    soup = pages["extrusion_diameters"]
    labels = {
        tr.find_all("td")[0].get_text(strip=True).split("\n")[0]
        for tr in soup.select("#findings tbody tr")
    }
    cells = [tr.find("td").get_text(" ", strip=True) for tr in soup.select("#factors tr.factor")]
    assert cells == ["Posterior longitudinal ligament: intact", "T2 signal of the fragment: iso"]
    assert all(c.split(":")[0] in labels for c in cells)
    unused = soup.select_one("#resorption p.small").get_text(" ", strip=True)
    assert "Komori type 2" in unused and "komori" not in unused


def test_factor_plot_labels_use_the_findings_words(assessments, monkeypatch):
    """The y-axis of the factor plot reads like the table ('Rim enhancement: complete')."""
    from matplotlib.axes import Axes

    from resorb.reports import factor_plot_png

    seen: list[str] = []
    original = Axes.set_yticklabels

    def spy(self, labels, *args, **kwargs):
        seen.extend(labels)
        return original(self, labels, *args, **kwargs)

    monkeypatch.setattr(Axes, "set_yticklabels", spy)
    factor_plot_png(assessments["sequestration_rim_three_mri"].to_dict()["resorption"])
    assert "Rim enhancement: complete" in seen
    assert "T2 signal of the fragment: high" in seen
    assert not any(label.startswith(("rim enhancement", "t2 signal", "modic:")) for label in seen)


def test_forecast_halving_chance_names_the_volume_it_halves(pages, assessments):
    """28 % chance of >= 50 % resorption beside a measured 51 % shrinkage read as a
    contradiction: the card says the chance is of halving the true starting volume
    (estimated from both MRIs) and shows the first reading it differs from."""
    card = pages["extrusion_diameters"].find(id="forecast-baseline").get_text(" ", strip=True)
    v0 = assessments["extrusion_diameters"].forecast.parameters["v0"]["median"]
    assert f"{v0:,.0f} mm³" in card
    assert "first MRI read 524 mm³" in card
    assert "measurement error removed" in card


def test_one_mri_forecast_has_no_starting_volume_line(pages):
    """With one MRI the forecast is the population prior: nothing was fitted."""
    assert pages["cauda_equina_red_flags"].find(id="forecast-baseline") is None


def test_protrusion_that_grew_is_flagged_as_growth_beyond_measurement_error(pages, assessments):
    """600 -> 1,350 mm3 in six months: graded enlarged, beyond the detectable change,
    the forecast card turns amber and the estimate says growth lowers it."""
    a = assessments["protrusion_grew_followup"]
    soup = pages["protrusion_grew_followup"]
    row = _mri_rows(soup)["2026-08-17"]
    assert row.find_all("td")[4].get_text(" ", strip=True) == "enlarged"
    assert row.find_all("td")[5].get_text(" ", strip=True).startswith("yes")
    assert "warn" in soup.find(id="forecast-card")["class"]
    assert "growth beyond measurement error" in soup.find(id="forecast-card").get_text(" ")
    assert "grown by 125 %" in soup.find(id="observed-change").get_text(" ")
    assert a.resorption.probability < a.resorption.probability_before_mri


def test_large_extrusion_mostly_resorbed_at_four_months_reads_as_shrinkage(pages):
    """2,400 -> 470 mm3 at four months: 80 % resorbed, beyond measurement error."""
    soup = pages["extrusion_large_early_resorption"]
    row = _mri_rows(soup)["2026-08-17"]
    assert row.find_all("td")[3].get_text(" ", strip=True) == "shrank by 80 %"
    assert row.find_all("td")[4].get_text(" ", strip=True) == "significant"
    assert "already shrunk by 80 %" in soup.find(id="observed-change").get_text(" ")


def test_unused_therapy_is_named_as_in_the_catalogue(pages):
    """The 'recorded but not used' line named the gabapentinoid course by its catalogue id;
    it now uses the therapy's name, as section 6 does."""
    unused = pages["extrusion_diameters"].select_one("#resorption p.small").get_text(" ")
    assert "Therapy Gabapentinoids (gabapentin, pregabalin) (therapies do not" in unused
    assert "gabapentinoid (" not in unused


def test_terminal_summary_gives_therapy_evidence_in_words(capsys):
    """`resorb assess` printed 'resorption evidence: not_measured' (a catalogue code) and
    'passed' for steps whose date lies behind; both now in words."""
    from pathlib import Path

    from cli_helpers import run_cli

    case = (
        Path(__file__).resolve().parents[2]
        / "examples"
        / "cases"
        / "sequestration_rim_three_mri.yaml"
    )
    code, out, err = run_cli(capsys, "assess", str(case))
    assert code == 0, err
    assert "resorption evidence: not measured" in " ".join(out.split())
    assert "not_measured" not in out
    assert "date passed" in out


def test_surgery_discussion_after_growth_reads_date_passed_not_passed(pages):
    """Six months into a growing protrusion, 'Consider discussing surgery ... passed' read as
    if the option had lapsed; the status says only that its date has passed."""
    soup = pages["protrusion_grew_followup"]
    rows = {
        tr.find_all("td")[1].find("b").get_text(strip=True): tr
        for tr in soup.select("#management tr.step")
    }
    status = rows["Consider discussing surgery."].find_all("td")[2].get_text(strip=True)
    assert status == "date passed"
    assert "apply at any time" in rows["Consider discussing surgery."].get_text(" ")


def test_example_cases_record_that_red_flags_were_asked(pages):
    """The examples show a complete work-up: every one records its red flags (none, or the
    cauda equina signs), so no example report opens with 'Red flags not recorded'."""
    for name, soup in pages.items():
        card = soup.find(id="triage-card").get_text(" ", strip=True)
        assert "Red flags not recorded" not in card, name
        if name != "cauda_equina_red_flags":
            assert card.startswith("Triage No red flag recorded"), name


def test_mri_volume_table_is_kept_on_one_pdf_page(assessments):
    """The three-MRI table of the sequestration was cut by the page break after its second
    row (the 310 mm3 row and the formula on page 2); the table now moves as one block."""
    import io

    from pypdf import PdfReader

    from resorb.reports import render_pdf

    pdf = PdfReader(io.BytesIO(render_pdf(assessments["sequestration_rim_three_mri"])))
    texts = [" ".join(page.extract_text().split()) for page in pdf.pages]
    [page] = [t for t in texts if "2. MRI volumes" in t]
    for cell in ("1,650", "980", "310 reported", "Resorption = (V"):
        assert cell in page, cell


def test_report_footer_says_where_the_probability_comes_from_in_words(pages):
    """The last line said 'probability model: evidence' (an option value)."""
    footer = pages["protrusion_modic_stable"].select("#sources p.small")[-1].get_text(" ")
    assert "probability from the published evidence above" in footer
    assert "probability model:" not in footer
