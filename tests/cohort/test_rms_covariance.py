"""Robust and bootstrap covariance against rms ``robcov`` and ``bootcov`` on pbc.

Recipe (``tests/cohort/r/covariance.R``): ``robcov(lrm(dead ~ age + bili +
albumin + edema, x=TRUE, y=TRUE))`` standard errors to 1e-6; for each of five
seeds ``set.seed(s); bootcov(f, B=200)`` (lrm, and cph of ``Surv(time,
dead)``): every resample kept in both, and each coefficient's bootstrap
standard error within four standard errors of the difference of the means
over the seeds (the seed-to-seed spread of both). edema=1 has
quasi-separation in about a third of the resamples: its bootstrap SE (about
6) is set by how far rms's refits run, which resorb reproduces.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cohort.rpeer import r_dataset, require_r, run_r, seed_spread_tolerance
from resorb.cohort import FittedCox, FittedLogistic

pytestmark = pytest.mark.slow

SEEDS = (1, 2, 3, 4, 5)
FORMULA = "age + bili + albumin + edema"
PREDICTORS = "age,bili,albumin,edema:cat"


@pytest.fixture(scope="module")
def pbc(tmp_path_factory):
    require_r()
    folder = tmp_path_factory.mktemp("cov")
    df = r_dataset("survival", "pbc", folder)
    df["dead"] = (df["status"] == 2).astype(int)
    csv = folder / "d.csv"
    df.to_csv(csv, index=False)
    return df, csv, folder


@pytest.mark.parametrize("kind", ["lrm", "cph"])
def test_robust_and_bootstrap_standard_errors_equal_rms(pbc, kind):
    df, csv, folder = pbc
    out = folder / f"{kind}.csv"
    if kind == "lrm":
        m = FittedLogistic.from_data(df, outcome="dead", predictors=PREDICTORS, method="ml")
        run_r(
            "covariance.R",
            csv,
            kind,
            f"dead ~ {FORMULA}",
            "edema",
            200,
            ",".join(map(str, SEEDS)),
            out,
        )
    else:
        m = FittedCox.from_data(df, time="time", event="dead", predictors=PREDICTORS)
        run_r(
            "covariance.R",
            csv,
            kind,
            f"Surv(time, dead) ~ {FORMULA}",
            "edema",
            200,
            ",".join(map(str, SEEDS)),
            out,
        )
    ref = pd.read_csv(out)
    if kind == "lrm":
        rob = ref[ref["kind"] == "robust"]["se"].to_numpy()
        np.testing.assert_allclose(np.sqrt(np.diag(m.robust_cov())), rob, atol=1e-6)
    boot = ref[ref["kind"] == "bootstrap"]
    theirs = boot.pivot(index="seed", columns="term", values="se")[
        boot["term"].drop_duplicates().to_list()
    ].to_numpy()
    ours, kept = [], []
    for s in SEEDS:
        cov, n_ok = m.bootstrap_cov(n_bootstrap=200, seed=s)
        ours.append(np.sqrt(np.diag(cov)))
        kept.append(n_ok)
    ours = np.array(ours)
    assert min(kept) >= 198 and boot["n"].min() >= 198
    for j in range(ours.shape[1]):
        tol = seed_spread_tolerance(ours[:, j], theirs[:, j])
        assert abs(ours[:, j].mean() - theirs[:, j].mean()) <= tol, (
            j,
            ours[:, j].mean(),
            theirs[:, j].mean(),
            tol,
        )
