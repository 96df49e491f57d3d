"""Logistic fitting, splines, discrimination and calibration against peer tools."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resorb.cohort import (
    FittedLogistic,
    brier_score,
    c_statistic,
    calibration_in_the_large,
    calibration_intercept,
    calibration_slope,
    rcs_basis,
    rcs_knots,
)
from resorb.cohort._irls import fit_logistic_batch


def test_coefficients_equal_statsmodels_logit(numeric_cohort):
    """Recipe: ``sm.Logit(y, sm.add_constant(pd.get_dummies(df[[x1,x2,x3,grp]],
    drop_first=True))).fit()`` on the same rows; reference level of grp is 'a'."""
    import statsmodels.api as sm

    df = numeric_cohort
    m = FittedLogistic.from_data(df, outcome="y", predictors="x1,x2,x3,grp")
    X = pd.get_dummies(df[["x1", "x2", "x3", "grp"]], drop_first=True).astype(float)
    ref = sm.Logit(df["y"], sm.add_constant(X)).fit(disp=0)
    np.testing.assert_allclose(m.coef, ref.params.to_numpy(), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(m.summary["se"].to_numpy(), ref.bse.to_numpy(), rtol=1e-6)
    assert list(m.summary.index) == ["Intercept", "x1", "x2", "x3", "grp[b]", "grp[c]"]
    assert m.method == "maximum likelihood"
    assert not m.separation.detected


def test_weighted_batch_fit_equals_statsmodels_on_resampled_rows(numeric_cohort):
    """A bootstrap fit with multiplicity weights equals ``sm.Logit`` on the
    resampled rows themselves (``X[idx]``), for three resamples (seed 3)."""
    import statsmodels.api as sm

    df = numeric_cohort
    m = FittedLogistic.from_data(df, outcome="y", predictors="x1,x2,x3,grp")
    rng = np.random.default_rng(3)
    idx = rng.integers(0, m.n, size=(3, m.n))
    W = np.stack([np.bincount(r, minlength=m.n) for r in idx]).astype(float)
    beta, ok = fit_logistic_batch(m.X, m.y, W, beta0=m.coef)
    assert ok.all()
    for b in range(3):
        ref = sm.Logit(m.y[idx[b]], m.X[idx[b]]).fit(disp=0)
        np.testing.assert_allclose(beta[b], ref.params, rtol=1e-7, atol=1e-9)


def test_rcs_spans_the_same_space_as_a_natural_cubic_spline(numeric_cohort):
    """Harrell's restricted cubic spline and patsy's natural cubic regression
    spline ``cr(x, knots=inner, lower_bound=t1, upper_bound=tk)`` with the
    same knots span the same functions, so the fitted probabilities of the two
    logistic fits (statsmodels on the patsy design) agree."""
    import patsy
    import statsmodels.api as sm

    df = numeric_cohort.copy()
    df["age"] = 45 + 12 * df["x1"]
    m = FittedLogistic.from_data(df, outcome="y", predictors="age:rcs4,x2")
    knots = m.codings[0].knots
    np.testing.assert_allclose(knots, np.quantile(df["age"], [0.05, 0.35, 0.65, 0.95]))
    design = patsy.dmatrix(
        f"cr(age, knots={list(knots[1:-1])}, lower_bound={knots[0]}, "
        f"upper_bound={knots[-1]}, constraints='center') + x2",
        df,
        return_type="dataframe",
    )
    ref = sm.Logit(df["y"], design).fit(disp=0)
    np.testing.assert_allclose(m.predict_proba(df), ref.predict(design), rtol=1e-6)
    np.testing.assert_allclose(m.coef[-1], ref.params["x2"], rtol=1e-6)


def test_rcs_basis_is_linear_beyond_the_outer_knots():
    x = np.linspace(0, 100, 1001)
    knots = rcs_knots(x, n_knots=5)
    basis = rcs_basis(x, knots)
    for side in (x < knots[0], x > knots[-1]):
        seg = basis[side]
        second = np.diff(seg, n=2, axis=0)
        np.testing.assert_allclose(second, 0, atol=1e-9)


def test_rcs_knots_use_fifth_extremes_below_100_values():
    """rms: with fewer than 100 values the outer knots are the 5th smallest
    and 5th largest observations."""
    x = np.arange(1.0, 51.0)
    knots = rcs_knots(x, n_knots=4)
    assert knots[0] == 5.0 and knots[-1] == 46.0


def test_c_statistic_equals_sklearn_and_lifelines_with_ties(numeric_cohort):
    """Recipe: ``sklearn.metrics.roc_auc_score(y, score)`` and
    ``lifelines.utils.concordance_index(y, score)`` (binary y as "time": a
    higher score ranks with the event), on scores rounded to create ties."""
    from lifelines.utils import concordance_index
    from sklearn.metrics import roc_auc_score

    df = numeric_cohort
    m = FittedLogistic.from_data(df, outcome="y", predictors="x1,x2,x3,grp")
    score = np.round(m.fitted_lp, 1)  # many ties
    ours = c_statistic(m.y, score)
    assert ours == pytest.approx(roc_auc_score(m.y, score), abs=1e-12)
    assert ours == pytest.approx(concordance_index(m.y, score), abs=1e-12)


def test_weighted_c_statistic_equals_c_on_expanded_rows():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200).astype(float)
    s = np.round(rng.normal(size=200), 1)
    w = rng.integers(0, 4, 200)
    from sklearn.metrics import roc_auc_score

    expanded = np.repeat(np.arange(200), w)
    assert c_statistic(y, s, weights=w.astype(float)) == pytest.approx(
        roc_auc_score(y[expanded], s[expanded]), abs=1e-12
    )


def test_calibration_slope_and_intercept_equal_statsmodels_glm(numeric_cohort):
    """Recipe: slope and rms's ``Intercept`` = coefficients of
    ``GLM(y, [1, lp], Binomial)``; calibration-in-the-large = intercept of
    ``GLM(y, 1, Binomial, offset=lp)``; ``lp`` is a deliberately miscalibrated
    score 0.7 * true lp + 0.3."""
    import statsmodels.api as sm

    df = numeric_cohort
    m = FittedLogistic.from_data(df, outcome="y", predictors="x1,x2,x3,grp")
    lp = 0.7 * m.fitted_lp + 0.3
    slope_ref = sm.GLM(m.y, sm.add_constant(lp), family=sm.families.Binomial()).fit()
    icpt_ref = sm.GLM(m.y, np.ones((m.n, 1)), family=sm.families.Binomial(), offset=lp).fit()
    assert calibration_slope(m.y, lp) == pytest.approx(slope_ref.params[1], rel=1e-7)
    assert calibration_intercept(m.y, lp) == pytest.approx(slope_ref.params[0], rel=1e-7)
    assert calibration_in_the_large(m.y, lp) == pytest.approx(icpt_ref.params[0], rel=1e-7)


def test_brier_equals_sklearn(numeric_cohort):
    from sklearn.metrics import brier_score_loss

    m = FittedLogistic.from_data(numeric_cohort, outcome="y", predictors="x1,grp")
    p = m.predict_proba(numeric_cohort)
    assert brier_score(m.y, p) == pytest.approx(brier_score_loss(m.y, p), abs=1e-14)


def test_enum_columns_are_coded_in_scale_order_with_explicit_reference(sim_cohort):
    m = FittedLogistic.from_data(
        sim_cohort, outcome="resorbed_12mo", predictors="morphology,rim_enhancement:ref=partial"
    )
    morph, rim = m.codings
    assert morph.levels == ("bulge", "protrusion", "extrusion", "sequestration")
    assert morph.reference == "bulge" and morph.scale == "HerniationMorphology"
    assert rim.reference == "partial"
    assert rim.columns == ("rim_enhancement[none]", "rim_enhancement[complete]")


def test_case_insensitive_enum_values_are_normalised(sim_cohort):
    df = sim_cohort.copy()
    df["morphology"] = df["morphology"].str.upper()
    m1 = FittedLogistic.from_data(df, outcome="resorbed_12mo", predictors="morphology")
    m2 = FittedLogistic.from_data(sim_cohort, outcome="resorbed_12mo", predictors="morphology")
    np.testing.assert_allclose(m1.coef, m2.coef)


def test_batched_c_statistic_equals_sklearn_on_expanded_rows():
    """Each row of the batched C (bootstrap multiplicity weights, tied scores)
    equals ``roc_auc_score`` on the rows repeated by their weights."""
    from sklearn.metrics import roc_auc_score

    from resorb.cohort._validation import c_statistic_batch

    rng = np.random.default_rng(12)
    y = rng.integers(0, 2, 300).astype(float)
    S = np.round(rng.normal(size=(6, 300)), 1)
    W = rng.integers(0, 3, size=(6, 300)).astype(float)
    got = c_statistic_batch(y, S, W)
    for b in range(6):
        rows = np.repeat(np.arange(300), W[b].astype(int))
        assert got[b] == pytest.approx(roc_auc_score(y[rows], S[b, rows]), abs=1e-12)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(-5, 5)), min_size=4, max_size=60))
def test_c_statistic_is_invariant_to_monotone_transforms(rows):
    from hypothesis import assume

    y = np.array([r[0] for r in rows], float)
    s = np.array([r[1] for r in rows], float)
    assume(0 < y.sum() < len(y))
    c = c_statistic(y, s)
    assert 0 <= c <= 1
    assert c_statistic(y, np.exp(s) * 3 + 1) == pytest.approx(c, abs=1e-12)
    assert c_statistic(y, -s) == pytest.approx(1 - c, abs=1e-12)
