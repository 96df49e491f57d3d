"""A forecast conditioned on the patient's MRIs follows measured growth.

Situation of examples/cases/protrusion_grew_followup.yaml: a protrusion measured at 600
and, six months later, 1,350 mm3 (beyond the minimal detectable change of the pair). The
forecast used to stay near 790 mm3 with a 95 % band that excluded 1,350 and gave growth
of >= 25 % by 12 months 28 %: the SD taken at each reading pulled every course towards the
smaller reading, a flat prior on the true baseline favoured shrinking courses, and the
growth course could not reach 2.25 x.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from resorb.imaging import volume_error_model
from resorb.prognosis import forecast_volumes

FIRST = dt.date(2026, 2, 23)


def _forecast(v1, when, v0=600.0):
    return forecast_volumes([FIRST, when], [v0, v1], morphology="protrusion")


def _at(fc, months):
    i = fc.horizons_months.index(months)
    return fc.volume_median_mm3[i], fc.volume_interval_mm3[i]


def test_protrusion_grown_600_to_1350_is_forecast_near_its_measured_volume():
    fc = _forecast(1350.0, dt.date(2026, 8, 17))
    sd = volume_error_model("two").sd_mm3(1350.0)
    median, (lo, hi) = _at(fc, 6)
    assert abs(median - 1350.0) < sd  # within one measurement SD of the reading
    assert lo < 1350.0 < hi
    assert median > 1000.0
    assert fc.growth_flagged


def test_protrusion_grown_640_to_1050_at_3_months_forecast_follows_the_reading():
    fc = _forecast(1050.0, dt.date(2026, 5, 23), v0=640.0)
    median, (lo, hi) = _at(fc, 3)
    assert abs(median - 1050.0) < volume_error_model("two").sd_mm3(1050.0)
    assert lo < 1050.0 < hi and median > 640.0


def test_measured_growth_beyond_error_raises_the_growth_probability_with_its_size():
    """Growth measured beyond error makes growth far likelier than for an unchanged
    herniation (4 %), and the more it grew the likelier: 1,350 > 1,050 > 600 mm3."""
    grown = _forecast(1350.0, dt.date(2026, 8, 17)).probability_growth_by_12_months
    less = _forecast(1050.0, dt.date(2026, 8, 17)).probability_growth_by_12_months
    same = _forecast(600.0, dt.date(2026, 8, 17)).probability_growth_by_12_months
    much = _forecast(2400.0, dt.date(2026, 8, 17)).probability_growth_by_12_months
    assert grown >= 0.38 and grown > 8 * same
    assert much > grown > less > same
    assert much > 0.7


def test_unchanged_and_shrinking_series_are_forecast_near_their_readings_too():
    """The likelihood change is not a push towards growth: 600 -> 600 stays near 600 and
    1,500 -> 600 mm3 at 4 months stays near 600."""
    flat = _forecast(600.0, dt.date(2026, 8, 17))
    assert abs(_at(flat, 6)[0] - 600.0) < 60.0
    shrunk = forecast_volumes(
        [FIRST, dt.date(2026, 6, 23)], [1500.0, 600.0], morphology="extrusion"
    )
    assert abs(_at(shrunk, 6)[0] - 600.0) < volume_error_model("two").sd_mm3(600.0)
    assert np.isclose(sum(shrunk.course_probabilities.values()), 1.0)
