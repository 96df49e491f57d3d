"""Cox models against R's survival/rms on real data sets shipped with R packages.

Recipe (``tests/cohort/r/validate_cph.R``): ``f <- cph(formula, x=TRUE,
y=TRUE, surv=TRUE, eps=1e-10)`` (Efron ties, converged beyond cph's default
1e-4 so that the fit can be compared to 1e-6); ``1 - survest(f, times=h)``
for the risk by the horizon; Austin, Harrell & van Klaveren (2020)'s
calibration: ``cph(Surv(time, status) ~ rcs(log(-log(1 - risk)), 3))`` and
``|risk - (1 - survest(..., times=h))|`` summarised as ICI/E50/E90; for each
seed ``set.seed(s); validate(f, B=200)``. Fits, risks and ICI agree to 1e-6;
bootstrap-corrected indexes (different random generators) within four
standard errors of the difference of the means over five seeds each.
Knots: ``rcspline.eval(x, nk=k, knots.only=TRUE)`` (``tests/cohort/r/knots.R``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cohort.rpeer import r_dataset, require_r, run_r, seed_spread_tolerance
from resorb.cohort import FittedCox, rcs_knots
from resorb.cohort._coxvalidate import cox_validate
from resorb.cohort._survival import ici_at_horizon

pytestmark = pytest.mark.slow

SEEDS = (1, 2, 3, 4, 5)
B = 200
RMS_NAMES = {
    "dxy": "Dxy",
    "r2": "R2",
    "calibration_slope": "Slope",
    "d": "D",
    "u": "U",
    "q": "Q",
    "g": "g",
}

CASES = {
    # R package, data set, time, our predictors, R formula, R factors, horizon, bootstrap
    "pbc": (
        "survival",
        "pbc",
        "time",
        "age,bili,albumin,edema:cat",
        "Surv(time, dead) ~ age + bili + albumin + edema",
        "edema",
        1825,
        B,
    ),
    "lung": (
        "survival",
        "lung",
        "time",
        "age,sex:cat,ph.ecog",
        "Surv(time, dead) ~ age + sex + ph.ecog",
        "sex",
        365,
        B,
    ),
    # the spline model lifelines could not converge (it stopped at -9448.7)
    "rotterdam": (
        "survival",
        "rotterdam",
        "dtime",
        "age,meno,grade:cat,nodes,pgr:rcs4,er,hormon,chemo",
        "Surv(dtime, dead) ~ age + meno + grade + nodes + rcs(pgr, 4) + er + hormon + chemo",
        "grade",
        1826,
        0,
    ),
}


def _data(case: str, folder) -> pd.DataFrame:
    package, name, *_ = CASES[case]
    df = r_dataset(package, name, folder)
    # R's codings turned into ours: lung status 1/2 (censored/dead), pbc 0/1/2
    df["dead"] = {
        "pbc": lambda d: (d["status"] == 2).astype(int),
        "lung": lambda d: (d["status"] == 2).astype(int),
        "rotterdam": lambda d: d["death"].astype(int),
    }[case](df)
    return df


_RUNS: dict = {}


def _run(case: str, tmp_path_factory):
    """R and resorb on one case, once per test session."""
    if case in _RUNS:
        return _RUNS[case]
    require_r()
    folder = tmp_path_factory.mktemp(case)
    df = _data(case, folder)
    _, _, time, predictors, formula, factors, horizon, n_boot = CASES[case]
    # complete cases of the model's columns, as R's model frame
    cols = [time, "dead", *(p.split(":")[0] for p in predictors.split(","))]
    df = df.dropna(subset=cols).reset_index(drop=True)
    csv = folder / "data.csv"
    df.to_csv(csv, index=False)
    run_r(
        "validate_cph.R",
        csv,
        formula,
        n_boot,
        ",".join(map(str, SEEDS)),
        folder / "out",
        factors,
        horizon,
    )
    out = {k: pd.read_csv(folder / f"out_{k}.csv") for k in ("coef", "risk", "ici")}
    out["validate"] = pd.read_csv(folder / "out_validate.csv") if n_boot else None
    fit = FittedCox.from_data(df, time=time, event="dead", predictors=predictors)
    _RUNS[case] = (case, df, fit, out, horizon, n_boot)
    return _RUNS[case]


@pytest.fixture(params=sorted(CASES))
def peer(request, tmp_path_factory):
    return _run(request.param, tmp_path_factory)


@pytest.fixture(params=sorted(c for c in CASES if CASES[c][-1]))
def boot_peer(request, tmp_path_factory):
    return _run(request.param, tmp_path_factory)


def test_cox_fit_equals_coxph_on_real_data(peer):
    """Coefficients, standard errors and both log-likelihoods to 1e-6 (rotterdam
    with pgr as a 4-knot spline: coxph's -9229.9 is reached)."""
    _, _, fit, out, _, _ = peer
    coef = out["coef"]
    np.testing.assert_allclose(fit.summary["coef"], coef["coef"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(fit.summary["se(coef)"], coef["se"], rtol=0, atol=1e-6)
    assert fit.fitter.log_likelihood_ == pytest.approx(coef["loglik"][0], abs=1e-6)
    assert fit.fitter.log_likelihood_null == pytest.approx(coef["loglik0"][0], abs=1e-6)


def test_risk_by_the_horizon_equals_survest(peer):
    _, _, fit, out, horizon, _ = peer
    np.testing.assert_allclose(fit.predict_risk(horizon), out["risk"]["risk"], rtol=0, atol=1e-6)


def test_ici_e50_e90_at_the_horizon_equal_austin_2020_recipe_in_r(peer):
    _, _, fit, out, horizon, _ = peer
    ours = ici_at_horizon(fit, horizon)
    for k in ("ici", "e50", "e90"):
        assert ours[k] == pytest.approx(out["ici"][k][0], abs=1e-6), k


def test_cox_bootstrap_keeps_resamples_and_matches_validate_cph(boot_peer):
    """pbc and lung (rotterdam's bootstrap is timed in benchmarks/cohort_bootstrap.py)."""
    case, _, fit, out, _, n_boot = boot_peer
    val = out["validate"]
    ours = [
        cox_validate(
            fit.X,
            fit.time,
            fit.event == 1,
            fit.fitter.params_.to_numpy(),
            n_bootstrap=n_boot,
            seed=s,
        )
        for s in SEEDS
    ]
    # rms fails a refit only when it needs 10 iterations: at most a few per thousand
    assert min(v.n_successful for v in ours) >= n_boot - 2
    assert val.groupby("seed")["n"].min().min() >= n_boot - 2
    first = val[val["seed"] == SEEDS[0]].set_index("index")
    report = []
    for name, rname in RMS_NAMES.items():
        assert ours[0].table.loc[name, "apparent"] == pytest.approx(
            first.loc[rname, "apparent"], abs=1e-6
        ), name
        theirs = val[val["index"] == rname]["corrected"].to_numpy()
        mine = np.array([v.corrected(name) for v in ours])
        tol = seed_spread_tolerance(mine, theirs)
        report.append(
            f"{case} {name}: resorb {mine.mean():.4f} (sd {mine.std(ddof=1):.4f}) "
            f"rms {theirs.mean():.4f} (sd {theirs.std(ddof=1):.4f}) tol {tol:.4f}"
        )
        assert abs(mine.mean() - theirs.mean()) <= tol, "\n".join(report)


def test_spline_knots_equal_rcspline_eval(tmp_path):
    """rotterdam: pgr has 20 % zeros (rms moves the outer knot to the next
    value), nodes has few distinct values (rms falls back to fewer knots)."""
    require_r()
    df = r_dataset("survival", "rotterdam", tmp_path)
    csv = tmp_path / "data.csv"
    df.to_csv(csv, index=False)
    specs = ["pgr:3", "pgr:4", "pgr:5", "er:4", "nodes:4", "nodes:5", "age:7", "rtime:6"]
    run_r("knots.R", csv, tmp_path / "knots.csv", *specs)
    ref = pd.read_csv(tmp_path / "knots.csv")
    for spec in specs:
        col, k = spec.split(":")
        np.testing.assert_allclose(
            rcs_knots(df[col].to_numpy(float), n_knots=int(k)),
            ref.loc[ref["spec"] == spec, "knot"].to_numpy(),
            rtol=1e-12,
            err_msg=spec,
        )
