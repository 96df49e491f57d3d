"""Cox / Weibull AFT, Aalen-Johansen, time-dependent metrics, Riley sample size."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from resorb.cohort import (
    FittedCox,
    FittedWeibullAFT,
    aalen_johansen,
    max_r2_cs,
    riley_sample_size,
    truncated_c_index,
)
from resorb.errors import InvalidInputError


def test_cox_equals_lifelines_on_dummy_coded_data(sim_cohort):
    """Recipe: ``CoxPHFitter().fit(d, 'time_months', 'E')`` with
    ``E = (event == 1)`` (surgery censored: cause-specific hazard) and
    ``pd.get_dummies(morphology, rim_enhancement, drop_first=True)`` with the
    scale's first level (bulge, none) as reference. lifelines stops its
    Newton iterations earlier than coxph (our fit equals coxph to 1e-12 in
    test_rms_cox.py), hence 1e-5 here."""
    from lifelines import CoxPHFitter

    df = sim_cohort
    m = FittedCox.from_data(
        df, time="time_months", event="event", predictors="age_years,morphology,rim_enhancement"
    )
    d = pd.DataFrame({"age_years": df.age_years.astype(float)})
    for col, levels in (
        ("morphology", ["protrusion", "extrusion", "sequestration"]),
        ("rim_enhancement", ["partial", "complete"]),
    ):
        for lev in levels:
            d[f"{col}[{lev}]"] = (df[col] == lev).astype(float)
    d["time_months"] = df.time_months
    d["E"] = (df.event == 1).astype(int)
    ref = CoxPHFitter().fit(d, "time_months", "E")
    ours = m.summary["coef"]
    np.testing.assert_allclose(ours.to_numpy(), ref.params_[ours.index].to_numpy(), rtol=1e-5)
    assert m.competing == int((df.event == 2).sum())
    assert m.c_index() == pytest.approx(ref.concordance_index_, abs=1e-10)


def test_weibull_aft_equals_lifelines(sim_cohort):
    from lifelines import WeibullAFTFitter

    df = sim_cohort
    m = FittedWeibullAFT.from_data(
        df, time="time_months", event="event", predictors="age_years,volume_mm3"
    )
    d = (
        df[["age_years", "volume_mm3", "time_months"]]
        .astype(float)
        .assign(E=(df.event == 1).astype(int))
    )
    ref = WeibullAFTFitter().fit(d, "time_months", "E")
    np.testing.assert_allclose(m.fitter.params_.to_numpy(), ref.params_.to_numpy(), rtol=1e-5)


def test_aalen_johansen_equals_lifelines(sim_cohort):
    """Recipe: ``AalenJohansenFitter(calculate_variance=False).fit(T, E,
    event_of_interest=k)``; the simulated times have no ties, so lifelines'
    jitter does not apply. Compare the cumulative incidence at event times.
    (The simulated times are rounded to 0.001 month; a distinct offset of
    1e-7 * row number makes them unique.)"""
    from lifelines import AalenJohansenFitter

    df = sim_cohort.assign(time_months=sim_cohort.time_months + 1e-7 * np.arange(600))
    assert df.time_months.is_unique
    for cause in (1, 2):
        ours = aalen_johansen(df.time_months, df.event, cause=cause)
        ref = (
            AalenJohansenFitter(calculate_variance=False)
            .fit(df.time_months, df.event, event_of_interest=cause)
            .cumulative_density_
        )
        ref_at = ref.iloc[:, 0].reindex(ours.index, method="ffill")
        np.testing.assert_allclose(ours["cif"].to_numpy(), ref_at.to_numpy(), atol=1e-12)


def test_cumulative_incidences_and_survival_add_to_one(sim_cohort):
    from resorb.cohort import kaplan_meier_at

    df = sim_cohort
    t = 12.0
    cif1 = aalen_johansen(df.time_months, df.event, cause=1)["cif"]
    cif2 = aalen_johansen(df.time_months, df.event, cause=2)["cif"]
    any_event = (df.event > 0).astype(float)
    total = cif1[cif1.index <= t].iloc[-1] + cif2[cif2.index <= t].iloc[-1]
    assert total == pytest.approx(1 - kaplan_meier_at(df.time_months, any_event, t), abs=1e-12)


def test_truncated_c_equals_lifelines_on_data_censored_at_the_horizon(sim_cohort):
    """Recipe: censor everything after the horizon (time = horizon + 1e-6,
    event 0) and call ``lifelines.utils.concordance_index(time, -risk, event)``."""
    from lifelines.utils import concordance_index

    df = sim_cohort
    m = FittedCox.from_data(
        df, time="time_months", event="event", predictors="morphology,rim_enhancement"
    )
    risk = m.risk_score()
    e = (m.event == 1).astype(float)
    h = 9.0
    t2 = np.where(m.time > h, h + 1e-6, m.time)
    e2 = np.where(m.time > h, 0, e)
    assert truncated_c_index(m.time, e, risk, h) == pytest.approx(
        concordance_index(t2, -risk, e2), abs=1e-12
    )


def test_riley_binary_worked_example():
    """Riley RD, Snell KIE, Ensor J, et al. Stat Med 2019;38:1276-96
    (doi:10.1002/sim.7992), binary example reproduced by pmsampsize
    (``pmsampsize(type="b", csrsquared=0.288, parameters=24,
    prevalence=0.174)``): criterion 1 n = 623, criterion 2 n = 662,
    criterion 3 n = 221; minimum 662, i.e. 115.2 events, 4.8 events per
    parameter."""
    r = riley_sample_size(parameters=24, prevalence=0.174, r2_cs=0.288)
    assert (r.n_shrinkage, r.n_optimism, r.n_intercept) == (623, 662, 221)
    assert r.n_required == 662
    assert r.events_required == pytest.approx(115.19, abs=0.01)
    assert r.events_per_parameter == pytest.approx(4.80, abs=0.01)


def test_riley_reports_whether_the_data_meet_the_criteria():
    r = riley_sample_size(parameters=10, prevalence=0.5, r2_nagelkerke=0.3, n_available=300)
    assert r.r2_cs == pytest.approx(0.3 * max_r2_cs(0.5))
    assert r.met is (r.n_required <= 300)
    default = riley_sample_size(parameters=10, prevalence=0.5)
    assert "assumption" in default.r2_source


def test_riley_rejects_impossible_r2():
    with pytest.raises(InvalidInputError, match="r2_cs"):
        riley_sample_size(parameters=5, prevalence=0.1, r2_cs=0.6)


def test_survival_columns_are_checked(sim_cohort):
    bad = sim_cohort.assign(event=sim_cohort.event.replace({2: 3}))
    with pytest.raises(InvalidInputError, match=r"^event: .*allowed: 0 = censored"):
        FittedCox.from_data(bad, time="time_months", event="event", predictors="age_years")
    neg = sim_cohort.assign(time_months=-sim_cohort.time_months)
    with pytest.raises(InvalidInputError, match=r"^time_months"):
        FittedCox.from_data(neg, time="time_months", event="event", predictors="age_years")


def test_cox_bootstrap_is_reproducible_and_leaves_the_model_unchanged(sim_cohort):
    from resorb.cohort import cox_bootstrap_c

    m = FittedCox.from_data(
        sim_cohort, time="time_months", event="event", predictors="morphology,rim_enhancement"
    )
    before = m.fitter.params_.copy()
    a = cox_bootstrap_c(m, n_bootstrap=8, seed=5)
    b = cox_bootstrap_c(m, n_bootstrap=8, seed=5)
    assert a == b and a["n_successful"] == 8
    pd.testing.assert_series_equal(m.fitter.params_, before)


def test_cox_optimism_corrected_c_is_below_apparent_on_noise():
    """120 rows, 10 noise predictors, exponential times (seed 6)."""
    from resorb.cohort import cox_bootstrap_c

    rng = np.random.default_rng(6)
    n = 120
    df = pd.DataFrame({f"z{i}": rng.normal(size=n) for i in range(10)})
    df["t"] = rng.exponential(10, n)
    df["e"] = (rng.random(n) < 0.7).astype(int)
    m = FittedCox.from_data(df, time="t", event="e", predictors=[f"z{i}" for i in range(10)])
    r = cox_bootstrap_c(m, n_bootstrap=25, seed=1)
    assert r["corrected"] < r["apparent"] - 0.03
