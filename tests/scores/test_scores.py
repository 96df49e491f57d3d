"""Outcome scores against the worked examples of their sources."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from resorb.errors import InvalidScoreError
from resorb.scores import (
    JoaItems,
    joa_recovery_grade,
    joa_recovery_rate_percent,
    mcid_improvement,
    nrs_from_vas_mm,
    odi_band,
    odi_percent,
    rmdq_total,
)


def test_odi_all_sections_worked_example():
    """Fairbank & Pynsent 2000 (Spine 25:2940-52): total 16 of 50 -> 32 %."""
    r = odi_percent([2, 2, 2, 2, 2, 2, 1, 1, 1, 1])
    assert r.odi_percent == pytest.approx(32.0)
    assert r.answered == 10
    assert r.band == "moderate disability"


def test_odi_skipped_section_removed_from_denominator():
    """Fairbank & Pynsent 2000: one section skipped, 16 of 45 -> 35.6 %."""
    r = odi_percent([2, 2, 2, 2, 2, 2, 2, 1, 1, None])
    assert r.odi_percent == pytest.approx(16 / 45 * 100)
    assert round(r.odi_percent, 1) == 35.6
    assert r.answered == 9


@pytest.mark.parametrize(
    ("percent", "band"),
    [
        (0, "minimal disability"),
        (20, "minimal disability"),
        (20.1, "moderate disability"),
        (40, "moderate disability"),
        (60, "severe disability"),
        (80, "crippled"),
        (100, "bed-bound or exaggerating"),
    ],
)
def test_odi_bands(percent, band):
    assert odi_band(percent) == band


@pytest.mark.parametrize(
    "answers", [[1] * 9, [1] * 11, [None] * 10, [6] + [1] * 9, [-1] + [1] * 9, [True] + [1] * 9]
)
def test_odi_bad_answers_are_refused(answers):
    with pytest.raises(InvalidScoreError):
        odi_percent(answers)


@given(
    st.lists(st.one_of(st.none(), st.integers(0, 5)), min_size=10, max_size=10).filter(
        lambda a: any(x is not None for x in a)
    )
)
def test_odi_stays_in_range(answers):
    assert 0 <= odi_percent(answers).odi_percent <= 100


def _joa(**kw):
    items = dict(
        low_back_pain=3,
        leg_pain=3,
        gait=3,
        slr=2,
        sensory=2,
        motor=2,
        adl_turning_over=2,
        adl_standing=2,
        adl_washing=2,
        adl_leaning_forward=2,
        adl_sitting=2,
        adl_lifting=2,
        adl_walking=2,
        bladder=0,
    )
    items.update(kw)
    return JoaItems(**items)


def test_joa_maximum_is_29_and_bladder_subtracts():
    """JOA 1986 score sheet as reproduced in the reference notes: 9 + 6 + 14 = 29; bladder to -6."""
    assert _joa().total == 29
    assert _joa(bladder=-6).total == 23
    zero = {
        k: 0
        for k in (
            "low_back_pain",
            "leg_pain",
            "gait",
            "slr",
            "sensory",
            "motor",
            "adl_turning_over",
            "adl_standing",
            "adl_washing",
            "adl_leaning_forward",
            "adl_sitting",
            "adl_lifting",
            "adl_walking",
        )
    }
    assert JoaItems(**zero, bladder=-6).total == -6


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"gait": 4}, "joa_items.gait"),
        ({"slr": 3}, "joa_items.slr"),
        ({"bladder": -9}, "joa_items.bladder"),
        ({"bladder": -1}, "joa_items.bladder"),
    ],
)
def test_joa_items_out_of_range(kw, field):
    with pytest.raises(InvalidScoreError) as info:
        _joa(**kw)
    assert info.value.field == field


def test_joa_recovery_rate_worked_example():
    """Recovery rate = (post - pre) / (29 - pre) x 100 (BioMed Res Int 2019): 12 -> 24 is 70.6 %."""
    assert joa_recovery_rate_percent(12, 24) == pytest.approx(12 / 17 * 100)
    assert joa_recovery_rate_percent(12, 29) == pytest.approx(100)
    assert joa_recovery_rate_percent(12, 10) < 0


def test_joa_recovery_rate_undefined_at_ceiling():
    with pytest.raises(InvalidScoreError, match="pre"):
        joa_recovery_rate_percent(29, 29)
    with pytest.raises(InvalidScoreError, match="post"):
        joa_recovery_rate_percent(10, 30)


@pytest.mark.parametrize(
    ("rate", "grade"),
    [
        (100, "cured"),
        (61, "markedly effective"),
        (60, "effective"),
        (59.9, "effective"),
        (25, "effective"),
        (24.9, "ineffective"),
    ],
)
def test_joa_recovery_grades_follow_the_configured_table(rate, grade):
    assert joa_recovery_grade(rate) == grade


def test_mcid_absolute_and_relative():
    """Ostelo 2008 (PMID 18165753): NRS 2 points or 30 %."""
    r = mcid_improvement("nrs", 7, 5)
    assert r.reached_absolute and not r.reached_relative and r.reached
    r = mcid_improvement("nrs", 8, 7)  # 1 point, 12.5 %
    assert not r.reached
    r = mcid_improvement("odi_percent", 30, 20)
    assert r.reached_absolute and r.reached_relative
    r = mcid_improvement("vas_mm", 40, 26)
    assert not r.reached_absolute and r.reached_relative  # 35 % improvement, 14 mm


def test_mcid_unknown_scale_and_range():
    with pytest.raises(InvalidScoreError, match="scale"):
        mcid_improvement("pain", 1, 0)
    with pytest.raises(InvalidScoreError, match="followup"):
        mcid_improvement("rmdq", 10, 30)


def test_rmdq_counts_yes_answers():
    assert rmdq_total([1] * 5 + [0] * 19) == 5
    with pytest.raises(InvalidScoreError):
        rmdq_total([1] * 23)
    with pytest.raises(InvalidScoreError, match=r"rmdq_answers\.3"):
        rmdq_total([1, 0, 2] + [0] * 21)


def test_vas_to_nrs():
    assert nrs_from_vas_mm(65) == 6.5
    with pytest.raises(InvalidScoreError):
        nrs_from_vas_mm(101)
