"""HTML and PDF rendering of the assessment report.

HTML is parsed with BeautifulSoup; PDF pages are counted with pypdf, and page 1
is rasterised with poppler's pdftoppm where it is installed
(``apt-get install -y poppler-utils``).
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess

import pytest
from bs4 import BeautifulSoup

from resorb import DISCLAIMER
from resorb.reports import render_html, render_pdf, write_atomic

SECTIONS = (
    "summary",
    "findings",
    "measurements",
    "forecast",
    "resorption",
    "management",
    "therapies",
    "scores",
    "sources",
)


@pytest.fixture(scope="module")
def pages(assessments):
    return {name: render_html(a) for name, a in assessments.items()}


def _soup(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


def _links(soup: BeautifulSoup) -> set[str]:
    return {a["href"] for a in soup.find_all("a", href=True)}


def test_every_report_has_its_sections_and_the_disclaimer(pages):
    for name, html in pages.items():
        soup = _soup(html)
        for section in SECTIONS:
            assert soup.find(id=section) is not None, (name, section)
        assert soup.find(id="disclaimer").get_text(strip=True) == DISCLAIMER
        assert html.count(DISCLAIMER) == 2  # at the top and at the end


def test_key_answer_comes_first(pages, assessments):
    soup = _soup(pages["sequestration_rim_three_mri"])
    first = soup.find("section")
    assert first["id"] == "summary"
    card = first.find(id="probability-card").get_text(" ", strip=True)
    assert "> 99 %" in card and "95 % interval" in card
    urgent = _soup(pages["cauda_equina_red_flags"]).find(id="triage-card")
    assert "urgent" in urgent["class"]
    assert "Emergency: suspected cauda equina syndrome" in urgent.get_text()


def test_every_factor_links_its_source(pages, assessments):
    for name, html in pages.items():
        soup = _soup(html)
        rows = soup.select("#factors tr.factor")
        resorption = assessments[name].to_dict()["resorption"]
        factors = [] if resorption["withheld"] else resorption["factors"]
        assert len(rows) == len(factors), name
        for row, f in zip(rows, factors, strict=True):
            hrefs = {a["href"] for a in row.select("a.factor-source")}
            src = f["source"]
            expected = (
                f"https://doi.org/{src['doi']}"
                if src.get("doi")
                else f"https://pubmed.ncbi.nlm.nih.gov/{src['pmid']}/"
                if src.get("pmid")
                else src.get("registration_url") or src["url"]
            )
            assert expected in hrefs, (name, f["name"])


def test_sources_are_numbered_with_doi_or_pmid_links(pages, assessments):
    for name, html in pages.items():
        soup = _soup(html)
        items = soup.select("ol.sources li")
        sources = assessments[name].to_dict()["sources"]
        assert [int(li["value"]) for li in items] == [s["n"] for s in sources]
        for li, s in zip(items, sources, strict=True):
            hrefs = {a["href"] for a in li.select("a.source-link")}
            if s["doi"]:
                assert f"https://doi.org/{s['doi']}" in hrefs
            if s["pmid"]:
                assert f"https://pubmed.ncbi.nlm.nih.gov/{s['pmid']}/" in hrefs
            assert hrefs, (name, s)
        # Every in-text reference points at a listed source.
        targets = {f"#src-{s['n']}" for s in sources}
        assert {a["href"] for a in soup.select("sup.ref a")} <= targets


def test_report_is_self_contained(pages):
    for html in pages.values():
        soup = _soup(html)
        assert not soup.find_all("link") and not soup.find_all("script")
        for img in soup.find_all("img"):
            assert img["src"].startswith("data:image/png;base64,")
        assert soup.find("style") is not None


def test_plots_are_drawn_when_there_is_something_to_draw(pages):
    seq = _soup(pages["sequestration_rim_three_mri"])
    assert seq.find(id="volume-plot") is not None
    assert seq.find(id="factor-plot") is not None
    ces = _soup(pages["cauda_equina_red_flags"])
    assert ces.find(id="volume-plot") is None  # withheld beside the emergency referral
    assert ces.find(id="factor-plot") is None


def test_management_steps_show_dates_and_sources(pages):
    soup = _soup(pages["protrusion_modic_stable"])
    steps = soup.select("#management tr.step")
    assert len(steps) >= 5
    text = soup.find(id="management").get_text(" ", strip=True)
    assert "2025-12-15" in text  # onset 2025-11-03 + 6 weeks
    assert all(step.select("sup.ref a") for step in steps)


def test_report_renders_from_the_stored_dict_too(assessments, pages):
    a = assessments["protrusion_modic_stable"]
    assert render_html(a.to_dict()) == pages["protrusion_modic_stable"]


@pytest.fixture(scope="module")
def pdf_bytes(assessments):
    return render_pdf(assessments["sequestration_rim_three_mri"])


def test_pdf_has_a_few_pages(pdf_bytes):
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf_bytes))
    assert 2 <= len(reader.pages) <= 8
    text = reader.pages[0].extract_text()
    assert "resorption assessment" in text and "not a medical device" in text


@pytest.mark.skipif(
    shutil.which("pdftoppm") is None, reason="pdftoppm (poppler-utils) is not installed"
)
def test_pdf_first_page_rasterises_to_a_non_blank_png(pdf_bytes, tmp_path):
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(pdf_bytes)
    subprocess.run(
        ["pdftoppm", "-r", "40", "-png", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
        check=True,
        timeout=60,
    )
    png = next(tmp_path.glob("page*.png"))
    from matplotlib.image import imread

    img = imread(png)
    assert img.shape[0] > img.shape[1] > 200  # portrait A4
    assert img.std() > 0.05  # not a blank page


def test_pdf_written_to_a_path_atomically(assessments, tmp_path):
    target = tmp_path / "out.pdf"
    data = render_pdf(assessments["protrusion_modic_stable"], target)
    assert target.read_bytes() == data and data.startswith(b"%PDF")
    assert [p.name for p in tmp_path.iterdir()] == ["out.pdf"]


def test_failed_write_leaves_the_old_file_and_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "report.html"
    target.write_text("old report")

    def boom(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        write_atomic(target, "<html>new</html>")
    assert target.read_text() == "old report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_rim_factor_row_shows_the_trial_registration_and_supporting_studies(pages):
    """The bull's-eye counts have no DOI/PMID: the row names the registration and keeps
    the DOI studies apart as supporting the direction."""
    soup = _soup(pages["sequestration_rim_three_mri"])
    rows = [r for r in soup.select("#factors tr.factor") if "Rim enhancement" in r.get_text()]
    assert len(rows) == 1
    row = rows[0]
    reg = row.select_one("a.registration")
    assert reg is not None and reg.get_text() == "ChiCTR2400094586"
    assert "ChiCTR2400094586" in reg["href"]
    assert row.select("a.supporting") and "direction supported by" in row.get_text()
    assert "trial registration" in soup.select_one("ol.sources").get_text()


def test_score_rows_show_the_numbers_of_the_assessment(pages, assessments):
    """JOA maximum and MCID thresholds come from the assessment (scores.JOA_MAX, evidence)."""
    a = assessments["sequestration_rim_three_mri"].to_dict()["scores"]
    text = _soup(pages["sequestration_rim_three_mri"]).get_text(" ", strip=True)
    assert f"/ {a['joa']['max']} (subjective" in text
    rel = a["mcid"]["thresholds"]["nrs"]["relative_percent"]
    assert f"points or {rel:g} %" in text
