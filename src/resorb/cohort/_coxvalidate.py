# ruff: noqa: N803, N806  (matrix notation: X design, W weights, B resamples)
"""Bootstrap validation of a Cox model, as ``rms::validate.cph``.

Each resample refits the Cox model (Efron ties) the way ``validate.cph``
does: Newton-Raphson from zero, ``eps = 1e-4`` on the relative change of the
log-likelihood, and the refit fails (the resample is left out and counted)
only when it needs 10 or more iterations or the information matrix is
singular. A coefficient running away (monotone likelihood) converges on the
likelihood and is kept. The indexes (Harrell, Regression Modeling
Strategies, 2nd ed. 2015, section 20.10): Somers' Dxy and Harrell's C, the
Nagelkerke-type R2, the calibration slope (the outcome refitted on the frozen
linear predictor), D, U, Q and g.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from resorb.cohort._coxph import CoxSetup, fit_cox_batch
from resorb.cohort._indexes import COX_INDEXES, gini_md, surv_concordance
from resorb.cohort._validation import BootstrapValidation, bootstrap_indices

__all__ = ["cox_validate"]

#: ``validate.cph``'s refit settings (``coxphFit(iter.max = 10, eps = 1e-4)``)
RMS_COX_EPS = 1e-4
RMS_COX_MAX_ITER = 10


def _apparent(ll0, ll, N, LP, W, c):
    """Indexes of fits on their own samples (rms ``evalfit = TRUE``)."""
    lr = -2 * (ll0 - ll)
    L0 = -2 * ll0
    r2 = (1 - np.exp(-lr / N)) / (1 - np.exp(-L0 / N))
    d = (lr - 1) / L0
    u = -2 / L0
    return {
        "dxy": 2 * c - 1,
        "c_index": c,
        "r2": r2,
        "calibration_slope": np.ones_like(c),
        "d": d,
        "u": u,
        "q": d - u,
        "g": gini_md(LP, W),
    }


def cox_validate(
    X: np.ndarray,
    time: np.ndarray,
    event: np.ndarray,
    beta: np.ndarray,
    *,
    n_bootstrap: int = 200,
    seed: int | None = 0,
    chunk: int = 50,
    progress: Callable[[int, int], None] | None = None,
) -> BootstrapValidation:
    """Harrell's bootstrap optimism correction of a Cox model's indexes.

    Parameters
    ----------
    X : (n, p) design (no intercept); time, event : (n,) (event 1 = event)
    beta : (p,) the development fit
    n_bootstrap, seed : resamples drawn by ``numpy.random.default_rng(seed)``
    progress : called as ``progress(done, total)`` after each block of resamples
    """
    X = np.asarray(X, float)
    time = np.asarray(time, float)
    event = (np.asarray(event) == 1).astype(float)
    n = len(time)
    setup = CoxSetup.build(time, event)
    full = fit_cox_batch(X, time, event, beta0=np.asarray(beta, float), setup=setup)
    lp0 = (X @ beta)[None, :]
    ones = np.ones((1, n))
    app = {
        k: float(v[0])
        for k, v in _apparent(
            full["loglik0"],
            full["loglik"],
            np.array([n]),
            lp0,
            ones,
            surv_concordance(time, event, lp0),
        ).items()
    }
    idx = bootstrap_indices(n, n_bootstrap, seed)
    train = {k: [] for k in app}
    test = {k: [] for k in app}
    for start in range(0, n_bootstrap, chunk):
        block = idx[start : start + chunk]
        W = np.stack([np.bincount(r, minlength=n) for r in block]).astype(float)
        fit = fit_cox_batch(
            X, time, event, W, setup=setup, eps=RMS_COX_EPS, max_iter=RMS_COX_MAX_ITER
        )
        ok = fit["converged"] & (fit["iterations"] < RMS_COX_MAX_ITER)
        if progress is not None:
            progress(min(start + chunk, n_bootstrap), n_bootstrap)
        if not ok.any():
            continue
        W = W[ok]
        LP = fit["beta"][ok] @ X.T
        tr = _apparent(
            fit["loglik0"][ok],
            fit["loglik"][ok],
            W.sum(1),
            LP,
            W,
            surv_concordance(time, event, LP, W),
        )
        # test: the outcome refitted on each frozen linear predictor (original rows)
        ones = np.ones_like(W)
        re = fit_cox_batch(
            LP[:, :, None],
            time,
            event,
            ones,
            setup=setup,
            eps=RMS_COX_EPS,
            max_iter=RMS_COX_MAX_ITER,
        )
        slope = re["beta"][:, 0]
        lr = -2 * (re["loglik0"] - re["loglik"])
        L0 = -2 * re["loglik0"]
        frozen = fit_cox_batch(
            LP[:, :, None], time, event, ones, setup=setup, beta0=np.ones((len(LP), 1)), max_iter=0
        )
        d = (lr - 1) / L0
        u = -2 * (frozen["loglik"] - re["loglik"]) / L0
        c = surv_concordance(time, event, LP)
        te = {
            "dxy": 2 * c - 1,
            "c_index": c,
            "r2": (1 - np.exp(-lr / n)) / (1 - np.exp(-L0 / n)),
            "calibration_slope": slope,
            "d": d,
            "u": u,
            "q": d - u,
            "g": gini_md(slope[:, None] * LP, ones),
        }
        for k in app:
            train[k].append(tr[k])
            test[k].append(te[k])
    n_ok = sum(len(v) for v in train["dxy"])
    rows = {}
    for k in COX_INDEXES:
        tr = np.concatenate(train[k]) if n_ok else np.array([np.nan])
        te = np.concatenate(test[k]) if n_ok else np.array([np.nan])
        opt = float(np.mean(tr - te))
        rows[k] = {
            "apparent": app[k],
            "bootstrap_train": float(np.mean(tr)),
            "bootstrap_test": float(np.mean(te)),
            "optimism": opt,
            "corrected": app[k] - opt,
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    return BootstrapValidation(table, n_bootstrap, n_ok, seed)


def _km_at(time: np.ndarray, event: np.ndarray, horizon: float) -> float:
    """Kaplan-Meier survival at ``horizon``; NaN past the last follow-up time
    (``summary(survfit, times = u)`` has no value there)."""
    if len(time) == 0 or horizon > time.max():
        return float("nan")
    times, deaths = np.unique(time[(event == 1) & (time <= horizon)], return_counts=True)
    at_risk = len(time) - np.searchsorted(np.sort(time), times, side="left")
    return float(np.prod(1 - deaths / at_risk))


def _survival_at(X, time, event, beta, horizon):
    """Predicted survival at ``horizon`` for the rows of X (Efron baseline, as cph)."""
    from resorb.cohort._coxph import breslow_efron_hazard

    times, hazard, centre = breslow_efron_hazard(X, time, event, beta)
    k = np.searchsorted(times, horizon, side="right")
    h0 = float(hazard[k - 1]) if k else 0.0
    return lambda Z: np.exp(-h0 * np.exp(Z @ beta - centre))


def _grouped(surv, time, event, horizon, cuts):
    """Per group of predicted survival (``cut2`` on ``cuts``): mean prediction, KM."""
    g = len(cuts) - 1
    grp = np.clip(np.searchsorted(cuts, surv, side="right") - 1, 0, g - 1)
    pred = np.full(g, np.nan)
    km = np.full(g, np.nan)
    for k in range(g):
        m = grp == k
        if m.any():
            pred[k] = surv[m].mean()
            km[k] = _km_at(time[m], event[m], horizon)
    return pred, km


def cox_calibrate_km(
    X: np.ndarray,
    time: np.ndarray,
    event: np.ndarray,
    beta: np.ndarray,
    horizon: float,
    *,
    m: int = 150,
    n_bootstrap: int = 40,
    seed: int | None = 0,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Optimism-corrected calibration at ``horizon`` (rms ``calibrate.cph``, ``cmethod = "KM"``).

    Patients are grouped by predicted survival at the horizon (about ``m``
    per group: ``floor(n / m)`` groups at the quantiles of the predictions
    with 0 and 1 added, as rms); in each group the Kaplan-Meier survival is
    compared with the mean prediction. Each bootstrap model (refitted as
    ``validate.cph`` refits) gives that difference on its resample and on the
    original data, in the original groups; the mean difference is the
    optimism, subtracted from the observed Kaplan-Meier survival.

    Returns
    -------
    DataFrame, one row per group: ``mean_predicted``, ``km``, ``apparent``
    (km - mean_predicted), ``optimism``, ``km_corrected``, ``n_resamples``.
    """
    X = np.asarray(X, float)
    time = np.asarray(time, float)
    event = (np.asarray(event) == 1).astype(float)
    beta = np.asarray(beta, float)
    n = len(time)
    surv0 = _survival_at(X, time, event, beta, horizon)(X)
    g = max(1, n // m)
    cuts = np.unique(np.quantile(np.r_[0.0, 1.0, surv0], np.linspace(0, 1, g + 1)))
    pred, km = _grouped(surv0, time, event, horizon, cuts)
    idx = bootstrap_indices(n, n_bootstrap, seed)
    setup = CoxSetup.build(time, event)
    W = np.stack([np.bincount(r, minlength=n) for r in idx]).astype(float)
    fit = fit_cox_batch(X, time, event, W, setup=setup, eps=RMS_COX_EPS, max_iter=RMS_COX_MAX_ITER)
    ok = fit["converged"] & (fit["iterations"] < RMS_COX_MAX_ITER)
    diffs = []
    for b in range(n_bootstrap):
        if progress is not None:
            progress(b + 1, n_bootstrap)
        r = idx[b]
        if not ok[b] or event[r].sum() < 5:
            continue
        predict = _survival_at(X[r], time[r], event[r], fit["beta"][b], horizon)
        p_tr, k_tr = _grouped(predict(X[r]), time[r], event[r], horizon, cuts)
        p_te, k_te = _grouped(predict(X), time, event, horizon, cuts)
        diffs.append((k_tr - p_tr) - (k_te - p_te))
    d = np.array(diffs) if diffs else np.full((1, len(pred)), np.nan)
    with np.errstate(invalid="ignore"):
        optimism = np.nanmean(d, axis=0)
    return pd.DataFrame(
        {
            "mean_predicted": pred,
            "km": km,
            "apparent": km - pred,
            "optimism": optimism,
            "km_corrected": km - optimism,
            "n_resamples": (~np.isnan(d)).sum(axis=0),
        }
    )
