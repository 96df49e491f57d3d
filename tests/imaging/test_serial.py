"""Serial comparison: signed resorption percent, grade boundaries, the MDC flag."""

from __future__ import annotations

import math
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resorb.errors import InvalidInputError, WithinMeasurementErrorWarning
from resorb.evidence import evidence_value
from resorb.imaging import (
    DAYS_PER_MONTH,
    ResorptionGrade,
    ResorptionGrading,
    VolumeErrorModel,
    compare_volumes,
    volume_error_model,
)

ZOU = ResorptionGrading(partial_percent=25, significant_percent=50, enlarged_percent=-25)


def test_worked_example_of_orthop_surg_2014():
    """Orthop Surg 2014;6(3):229-35 (PMID 25179358), Fig. 3: 1918.35 -> 653.66 mm3 = 65.93 %."""
    r = compare_volumes(1918.35, 653.66, mdc_mm3=0)
    assert round(r.resorption_percent, 2) == 65.93
    assert r.grade is ResorptionGrade.SIGNIFICANT
    assert r.delta_mm3 == pytest.approx(653.66 - 1918.35)


@pytest.mark.parametrize(
    ("v0", "v1", "grade"),
    [
        (1000, 0, ResorptionGrade.COMPLETE),  # 100 %: fragment no longer visible
        (1000, 1e-9, ResorptionGrade.SIGNIFICANT),  # 99.9999... % is not complete
        (1000, 500, ResorptionGrade.SIGNIFICANT),  # exactly 50 %
        (1000, 500.001, ResorptionGrade.PARTIAL),
        (1000, 750, ResorptionGrade.PARTIAL),  # exactly 25 %
        (1000, 750.001, ResorptionGrade.UNCHANGED),
        (1000, 1000, ResorptionGrade.UNCHANGED),
        (1000, 1249.999, ResorptionGrade.UNCHANGED),
        (1000, 1250, ResorptionGrade.ENLARGED),  # exactly -25 %
        (3, 2.25, ResorptionGrade.PARTIAL),  # 25 % despite binary rounding
        (0.3, 0.15, ResorptionGrade.SIGNIFICANT),  # 50 % despite binary rounding
        (0.3, 0.375, ResorptionGrade.ENLARGED),  # -25 % despite binary rounding
    ],
)
def test_grade_boundaries(v0, v1, grade):
    assert compare_volumes(v0, v1, grading=ZOU, mdc_mm3=0).grade is grade


def test_default_grading_and_mdc_come_from_the_evidence_base():
    thresholds = evidence_value("resorption_grade_thresholds")
    g = ResorptionGrading.from_evidence()
    assert g.partial_percent == thresholds.value["partial_percent"]
    assert g.significant_percent == thresholds.value["significant_percent"]
    assert g.enlarged_percent == thresholds.value["enlarged_percent"]
    assert "pmid:37559207" in g.sources
    assert "assumption:enlarged_percent" in g.sources
    r = compare_volumes(2000, 500)
    rel = evidence_value("volume_relative_sd_two_readers").value
    floor = evidence_value("volume_absolute_sd_floor_mm3").value
    expected = 1.959963984540054 * math.sqrt((rel * 2000) ** 2 + (rel * 500) ** 2 + 2 * floor**2)
    assert r.mdc_mm3 == pytest.approx(expected)
    assert "pmid:18427321" in r.mdc_sources and "assumption" in r.mdc_sources
    same = compare_volumes(2000, 500, readers="same")
    assert same.mdc_mm3 < r.mdc_mm3


def test_a_400_mm3_fragment_that_disappeared_is_beyond_measurement_error():
    """400 -> 0 mm3: the MDC of a small herniation is small (about 201 mm3), so the
    disappearance is a real change, not noise."""
    r = compare_volumes(400, 0)
    assert r.grade.value == "complete"
    assert not r.within_mdc
    assert r.mdc_mm3 == pytest.approx(201, abs=1)


def test_minimal_detectable_change_grows_with_the_size_of_the_herniation():
    m = volume_error_model()
    small, large = m.mdc_mm3(400, 300), m.mdc_mm3(4000, 3000)
    assert large > 8 * small
    # relative to the baseline, the MDC is about the same fraction for large herniations
    assert m.mdc_mm3(2000, 2000) / 2000 == pytest.approx(m.mdc_mm3(4000, 4000) / 4000, rel=0.01)


def test_error_model_refuses_bad_input_naming_the_field():
    with pytest.raises(InvalidInputError, match="readers"):
        compare_volumes(1000, 500, readers="three")
    with pytest.raises(InvalidInputError, match=r"error_model\.relative_sd"):
        VolumeErrorModel(relative_sd=-1, floor_sd_mm3=1)


