"""What the report, its PDF and ``resorb assess --json`` say beside a red flag, and the
plausibility warnings (issue 9, items 1, 7 and 8).

The HTML is parsed with BeautifulSoup; the PDF text is read with pypdf and page 1 is
rasterised with poppler's ``pdftoppm`` (``apt-get install -y poppler-utils``).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from cli_helpers import run_cli
from resorb.domain import Case
from resorb.reports import assess_case, render_html, render_pdf

AS_OF = dt.date(2026, 11, 26)  # as in conftest.py
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MASKS = EXAMPLES / "masks"

#: A sequestration with every favourable finding (bull's-eye rim, ruptured PLL, high T2,
#: Komori 3): the evidence model gives it a very high resorption probability.
FAVOURABLE = """
  level: L5-S1
  morphology: sequestration
  containment: uncontained
  pll: ruptured
  zone: central
  migration: caudal
  komori: 3
  rim_enhancement: complete
  t2_signal: high
  canal_compromise_percent: 70
"""


def _case(symptoms: str, herniation: str = FAVOURABLE, mri: str = "") -> Case:
    text = (
        f"patient: {{age_years: 44, sex: female}}\nsymptoms: {{{symptoms}}}\n"
        f"herniation:\n{herniation}\n"
    )
    if mri:
        text += f"mri:\n{mri}\n"
    return Case.from_yaml(text, today=AS_OF)


TWO_MRI = "  - {date: 2026-09-01, volume_mm3: 1600}\n  - {date: 2026-11-20, volume_mm3: 1100}"


def _soup(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


@pytest.fixture(scope="module")
def ces_pair():
    """The same favourable herniation without and with cauda equina signs."""
    calm = assess_case(_case("onset_date: 2026-08-20, leg_pain_nrs: 8", mri=TWO_MRI), as_of=AS_OF)
    ces = assess_case(
        _case(
            "onset_date: 2026-08-20, leg_pain_nrs: 8, red_flags: "
            "[saddle_anesthesia, urinary_retention]",
            mri=TWO_MRI,
        ),
        as_of=AS_OF,
    )
    return calm, ces


def test_cauda_equina_case_withholds_resorption_percentage_and_forecast_in_html(ces_pair):
    calm, ces = ces_pair
    shown = calm.to_dict()
    headline = f"{100 * shown['resorption']['probability']:.0f} %"
    if shown["resorption"]["probability"] > 0.99:
        headline = "> 99 %"
    calm_soup = _soup(render_html(calm))
    assert headline in calm_soup.find(id="probability-card").get_text(" ", strip=True)

    d = ces.to_dict()
    assert d["resorption"]["withheld"] is True and d["triage"]["level"] == "emergency"
    soup = _soup(render_html(ces))
    assert soup.find(id="probability-card") is None and soup.find(id="forecast-card") is None
    assert soup.find(id="volume-plot") is None and soup.find(id="factor-plot") is None
    assert "Withheld" in soup.find(id="withheld-card").get_text()
    for section in ("summary", "forecast", "resorption"):
        text = soup.find(id=section).get_text(" ", strip=True)
        assert headline not in text, section
        assert "chance of" not in text and "Expected volume" not in text, section
    # Nor are the sources of the withheld estimate listed.
    assert not any(
        u.startswith(("resorption:", "forecast prior"))
        for src in d["sources"]
        for u in src["used_for"]
    )
    # The measured volumes are observations and stay.
    assert "1,600" in soup.find(id="measurements").get_text()
    triage = soup.find(id="triage-card").get_text(" ", strip=True)
    assert "Emergency: suspected cauda equina syndrome" in triage
    steps = soup.find(id="management").get_text(" ", strip=True)
    assert "Emergency MRI" in steps and "within 4 hours of the request" in steps
    assert "Emergency decompression" in steps


def test_cauda_equina_pdf_page_one_has_the_emergency_and_no_percentage(ces_pair, tmp_path):
    from pypdf import PdfReader

    _, ces = ces_pair
    pdf = render_pdf(ces)
    first = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "Emergency" in first and "Withheld" in first
    assert not re.search(r"RESORPTION WITHIN", first, re.IGNORECASE)
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed: page 1 not rasterised")
    path = tmp_path / "ces.pdf"
    path.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", "40", "-png", "-f", "1", "-l", "1", str(path), str(tmp_path / "page")],
        check=True,
    )
    png = next(tmp_path.glob("page*.png"))
    assert png.stat().st_size > 5_000


def test_joa_bladder_minus_6_case_report_is_an_emergency_with_the_contradiction_listed():
    joa = (
        "joa_items: {low_back_pain: 0, leg_pain: 0, gait: 0, slr: 0, sensory: 1, "
        "motor: 1, adl_turning_over: 1, adl_standing: 0, adl_washing: 0, "
        "adl_leaning_forward: 0, adl_sitting: 0, adl_lifting: 0, adl_walking: 0, "
        "bladder: -6}"
    )
    a = assess_case(
        _case(
            f"onset_date: 2026-11-10, leg_pain_nrs: 10, {joa}",
            mri="  - {date: 2026-11-20, volume_mm3: 1800}",
        ),
        as_of=AS_OF,
    )
    d = a.to_dict()
    assert d["resorption"]["withheld"] is True
    assert d["management"]["urgency"] == "emergency"
    assert [w["field"] for w in d["warnings"]] == ["symptoms.red_flags"]
    soup = _soup(render_html(a))
    assert "JOA bladder item -6" in soup.find(id="triage-card").get_text()
    assert "No bladder symptom is in the red-flag list" in soup.find(id="warnings").get_text()
    assert "conservative trial can be considered" not in soup.get_text()


def test_serious_pathology_report_asks_for_investigation_and_withholds_the_estimate():
    a = assess_case(
        _case(
            "onset_date: 2026-10-01, red_flags: [cancer_history, unexplained_weight_loss]",
            mri=TWO_MRI,
        ),
        as_of=AS_OF,
    )
    soup = _soup(render_html(a))
    assert "Investigate serious pathology first" in soup.find(id="triage-card").get_text()
    assert soup.find(id="probability-card") is None
    assert "Investigate serious pathology first" in soup.find(id="management").get_text()


def test_conservative_report_carries_the_plain_language_page_with_cited_figures():
    a = assess_case(
        _case(
            "onset_date: 2026-10-01, leg_pain_nrs: 6",
            herniation="  level: L4-L5\n  morphology: protrusion",
        ),
        as_of=AS_OF,
    )
    page = _soup(render_html(a)).find(id="patient-page")
    text = page.get_text(" ", strip=True)
    assert "Most sciatica gets better without an operation" in text
    assert "When to come back at once" in text
    for block in page.select("div.keep"):
        assert block.select("sup.ref a"), block.get("id")
    pdf_text = " ".join(
        p.extract_text() for p in __import__("pypdf").PdfReader(io.BytesIO(render_pdf(a))).pages
    )
    assert "For the patient: what to expect" in pdf_text


# --------------------------------------------------------------------- plausibility


def _assess_json(capsys, tmp_path: Path, text: str) -> tuple[int, dict, str]:
    path = tmp_path / "case.yaml"
    path.write_text(text, encoding="utf-8")
    code, out, err = run_cli(capsys, "assess", str(path), "--json")
    return code, (json.loads(out) if code == 0 else {}), err


def test_diameters_that_look_like_centimetres_give_a_warning_and_exit_0(capsys, tmp_path):
    code, d, err = _assess_json(
        capsys,
        tmp_path,
        """
