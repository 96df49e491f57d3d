"""Nomogram axes and points against rms ``nomogram`` on pbc.

Recipe (``tests/cohort/r/nomogram.R``): ``d <- pbc[, model columns]``
(complete cases), ``dd <- datadist(d); options(datadist = "dd");
nomogram(lrm(dead ~ rcs(bili, 4) + age + edema + male))``: each axis's
values (R's ``pretty`` over the full range; the distinct values of a numeric
predictor with at most 10 of them, here the 0/1 ``male``; the levels of a
factor), the points at each value to 1e-6, and the points per unit of log
odds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cohort.rpeer import r_dataset, require_r, run_r
from resorb.cohort import FittedLogistic, nomogram_points
from resorb.cohort._nomogram import r_pretty

pytestmark = pytest.mark.slow


def test_nomogram_axes_and_points_equal_rms(tmp_path):
    require_r()
    df = r_dataset("survival", "pbc", tmp_path)
    df["dead"] = (df["status"] == 2).astype(int)
    df["male"] = (df["sex"] == "m").astype(int)
    df = df[["dead", "bili", "age", "edema", "male"]].dropna()
    csv = tmp_path / "d.csv"
    df.to_csv(csv, index=False)
    run_r(
        "nomogram.R", csv, "dead ~ rcs(bili, 4) + age + edema + male", "edema", tmp_path / "n.csv"
    )
    ref = pd.read_csv(tmp_path / "n.csv", dtype={"value": str})
    m = FittedLogistic.from_data(
        df, outcome="dead", method="ml", predictors="bili:rcs4,age,edema:cat,male"
    )
    nomo = nomogram_points(m.names, m.coef, m.codings)
    sc = ref.loc[ref["variable"] == "(points per unit)", "points"].iloc[0]
    assert nomo["scale"] == pytest.approx(sc, rel=1e-6)
    for name, labels, pts in nomo["axes"]:
        r = ref[ref["variable"] == name]
        assert [float(v) for v in labels] == [float(v) for v in r["value"]], name
        np.testing.assert_allclose(pts, r["points"], atol=1e-6, err_msg=name)


@pytest.mark.parametrize(
    "lo, hi, expected",
    [
        (0.3, 28, np.arange(0, 29, 2)),
        (26.27789, 78.43943, np.arange(25, 81, 5)),
        (0, 1, np.round(np.arange(0, 1.01, 0.1), 12)),
        (-5, 5, np.arange(-5, 6)),
        (3, 3, np.array([1, 2, 3, 4])),
    ],
)
def test_pretty_equals_r(lo, hi, expected):
    """Values of R 4.2's ``pretty(c(lo, hi), n = 10)``."""
    np.testing.assert_allclose(r_pretty(lo, hi, 10), expected, atol=1e-12)
