"""Logistic models against R's rms on real data sets shipped with R packages.

Recipe (``tests/cohort/r/validate_lrm.R``): ``f <- lrm(formula, x=TRUE,
y=TRUE)``; for each seed ``set.seed(s); validate(f, B=200)``. Fits and
apparent indexes must agree to 1e-6; bootstrap-corrected indexes, whose
resamples come from different random generators, within four standard errors
of the difference of the means over five seeds each (the seed-to-seed spread
of both, measured in the same run). Every resample must be kept, as rms keeps
them: pbc with edema as a category has quasi-separation (19 of the 20
patients with edema despite diuretics died) in about a third of the
resamples.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cohort.rpeer import r_dataset, require_r, run_r, seed_spread_tolerance
from resorb.cohort import FittedLogistic, bootstrap_validate

pytestmark = pytest.mark.slow

SEEDS = (1, 2, 3, 4, 5)
B = 200
#: our index names -> rms's row names in validate()
RMS_NAMES = {
    "dxy": "Dxy",
    "r2": "R2",
    "calibration_intercept": "Intercept",
    "calibration_slope": "Slope",
    "emax": "Emax",
    "d": "D",
    "u": "U",
    "q": "Q",
    "brier": "B",
    "g": "g",
    "gp": "gp",
}

CASES = {
    # R package, data set, our predictors, R formula, columns R makes factors
    "pbc": (
        "survival",
        "pbc",
        "age,bili,albumin,edema:cat",
        "dead ~ age + bili + albumin + edema",
        "edema",
    ),
    "birthwt": (
        "MASS",
        "birthwt",
        "age,lwt,race:cat,smoke,ptl,ht,ui",
        "low ~ age + lwt + race + smoke + ptl + ht + ui",
        "race",
    ),
}


def _data(case: str, folder) -> tuple[pd.DataFrame, str]:
    package, name, *_ = CASES[case]
    df = r_dataset(package, name, folder)
    if case == "pbc":
        df["dead"] = (df["status"] == 2).astype(int)
    outcome = "dead" if case == "pbc" else "low"
    return df, outcome


@pytest.fixture(scope="module", params=sorted(CASES))
def peer(request, tmp_path_factory):
    require_r()
    case = request.param
    folder = tmp_path_factory.mktemp(case)
    df, outcome = _data(case, folder)
    csv = folder / "data.csv"
    df.to_csv(csv, index=False)
    _, _, predictors, formula, factors = CASES[case]
    run_r("validate_lrm.R", csv, formula, B, ",".join(map(str, SEEDS)), folder / "out", factors)
    coef = pd.read_csv(folder / "out_coef.csv")
    val = pd.read_csv(folder / "out_validate.csv")
    fit = FittedLogistic.from_data(df, outcome=outcome, predictors=predictors, method="ml")
    ours = [bootstrap_validate(fit.X, fit.y, fit.coef, n_bootstrap=B, seed=s) for s in SEEDS]
    return case, fit, coef, val, ours


def test_logistic_fit_equals_lrm_on_real_data(peer):
    _, fit, coef, _, _ = peer
    np.testing.assert_allclose(fit.coef, coef["coef"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(fit.summary["se"], coef["se"], rtol=0, atol=1e-6)


def test_apparent_indexes_equal_rms_validate(peer):
    _, _, _, val, ours = peer
    first = val[val["seed"] == SEEDS[0]].set_index("index")
    for name, rname in RMS_NAMES.items():
        assert ours[0].table.loc[name, "apparent"] == pytest.approx(
            first.loc[rname, "apparent"], abs=1e-6
        ), name


def test_bootstrap_keeps_every_resample_rms_keeps(peer):
    """pbc: rms keeps all 200 resamples, including the quasi-separated ones."""
    _, _, _, val, ours = peer
    rms_kept = val.groupby("seed")["n"].min().to_numpy()
    assert [v.n_successful for v in ours] == list(rms_kept)


def test_optimism_corrected_indexes_within_seed_spread_of_rms(peer):
    case, _, _, val, ours = peer
    report = []
    for name, rname in RMS_NAMES.items():
        theirs = val[val["index"] == rname]["corrected"].to_numpy()
        mine = np.array([v.corrected(name) for v in ours])
        tol = seed_spread_tolerance(mine, theirs)
        report.append(
            f"{case} {name}: resorb {mine.mean():.4f} (sd {mine.std(ddof=1):.4f}) "
            f"rms {theirs.mean():.4f} (sd {theirs.std(ddof=1):.4f}) tol {tol:.4f}"
        )
        assert abs(mine.mean() - theirs.mean()) <= tol, "\n".join(report)
