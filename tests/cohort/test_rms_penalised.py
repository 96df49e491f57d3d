"""Penalised maximum likelihood and pentrace against rms on pbc.

Recipe (``tests/cohort/r/pentrace.R``): ``f <- lrm(dead ~ rcs(bili, 4) +
age + albumin + edema + protime, x=TRUE, y=TRUE)``; ``pentrace(f, c(0, 0.5,
1, 2, 4, 8, 16, 32))``: effective d.f., AIC, BIC and corrected AIC at every
penalty to 1e-6, the same best penalty; ``update(f, penalty = 4)``:
coefficients and standard errors to 1e-6. The penalty matrix is rms's
(column variances; a categorical block ``I - J / (k + 1)``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cohort.rpeer import r_dataset, require_r, run_r
from resorb.cohort import FittedLogistic

pytestmark = pytest.mark.slow

PENALTIES = (0, 0.5, 1, 2, 4, 8, 16, 32)


def test_pentrace_and_penalised_fit_equal_rms(tmp_path):
    require_r()
    df = r_dataset("survival", "pbc", tmp_path)
    df["dead"] = (df["status"] == 2).astype(int)
    df = df.dropna(subset=["protime"]).reset_index(drop=True)
    csv = tmp_path / "d.csv"
    df.to_csv(csv, index=False)
    run_r(
        "pentrace.R",
        csv,
        "dead ~ rcs(bili, 4) + age + albumin + edema + protime",
        "edema",
        ",".join(map(str, PENALTIES)),
        tmp_path / "p",
        4,
    )
    m = FittedLogistic.from_data(
        df, outcome="dead", method="ml", predictors="bili:rcs4,age,albumin,edema:cat,protime"
    )
    table, best = m.pentrace(PENALTIES)
    ref = pd.read_csv(tmp_path / "p_trace.csv")
    for col in ("penalty", "df", "aic", "bic", "aic_c"):
        np.testing.assert_allclose(table[col], ref[col], atol=1e-6, err_msg=col)
    assert best == pd.read_csv(tmp_path / "p_best.csv")["penalty"].iloc[0]
    fit = m.penalised(4.0)
    coef = pd.read_csv(tmp_path / "p_coef.csv")
    np.testing.assert_allclose(fit["coef"], coef["coef"], atol=1e-6)
    np.testing.assert_allclose(np.sqrt(np.diag(fit["cov"])), coef["se"], atol=1e-6)


def test_fit_pentrace_option_reports_the_best_penalty(tmp_path, capsys, numeric_cohort):
    """80 rows and 6 noise columns added to numeric_cohort's x1: a penalty helps."""
    import json

    from cli_helpers import run_cli

    rng = np.random.default_rng(3)
    df = numeric_cohort.head(80).copy()
    for i in range(6):
        df[f"z{i}"] = rng.normal(size=len(df))
    csv = tmp_path / "c.csv"
    df.to_csv(csv, index=False)
    preds = "x1," + ",".join(f"z{i}" for i in range(6))
    code, out, err = run_cli(
        capsys,
        "cohort",
        "fit",
        str(csv),
        "--outcome",
        "y",
        "--predictors",
        preds,
        "--bootstrap",
        "0",
        "--pentrace",
        "0,1,2,4,8,16,32",
        "--json",
    )
    assert code == 0, err
    pt = json.loads(out)["pentrace"]
    m = FittedLogistic.from_data(df, outcome="y", predictors=preds, method="ml")
    table, best = m.pentrace([0, 1, 2, 4, 8, 16, 32])
    assert pt["best_penalty"] == best > 0
    np.testing.assert_allclose([r["aic_c"] for r in pt["table"]], table["aic_c"], rtol=1e-12)
    code, _, err = run_cli(
        capsys,
        "cohort",
        "fit",
        str(csv),
        "--outcome",
        "y",
        "--predictors",
        "x1",
        "--bootstrap",
        "0",
        "--pentrace",
        "a,b",
    )
    assert code == 2 and err.startswith("resorb: error: pentrace:")
