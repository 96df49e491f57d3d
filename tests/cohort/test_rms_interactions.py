"""Interactions ``a*b`` against R's rms (fits only).

Recipe: ``tests/cohort/r/validate_lrm.R`` / ``validate_cph.R`` with B = 0:
``lrm(dead ~ age * bili + albumin + edema)`` on survival's pbc and
``cph(Surv(time, dead) ~ age * sex + ph.ecog, eps = 1e-10)`` on lung (sex
coded 1/2, a factor); coefficients and standard errors matched by name
(rms writes ``age * sex=2`` where resorb writes ``age * sex[2]``) to 1e-6.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cohort.rpeer import r_dataset, require_r, run_r
from resorb.cohort import FittedCox, FittedLogistic, analyse_cohort, parse_predictor_specs
from resorb.errors import InvalidInputError

pytestmark = pytest.mark.slow


def _rms_name(term: str) -> str:
    return term.replace("[", "=").replace("]", "")


def test_logistic_interaction_equals_lrm(tmp_path):
    require_r()
    df = r_dataset("survival", "pbc", tmp_path)
    df["dead"] = (df["status"] == 2).astype(int)
    csv = tmp_path / "d.csv"
    df.to_csv(csv, index=False)
    run_r(
        "validate_lrm.R", csv, "dead ~ age * bili + albumin + edema", 0, 1, tmp_path / "o", "edema"
    )
    ref = pd.read_csv(tmp_path / "o_coef.csv").set_index("term")
    m = FittedLogistic.from_data(
        df, outcome="dead", predictors="age*bili,albumin,edema:cat", method="ml"
    )
    assert "age * bili" in m.names
    tab = m.summary
    for term in tab.index:
        assert tab.loc[term, "coef"] == pytest.approx(ref.loc[_rms_name(term), "coef"], abs=1e-6), (
            term
        )
        assert tab.loc[term, "se"] == pytest.approx(ref.loc[_rms_name(term), "se"], abs=1e-6), term


def test_cox_interaction_with_a_coded_category_equals_cph(tmp_path):
    require_r()
    df = r_dataset("survival", "lung", tmp_path)
    df["dead"] = (df["status"] == 2).astype(int)
    df = df.dropna(subset=["ph.ecog"]).reset_index(drop=True)
    csv = tmp_path / "d.csv"
    df.to_csv(csv, index=False)
    run_r(
        "validate_cph.R",
        csv,
        "Surv(time, dead) ~ age * sex + ph.ecog",
        0,
        1,
        tmp_path / "o",
        "sex",
        365,
    )
    ref = pd.read_csv(tmp_path / "o_coef.csv").set_index("term")
    m = FittedCox.from_data(df, time="time", event="dead", predictors="age*sex,sex:cat,ph.ecog")
    for term, row in m.summary.iterrows():
        assert row["coef"] == pytest.approx(ref.loc[_rms_name(term), "coef"], abs=1e-6), term
        assert row["se(coef)"] == pytest.approx(ref.loc[_rms_name(term), "se"], abs=1e-6), term


def test_interaction_adds_missing_main_effects_after_listed_ones():
    specs = parse_predictor_specs("age*sex,bili")
    assert [s.name for s in specs] == ["bili", "age", "sex", "age*sex"]
    with pytest.raises(InvalidInputError, match="repeated"):
        parse_predictor_specs("age*sex,sex*age")


def test_interaction_model_bootstraps_and_refuses_a_portable_file(numeric_cohort):
    a = analyse_cohort(numeric_cohort, outcome="y", predictors="x1*grp,x2", bootstrap=20)
    d = a.to_dict()
    assert "x1 * grp[b]" in d["coefficients"] and d["bootstrap"]["n_successful"] == 20
    from resorb.cohort import portable_from_fit

    with pytest.raises(InvalidInputError, match="interactions"):
        portable_from_fit(a.fit)
    assert np.isfinite(d["c_statistic_optimism_corrected"])
