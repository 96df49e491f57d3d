"""The mask upload in headless chromium (Debian's, through playwright), JavaScript off:
a two-label Slicer file, the label choice, the volume shown. Screenshots: the test's tmp."""

from __future__ import annotations

import shutil

import nrrd
import numpy as np
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


def test_two_label_mask_is_measured_on_the_label_the_clinician_picks(
    browser, db_url, registry, tmp_path
):
    labels = np.zeros((20, 20, 8), dtype=np.uint8)
    labels[2:12, 2:12, 1:6] = 1  # disc: 500 voxels of 1 mm3
    labels[14:18, 5:9, 2:5] = 2  # herniation: 48 voxels
    mask = tmp_path / "case.seg.nrrd"
    nrrd.write(
        str(mask),
        labels,
        {
            "space": "left-posterior-superior",
            "space directions": np.diag([0.5, 0.5, 4.0]),
            "space origin": np.zeros(3),
            "Segment0_LabelValue": "1",
            "Segment0_Name": "disc",
            "Segment1_LabelValue": "2",
            "Segment1_Name": "herniation",
        },
        index_order="F",
    )
    pid = registry.create_patient(
        {"pseudonym": "BROWSER-MASK", "birth_year": 1975, "sex": "male"}, actor="doc"
    ).id
    app = create_app(db_url, secret_key=SECRET, registry=registry)
    with serve_in_thread(app) as base:
        page = browser.new_context(
            java_script_enabled=False, viewport={"width": 1200, "height": 900}
        ).new_page()
        page.goto(f"{base}/patients/{pid}")
        page.fill("#username", "doc")
        page.fill("#password", PASSWORD)
        page.click("form.stacked button[type=submit]")
        page.get_by_role("link", name="MRI from a mask", exact=True).click()
        page.fill("#f-date", "2026-03-02")
        page.select_option("#f-level", "L4-L5")
        page.set_input_files("#f-mask", str(mask))
        page.click("form.stacked button[type=submit]")
        page.screenshot(path=tmp_path / "01-labels.png", full_page=True)
        assert page.locator("#e-label").is_visible()
        table = page.locator("table").inner_text()
        assert "herniation" in table and "48.0 mm³" in table and "500.0 mm³" in table
        assert page.input_value("#f-date") == "2026-03-02"  # input kept

        page.check("input[name=label][value='2']")
        page.set_input_files("#f-mask", str(mask))
        page.click("form.stacked button[type=submit]")
        page.screenshot(path=tmp_path / "02-saved.png", full_page=True)
        assert "48.0 mm³ measured on label 2" in page.locator(".notice").first.inner_text()
        assert "48 mm³" in page.locator("table.timeline").first.inner_text()
    (mri,) = registry.list_mri(pid)
    assert mri.volume_mm3 == pytest.approx(48.0) and mri.level == "L4-L5"