herniation: {level: L5/S1, morphology: extrusion}
mri: [{date: 2026-09-01, diameters_mm: [0.6, 0.9, 1.1]}]
""",
    )
    assert code == 0 and err == ""
    assert [w["field"] for w in d["warnings"]] == ["mri[0].diameters_mm"]
    assert "6 × 9 × 11 mm" in d["warnings"][0]["message"]


def test_volume_in_cm3_and_onset_after_the_mri_are_both_warned(capsys, tmp_path):
    code, d, _ = _assess_json(
        capsys,
        tmp_path,
        """
symptoms: {onset_date: 2026-10-01}
herniation: {level: L4-5, morphology: protrusion}
mri: [{date: 2026-09-01, volume_mm3: 0.44}, {date: 2026-11-01, volume_mm3: 0.21}]
""",
    )
    assert code == 0
    fields = [w["field"] for w in d["warnings"]]
    assert fields == ["symptoms.onset_date", "mri[0].volume_mm3", "mri[1].volume_mm3"]
    assert "440 mm³" in d["warnings"][1]["message"]


def test_complete_resolution_to_zero_is_not_a_unit_warning(capsys, tmp_path):
    code, d, _ = _assess_json(
        capsys,
        tmp_path,
        """
symptoms: {onset_date: 2026-01-10}
herniation: {level: L4-L5, morphology: sequestration}
mri: [{date: 2026-01-20, volume_mm3: 1200}, {date: 2026-10-20, diameters_mm: [0, 0, 0]}]
""",
    )
    assert code == 0 and d["warnings"] == []


def test_multi_label_mask_read_without_a_label_is_warned(capsys, tmp_path):
    mask = MASKS / "baseline.nii.gz"
    code, d, _ = _assess_json(
        capsys,
        tmp_path,
        f"""