def test_change_within_mdc_is_flagged_and_warned_when_graded_as_change():
    with pytest.warns(WithinMeasurementErrorWarning, match="within the minimal detectable"):
        r = compare_volumes(1000, 600, grading=ZOU, mdc_mm3=400)  # |delta| == MDC
    assert r.grade is ResorptionGrade.PARTIAL
    assert r.within_mdc


def test_change_beyond_mdc_is_not_flagged():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = compare_volumes(1000, 599.9, grading=ZOU, mdc_mm3=400)
    assert not r.within_mdc


def test_unchanged_grade_within_mdc_is_flagged_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = compare_volumes(1000, 900, grading=ZOU, mdc_mm3=400)
    assert r.within_mdc and r.grade is ResorptionGrade.UNCHANGED


def test_warning_can_be_switched_off():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = compare_volumes(1000, 0, grading=ZOU, mdc_mm3=2000, warn=False)
    assert r.within_mdc and r.grade is ResorptionGrade.COMPLETE


def test_rate_per_month_is_linear_over_the_interval():
    r = compare_volumes(1500, 750, days=2 * DAYS_PER_MONTH, grading=ZOU, mdc_mm3=0)
    assert r.resorption_percent_per_month == pytest.approx(25.0)
    assert r.delta_mm3_per_month == pytest.approx(-375.0)
    assert compare_volumes(1500, 750, grading=ZOU, mdc_mm3=0).resorption_percent_per_month is None


def test_enlargement_gives_negative_resorption():
    r = compare_volumes(800, 1200, grading=ZOU, mdc_mm3=0)
    assert r.resorption_percent == pytest.approx(-50.0)
    assert r.grade is ResorptionGrade.ENLARGED
    assert r.delta_mm3 == pytest.approx(400.0)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"v0_mm3": 0, "v1_mm3": 5}, "v0_mm3"),
        ({"v0_mm3": -10, "v1_mm3": 5}, "v0_mm3"),
        ({"v0_mm3": math.nan, "v1_mm3": 5}, "v0_mm3"),
        ({"v0_mm3": 10, "v1_mm3": -5}, "v1_mm3"),
        ({"v0_mm3": 10, "v1_mm3": math.inf}, "v1_mm3"),
        ({"v0_mm3": 10, "v1_mm3": 5, "days": 0}, "days"),
        ({"v0_mm3": 10, "v1_mm3": 5, "mdc_mm3": -1}, "mdc_mm3"),
        ({"v0_mm3": 10, "v1_mm3": "x"}, "v1_mm3"),
    ],
)
def test_bad_input_names_the_field(kwargs, field):
    with pytest.raises(InvalidInputError, match=field):
        compare_volumes(**kwargs)


@pytest.mark.parametrize(
    ("p", "s", "e"),
    [(50, 25, -25), (25, 50, 10), (0, 50, -25), (25, 100, -25), (25, 50, float("nan"))],
)
def test_inconsistent_thresholds_are_rejected(p, s, e):
    with pytest.raises(InvalidInputError, match="grading"):
        ResorptionGrading(partial_percent=p, significant_percent=s, enlarged_percent=e)


def test_thresholds_left_out_come_from_the_evidence_base():
    default = ResorptionGrading()
    assert default == ResorptionGrading.from_evidence()
    one = ResorptionGrading(significant_percent=30)
    assert (one.partial_percent, one.significant_percent, one.enlarged_percent) == (
        default.partial_percent,
        30.0,
        default.enlarged_percent,
    )
    assert one.sources == ("user:significant_percent", *default.sources)
    assert ZOU.sources == ("user",)


def test_custom_thresholds_change_the_grade():
    """The Suzhou definition of prominent reabsorption (>= 30 %) as a custom threshold."""
    suzhou = ResorptionGrading(partial_percent=10, significant_percent=30, enlarged_percent=-10)
    assert compare_volumes(1000, 690, grading=suzhou, mdc_mm3=0).grade is (
        ResorptionGrade.SIGNIFICANT
    )
    assert compare_volumes(1000, 690, grading=ZOU, mdc_mm3=0).grade is ResorptionGrade.PARTIAL


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=1e-3, max_value=1e7, allow_nan=False))
def test_resorption_of_equal_volumes_is_zero_and_unchanged(v):
    r = compare_volumes(v, v, grading=ZOU, mdc_mm3=0)
    assert r.resorption_percent == 0.0
    assert r.delta_mm3 == 0.0
    assert r.grade is ResorptionGrade.UNCHANGED


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=1e-2, max_value=1e6), st.floats(min_value=0, max_value=1e6))
def test_resorption_percent_is_at_most_100_and_matches_the_formula(v0, v1):
    r = compare_volumes(v0, v1, grading=ZOU, mdc_mm3=0)
    assert r.resorption_percent <= 100.0
    assert r.resorption_percent == pytest.approx((v0 - v1) / v0 * 100, rel=1e-12, abs=1e-9)
    assert (r.grade is ResorptionGrade.COMPLETE) == (v1 == 0)
