"""End to end in headless chromium (Debian's, through playwright): login, new patient,
two MRIs, findings, assessment, PDF download. Screenshots go to the test's temp folder."""

from __future__ import annotations

import shutil

import pytest
from _server import serve_in_thread
from _webtools import PASSWORD, SECRET

from resorb.web import create_app

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser():
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def server(db_url, registry):
    app = create_app(db_url, secret_key=SECRET, registry=registry)
    with serve_in_thread(app) as base:
        yield base


def _sign_in(page, base):
    page.goto(f"{base}/patients")
    assert "/login" in page.url
    page.fill("#username", "doc")
    page.fill("#password", PASSWORD)
    page.click("form.stacked button[type=submit]")
    page.wait_for_url(f"{base}/patients")


def _add_mri(page, date, volume):
    page.get_by_role("link", name="New MRI", exact=True).click()
    page.fill("#f-date", date)
    page.select_option("#f-level", "L4-L5")
    page.fill("#f-volume_mm3", volume)
    page.click("form.stacked button[type=submit]")


def test_clinician_flow_without_javascript(browser, server, tmp_path):
    """The whole flow with JavaScript switched off: the pages need none."""
    from pypdf import PdfReader

    context = browser.new_context(
        java_script_enabled=False, accept_downloads=True, viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    _sign_in(page, server)
    page.screenshot(path=tmp_path / "01-patients.png", full_page=True)

    page.get_by_role("link", name="New patient", exact=True).click()
    page.fill("#f-pseudonym", "BROWSER-1")
    page.fill("#f-birth_year", "1899")
    page.select_option("#f-sex", "female")
    page.click("form.stacked button[type=submit]")
    assert page.locator("#e-birth_year").is_visible()  # message at the field ...
    assert page.input_value("#f-pseudonym") == "BROWSER-1"  # ... input kept
    page.screenshot(path=tmp_path / "02-patient-error.png", full_page=True)
    page.fill("#f-birth_year", "1979")
    page.click("form.stacked button[type=submit]")
    assert page.locator("h1").inner_text().startswith("BROWSER-1")

    _add_mri(page, "2026-01-15", "1800")
    assert "saved" in page.locator(".notice").first.inner_text()
    _add_mri(page, "2026-06-15", "700")
    assert "shrank by 61 %" in page.content()  # (1800 - 700) / 1800 = 61.1 %, said in words
    page.get_by_role("link", name="Findings", exact=True).click()
    page.select_option("#f-parent", index=1)
    page.select_option("#f-level", "L4-L5")
    page.select_option("#f-morphology", "sequestration")
    page.click("form.stacked button[type=submit]")
    page.screenshot(path=tmp_path / "03-timeline.png", full_page=True)

    page.get_by_role("link", name="Assessment", exact=True).click()
    assert page.locator("text=Probability of resorption").is_visible()
    page.screenshot(path=tmp_path / "04-assessment.png", full_page=True)
    with page.expect_download() as info:
        page.get_by_role("link", name="Download PDF").click()
    pdf_path = tmp_path / "assessment.pdf"
    info.value.save_as(pdf_path)
    assert pdf_path.read_bytes().startswith(b"%PDF-")
    assert len(PdfReader(pdf_path).pages) >= 1
    context.close()


def test_live_search_and_no_csp_violations_with_javascript(browser, server, registry):
    from playwright.sync_api import expect

    for i in range(3):
        registry.create_patient(
            {"pseudonym": f"LIVE-{i}", "birth_year": 1970, "sex": "male"}, actor="doc"
        )
    registry.create_patient(
        {"pseudonym": "OTHER-1", "birth_year": 1970, "sex": "male"}, actor="doc"
    )
    context = browser.new_context()
    page = context.new_page()
    messages = []
    page.on("console", lambda m: messages.append(m.text))
    _sign_in(page, server)
    page.fill("input[data-live-search]", "LIVE")
    # The page's CSP forbids eval, so wait with locators rather than wait_for_function.
    expect(page.locator("#patient-rows tr")).to_have_count(3)
    expect(page.locator("#patient-rows")).not_to_contain_text("OTHER-1")
    assert "q=LIVE" in page.url
    page.goto(f"{server}/cohort")
    assert not [m for m in messages if "Content Security Policy" in m or "Refused" in m]
    context.close()