herniation: {{level: L4-L5, morphology: extrusion}}
mri: [{{date: 2026-01-26, mask: {mask}}}]
""",
    )
    assert code == 0
    assert [w["field"] for w in d["warnings"]] == ["mri[0].label"]
    assert "2 labels (1, 2)" in d["warnings"][0]["message"]
    code, d, _ = _assess_json(
        capsys,
        tmp_path,
        f"""
herniation: {{level: L4-L5, morphology: extrusion}}
mri: [{{date: 2026-01-26, mask: {mask}, label: 2}}]
""",
    )
    assert code == 0 and d["warnings"] == []


def test_clinical_spellings_are_accepted_by_resorb_assess(capsys, tmp_path):
    code, d, err = _assess_json(
        capsys,
        tmp_path,
        """
patient: {sex: M}
symptoms: {red_flags: [saddle_anaesthesia, faecal_incontinence]}
herniation: {level: L4/5, morphology: extrusion}
""",
    )
    assert code == 0, err
    assert d["triage"]["level"] == "emergency"
    assert {r["code"] for r in d["triage"]["reasons"]} == {
        "saddle_anesthesia",
        "fecal_incontinence",
    }


# ----------------------------------------------------- clinician-facing words


def _visible_text(html: str) -> str:
    soup = _soup(html)
    for tag in soup(["style", "script"]):
        tag.decompose()
    return soup.get_text(" ", strip=True)


def test_reports_name_no_python_objects_options_or_record_ids(assessments, ces_pair):
    """Grep of what a clinician reads: no code, no options, no internal ids."""
    pages = [render_html(a) for a in (*assessments.values(), *ces_pair)]
    for html in pages:
        text = _visible_text(html)
        for word in (
            "allow_unverified",
            "resorb.",
            "=True",
            "True",
            "None",
            "evidence_ids",
            "--label",
            "database id",
        ):
            assert word not in text, word
        # Record ids such as ces_emergency_mri_girft never reach the page.
        assert not re.search(r"\b[a-z0-9]+_[a-z0-9_]+\b", text), re.findall(
            r"\b[a-z0-9]+_[a-z0-9_]+\b", text
        )[:5]


def test_a_volume_too_small_even_in_cubic_centimetres_is_not_read_as_cm3(capsys, tmp_path):
    """0.0001 was answered 'if the value was in cm³ it is 0.1 mm³', itself impossible."""
    code, d, _ = _assess_json(
        capsys,
        tmp_path,
        """
herniation: {level: L4-L5, morphology: extrusion}
mri: [{date: 2026-01-20, volume_mm3: 1200}, {date: 2026-06-20, volume_mm3: 0.0001}]
""",
    )
    assert code == 0
    [w] = d["warnings"]
    assert w["field"] == "mri[1].volume_mm3"
    assert "cm³" not in w["message"] and "Check the value and its unit" in w["message"]


def test_report_of_a_case_file_without_red_flags_asks_for_them_in_a_warning_card():
    """A case file that leaves the red flags out gets no green 'No red flag recorded'."""
    case = Case.from_yaml("""
symptoms: {onset_date: 2026-06-01, leg_pain_nrs: 6}
herniation: {level: L4-L5, morphology: protrusion}
""")
    soup = BeautifulSoup(render_html(assess_case(case, as_of=dt.date(2026, 11, 26))), "html.parser")
    card = soup.find(id="triage-card")
    assert "warn" in card["class"]
    text = card.get_text(" ", strip=True)
    assert "Red flags not recorded" in text and "ask about cauda equina signs" in text
    recorded = Case.from_yaml("""
symptoms: {onset_date: 2026-06-01, leg_pain_nrs: 6, red_flags: []}
herniation: {level: L4-L5, morphology: protrusion}
""")
    soup = BeautifulSoup(
        render_html(assess_case(recorded, as_of=dt.date(2026, 11, 26))), "html.parser"
    )
    assert "ok" in soup.find(id="triage-card")["class"]
