"""Score tables come from the evidence base, and the JOA grade boundaries follow the forms."""

import pytest

from resorb.evidence import evidence_value
from resorb.scores import (
    JOA_RECOVERY_GRADES_CHINESE,
    MCID,
    MCID_RELATIVE_ID,
    ODI_BANDS,
    _joa,
    _odi,
    _pain,
    _tables,
    joa_recovery_grade,
    mcid_improvement,
    odi_band,
)


@pytest.mark.parametrize(
    ("rate", "grade"),
    [
        (100.0, "cured"),  # "100 % cured": inclusive
        (99.99, "markedly effective"),
        (60.01, "markedly effective"),
        (60.0, "effective"),  # "> 60 % markedly effective": 60 itself is "25-60 % effective"
        (25.0, "effective"),  # "25-60 % effective": inclusive at 25
        (24.99, "ineffective"),  # "< 25 % ineffective"
    ],
)
def test_joa_grade_boundaries_follow_the_chinese_forms(rate, grade):
    """Forms: 100 % cured, > 60 % markedly effective, 25-60 % effective, < 25 % ineffective."""
    assert joa_recovery_grade(rate) == grade


def test_joa_grade_thresholds_carry_their_inclusiveness():
    assert tuple(JOA_RECOVERY_GRADES_CHINESE) == (
        (100.0, True, "cured"),
        (60.0, False, "markedly effective"),
        (25.0, True, "effective"),
    )


def test_joa_grade_accepts_custom_tables_with_and_without_the_inclusive_flag():
    table = ((75.0, True, "excellent"), (50.0, False, "good"))
    assert joa_recovery_grade(75, table, below="poor") == "excellent"
    assert joa_recovery_grade(50, table, below="poor") == "poor"
    assert joa_recovery_grade(50, ((50.0, "good"),), below="poor") == "good"


def test_score_tables_are_the_evidence_records():
    bands = evidence_value("odi_band_upper_bounds_percent").value
    assert tuple(ODI_BANDS) == tuple(sorted((v, k) for k, v in bands.items()))
    rel = evidence_value(MCID_RELATIVE_ID).value
    for scale, record in {
        "nrs": "mcid_nrs",
        "vas_mm": "mcid_vas_mm",
        "odi_percent": "mcid_odi",
        "rmdq": "mcid_rmdq",
    }.items():
        assert MCID[scale].absolute == evidence_value(record).value
        assert MCID[scale].relative_percent == rel
        assert MCID[scale].evidence_id == record
    grades = evidence_value("joa_recovery_grades_chinese_percent")
    assert grades.assumption and grades.derivation  # the choice of table is ours
    assert set(grades.value) == {"cured_at_least", "markedly_effective_above", "effective_at_least"}


def test_changing_an_evidence_record_changes_the_score_tables(monkeypatch):
    """One copy of each number: the tables are rebuilt from ``evidence_value`` only."""
    real = _tables._value
    patched = {
        "mcid_nrs": 3.0,
        "mcid_relative_percent": 50.0,
        "odi_band_upper_bounds_percent": {"low": 50.0, "high": 100.0},
        "joa_recovery_grades_chinese_percent": {"good_above": 50.0},
    }
    monkeypatch.setattr(_tables, "_value", lambda vid: patched.get(vid, real(vid)))
    monkeypatch.setattr(_pain, "MCID", _tables.LazyMapping(_pain._mcid_table))
    monkeypatch.setattr(_odi, "ODI_BANDS", _tables.LazySequence(_odi._odi_bands))
    assert _pain.MCID["nrs"].absolute == 3.0
    r = _pain.mcid_improvement("nrs", 8, 6)  # 2 points, 25 %: now below both
    assert not r.reached
    assert _odi.odi_band(30.0) == "low"
    grades = _joa._chinese_grades()
    assert grades == ((50.0, False, "good"),)
    assert joa_recovery_grade(50.0, grades) == "ineffective"


def test_default_tables_still_give_the_published_examples():
    assert odi_band(20.0) == "minimal disability"
    assert odi_band(20.5) == "moderate disability"
    assert mcid_improvement("nrs", 7, 5).reached_absolute
