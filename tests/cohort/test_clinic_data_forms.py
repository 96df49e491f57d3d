"""Cohort tables in the forms clinics keep them: R's status coding, numeric or
letter category codes, a survival model without a binary outcome, and a
survival model that fails without losing the logistic results."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cli_helpers import run_cli
from resorb.cohort import FittedCox, FittedLogistic, analyse_cohort
from resorb.errors import InvalidInputError


@pytest.fixture(scope="module")
def clinic() -> pd.DataFrame:
    """300 synthetic rows (seed 21): sex coded 1/2, exponential times, R-style status."""
    rng = np.random.default_rng(21)
    n = 300
    sex = rng.integers(1, 3, n)
    age = rng.normal(50, 10, n).round()
    lp = 0.03 * (age - 50) + 0.5 * (sex == 2)
    t = rng.exponential(12 * np.exp(-lp))
    c = rng.uniform(2, 30, n)
    status_r = np.where(t <= c, 2, 1)  # R's Surv coding: 1 censored, 2 event
    y = (rng.random(n) < 1 / (1 + np.exp(-lp))).astype(int)
    return pd.DataFrame(
        {
            "age": age,
            "sex": sex,
            "sex_letter": np.where(sex == 1, "F", "M"),
            "time": np.minimum(t, c),
            "status_r": status_r,
            "event": status_r - 1,
            "y": y,
        }
    )


def test_r_status_coding_1_2_is_refused_with_a_message(clinic):
    with pytest.raises(InvalidInputError, match="R's coding") as exc:
        FittedCox.from_data(clinic, time="time", event="status_r", predictors="age")
    assert exc.value.field == "status_r"


def test_r_status_coding_on_the_command_line_exits_2_naming_the_column(clinic, tmp_path, capsys):
    path = tmp_path / "c.csv"
    clinic.to_csv(path, index=False)
    code, out, err = run_cli(
        capsys,
        "cohort",
        "fit",
        str(path),
        "--predictors",
        "age",
        "--time",
        "time",
        "--event",
        "status_r",
        "--bootstrap",
        "0",
    )
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("resorb: error: status_r:")


def test_sex_coded_1_2_is_read_as_categories_with_cat(clinic):
    m = FittedLogistic.from_data(clinic, outcome="y", predictors="age,sex:cat")
    assert "sex[2]" in m.names
    coding = next(c for c in m.codings if c.name == "sex")
    assert coding.reference == "1" and coding.scale is None


def test_sex_coded_1_2_without_cat_is_refused_with_the_hint(clinic):
    with pytest.raises(InvalidInputError, match="sex:cat"):
        FittedLogistic.from_data(clinic, outcome="y", predictors="age,sex")


def test_sex_as_letters_f_m_reads_the_domain_scale(clinic):
    df = clinic.assign(sex=clinic["sex_letter"])
    a = FittedLogistic.from_data(df, outcome="y", predictors="age,sex")
    b = FittedLogistic.from_data(clinic, outcome="y", predictors="age,sex:cat")
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-10)


def test_survival_model_without_a_binary_outcome(clinic, tmp_path, capsys):
    path = tmp_path / "c.csv"
    clinic.to_csv(path, index=False)
    code, out, err = run_cli(
        capsys,
        "cohort",
        "fit",
        str(path),
        "--predictors",
        "age,sex:cat",
        "--time",
        "time",
        "--event",
        "event",
        "--bootstrap",
        "20",
        "--json",
    )
    assert code == 0, err
    d = json.loads(out)
    assert d["outcome"] is None
    cox = d["survival"]["cox"]
    assert set(cox["coefficients"]) == {"age", "sex[2]"}
    assert cox["c_index_bootstrap"]["n_successful"] == 20
    assert 0 <= cox["ici_at_horizon"] <= 1


def test_failed_survival_model_is_reported_and_logistic_results_kept(clinic):
    """Too few events for a Cox model (5): the logistic model is still reported."""
    df = clinic.copy()
    df["event"] = 0
    df.loc[:4, "event"] = 1
    a = analyse_cohort(
        df, outcome="y", predictors="age,sex:cat", time="time", event="event", bootstrap=0
    )
    d = a.to_dict()
    assert d["c_statistic"] > 0.5 and d["coefficients"]
    assert "too few events" in d["survival"]["error"]
