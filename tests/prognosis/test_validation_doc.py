"""docs/validation.md is produced by code and kept true.

Recipe: ``python benchmarks/validation.py`` regenerates the file from the evidence
base and the model; this test regenerates it in memory and compares.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location(
        "resorb_validation_doc", ROOT / "benchmarks" / "validation.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_validation_document_is_what_the_code_produces():
    module = _script()
    assert (ROOT / "docs" / "validation.md").read_text(encoding="utf-8") == module.render()


def test_every_validation_row_is_held_out_and_sourced():
    module = _script()
    rows = module.validation_rows()
    from resorb.prognosis import calibration_table

    fitted = {r["evidence_id"] for r in calibration_table() if r["role"] == "fitted"}
    for r in rows:
        assert r["evidence_id"] not in fitted, r["cohort"]
        assert r["source"]
        lo, hi = r["predicted_range"]
        assert 0.0 <= lo <= r["predicted"] <= hi <= 1.0


def test_a_sequestration_cohort_is_predicted_inside_its_observed_interval():
    """Ahn 2000: 4 of 4 sequestered herniations decreased (not used by the model)."""
    row = next(r for r in _script().validation_rows() if r["cohort"] == "Ahn 2000")
    assert row["agrees"] is True


def test_observed_intervals_agree_with_statsmodels_wilson():
    """Recipe: statsmodels.stats.proportion.proportion_confint(k, n, method="wilson")."""
    from statsmodels.stats.proportion import proportion_confint

    module = _script()
    for k, n in ((4, 4), (25, 72), (7, 77), (486, 505), (14, 15), (0, 16)):
        lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
        assert module._wilson(k, n) == (pytest.approx(lo, abs=1e-9), pytest.approx(hi, abs=1e-9))
