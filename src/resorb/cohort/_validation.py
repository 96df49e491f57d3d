# ruff: noqa: N803, N806  (matrix notation: X design, W weights, B resamples, S scores)
"""Performance, calibration and bootstrap validation of logistic models.

References
----------
Harrell FE Jr, Lee KL, Mark DB. Multivariable prognostic models. Stat Med
1996;15:361-87 (bootstrap optimism correction).
Steyerberg EW. Clinical Prediction Models, 2nd ed. Springer 2019.
Austin PC, Steyerberg EW. The Integrated Calibration Index (ICI) and related
metrics for quantifying the calibration of logistic regression models. Stat Med
2019;38:4051-65, doi:10.1002/sim.8281.
Van Calster B, Nieboer D, Vergouwe Y, et al. A calibration hierarchy for risk
models was defined. J Clin Epidemiol 2016;74:167-76 (calibration-in-the-large).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit

from resorb.cohort._indexes import LOGISTIC_INDEXES, emax_from_calibration, logistic_indexes
from resorb.cohort._irls import fit_logistic_batch

__all__ = [
    "BootstrapValidation",
    "bootstrap_validate",
    "brier_score",
    "c_statistic",
    "calibration_curve_corrected",
    "calibration_in_the_large",
    "calibration_intercept",
    "calibration_slope",
    "calibration_smooth",
    "ici_metrics",
]


def c_statistic(y: np.ndarray, score: np.ndarray, *, weights: np.ndarray | None = None) -> float:
    """Concordance (area under the ROC curve) of ``score`` for binary ``y``.

    Ties in ``score`` count one half. ``weights`` are frequency weights
    (a row drawn twice in a bootstrap sample counts twice).
    """
    y = np.asarray(y, float)
    s = np.asarray(score, float)
    w = np.ones_like(y) if weights is None else np.asarray(weights, float)
    order = np.argsort(s, kind="mergesort")
    s, y, w = s[order], y[order], w[order]
    pos = w * y
    neg = w * (1 - y)
    # group tied scores
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    pos_g = np.add.reduceat(pos, starts)
    neg_g = np.add.reduceat(neg, starts)
    neg_below = np.cumsum(neg_g) - neg_g
    total = pos_g.sum() * neg_g.sum()
    if total == 0:
        return float("nan")
    return float((pos_g * (neg_below + 0.5 * neg_g)).sum() / total)


def c_statistic_batch(y: np.ndarray, S: np.ndarray, *Ws: np.ndarray) -> np.ndarray:
    """:func:`c_statistic` for each row of scores ``S`` (B, n) under weights ``W`` (B, n).

    Several weight matrices may be given; the scores are sorted once and one
    (B,) array is returned per weight matrix (a tuple when more than one).
    """
    B, n = S.shape
    order = np.argsort(S, axis=1)
    s = np.take_along_axis(S, order, axis=1)
    yy = np.asarray(y, float)[order]
    idx = np.broadcast_to(np.arange(n), (B, n))
    new_group = np.ones((B, n), dtype=bool)
    new_group[:, 1:] = s[:, 1:] != s[:, :-1]
    start = np.maximum.accumulate(np.where(new_group, idx, 0), axis=1)
    last = np.ones((B, n), dtype=bool)
    last[:, :-1] = new_group[:, 1:]
    end = np.minimum.accumulate(np.where(last, idx, n - 1)[:, ::-1], axis=1)[:, ::-1]
    out = []
    for W in Ws:
        w = np.take_along_axis(W, order, axis=1)
        pos, neg = w * yy, w * (1 - yy)
        cneg0 = np.zeros((B, n + 1))
        np.cumsum(neg, axis=1, out=cneg0[:, 1:])  # cneg0[:, k] = weight before k
        below = np.take_along_axis(cneg0, start, axis=1)
        tied = np.take_along_axis(cneg0, end + 1, axis=1) - below
        with np.errstate(invalid="ignore", divide="ignore"):
            out.append((pos * (below + 0.5 * tied)).sum(1) / (pos.sum(1) * neg.sum(1)))
    return out[0] if len(out) == 1 else tuple(out)


def brier_score(y: np.ndarray, p: np.ndarray, *, weights: np.ndarray | None = None) -> float:
    """Mean squared difference between outcome (0/1) and predicted probability."""
    w = np.ones(len(y)) if weights is None else weights
    return float((w * (np.asarray(y) - p) ** 2).sum() / w.sum())


def _calib_batch(
    y: np.ndarray, LP: np.ndarray, W: np.ndarray, max_iter: int = 50
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Calibration slope, its intercept, and calibration-in-the-large for B predictors.

    LP, W : (B, n). Slope and intercept: logistic regression of y on the
    linear predictor (rms ``Slope`` and ``Intercept``). Calibration-in-the-
    large: logistic regression of y with the linear predictor as offset.
    """
    B = LP.shape[0]

    def loglik(th, rows):
        eta = th[:, :1] + th[:, 1:] * LP[rows]
        return (W[rows] * (y * eta - np.logaddexp(0.0, eta))).sum(1)

    # slope: two-parameter Newton, vectorised over B, started at the identity
    # (0, 1), the answer for a model on its own development sample. Large
    # steps are checked against the likelihood and halved until it does not
    # fall (small steps are inside Newton's quadratic region).
    theta = np.tile([0.0, 1.0], (B, 1))
    for _ in range(max_iter):
        eta = theta[:, :1] + theta[:, 1:] * LP
        mu = expit(eta)
        v = W * mu * (1 - mu)
        r = W * (y - mu)
        g = np.stack([r.sum(1), (r * LP).sum(1)], axis=1)
        h00, h01, h11 = v.sum(1), (v * LP).sum(1), (v * LP * LP).sum(1)
        det = h00 * h11 - h01**2
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.stack(
                [(h11 * g[:, 0] - h01 * g[:, 1]) / det, (h00 * g[:, 1] - h01 * g[:, 0]) / det],
                axis=1,
            )
        step = np.nan_to_num(step)
        big = np.flatnonzero(np.abs(step).max(axis=1) > 0.5)
        if big.size:
            ll0 = loglik(theta[big], big)
            s = step[big]
            for _h in range(30):
                worse = loglik(theta[big] + s, big) < ll0 - 1e-12
                if not worse.any():
                    break
                s[worse] /= 2
            step[big] = s
        theta += step
        if np.abs(step).max() < 1e-9:
            break
    a = np.zeros(B)
    for _ in range(max_iter):
        mu = expit(a[:, None] + LP)
        g = (W * (y - mu)).sum(1)
        h = (W * mu * (1 - mu)).sum(1)
        step = np.clip(np.nan_to_num(g / h), -5, 5)
        a += step
        if np.abs(step).max() < 1e-10:
            break
    return theta[:, 1], theta[:, 0], a


def calibration_slope(y: np.ndarray, lp: np.ndarray) -> float:
    """Calibration slope: coefficient of the linear predictor in ``logit P(y) = a + b lp``."""
    s, _, _ = _calib_batch(
        np.asarray(y, float), np.asarray(lp, float)[None, :], np.ones((1, len(y)))
    )
    return float(s[0])


def calibration_intercept(y: np.ndarray, lp: np.ndarray) -> float:
    """rms's calibration ``Intercept``: ``a`` in ``logit P(y) = a + b lp`` (slope fitted too)."""
    _, a, _ = _calib_batch(
        np.asarray(y, float), np.asarray(lp, float)[None, :], np.ones((1, len(y)))
    )
    return float(a[0])


def calibration_in_the_large(y: np.ndarray, lp: np.ndarray) -> float:
    """Calibration-in-the-large: ``a`` in ``logit P(y) = a + offset(lp)`` (Van Calster 2016)."""
    _, _, a = _calib_batch(
        np.asarray(y, float), np.asarray(lp, float)[None, :], np.ones((1, len(y)))
    )
    return float(a[0])


def calibration_smooth(y: np.ndarray, p: np.ndarray, *, frac: float = 0.75) -> np.ndarray:
    """Smoothed observed risk at each predicted probability (lowess, degree 1).

    Austin & Steyerberg (2019) used R's ``loess`` (degree 2, span 0.75); the
    statsmodels lowess is locally linear (with R lowess's default ``delta`` of
    1% of the range), so ICI values can differ slightly from theirs in the
    tails.
    """
    from statsmodels.nonparametric.smoothers_lowess import lowess

    p = np.asarray(p, float)
    # delta = 1% of the range, R's lowess default: local fits are computed at
    # points at least that far apart and interpolated in between (linear time)
    sm = lowess(
        np.asarray(y, float), p, frac=frac, it=0, delta=0.01 * np.ptp(p), return_sorted=False
    )
    return np.clip(sm, 0.0, 1.0)


def ici_metrics(y: np.ndarray, p: np.ndarray, *, frac: float = 0.75) -> dict[str, float]:
    """ICI, E50, E90 and Emax of the absolute calibration error (Austin & Steyerberg 2019)."""
    err = np.abs(calibration_smooth(y, p, frac=frac) - p)
    return {
        "ici": float(err.mean()),
        "e50": float(np.median(err)),
        "e90": float(np.quantile(err, 0.9)),
        "emax": float(err.max()),
    }


def net_benefit(
    y: np.ndarray, p: np.ndarray, thresholds: np.ndarray, *, weights: np.ndarray | None = None
) -> np.ndarray:
    """Net benefit of treating when ``p >= threshold`` (Vickers & Elkin 2006).

    ``NB = TP/n - FP/n * pt / (1 - pt)``.
    """
    y = np.asarray(y, float)
    w = np.ones_like(y) if weights is None else weights
    n = w.sum()
    pos = p[None, :] >= thresholds[:, None]
    tp = (pos * (w * y)).sum(1) / n
    fp = (pos * (w * (1 - y))).sum(1) / n
    return tp - fp * thresholds / (1 - thresholds)


@dataclass(frozen=True)
class BootstrapValidation:
    """Harrell's bootstrap optimism correction (rms ``validate``).

    ``table`` has one row per index (rms's set: Dxy, R2, Intercept, Slope,
    Emax, D, U, Q, B, g, gp, plus the C statistic and calibration-in-the-
    large) and the columns ``apparent``, ``bootstrap_train`` (mean index of
    the bootstrap models on their own samples), ``bootstrap_test`` (the same
    models on the original data), ``optimism`` and ``corrected`` (= apparent
    - optimism). ``n_successful`` resamples were used out of ``n_bootstrap``;
    a resample is left out only where its refit failed as ``rms`` fails it
    (singular information, or not converged in rms's iteration limit).
    """

    table: pd.DataFrame
    n_bootstrap: int
    n_successful: int
    seed: int | None
    thresholds: np.ndarray | None = None
    net_benefit_apparent: np.ndarray | None = None
    net_benefit_corrected: np.ndarray | None = None

    def corrected(self, metric: str) -> float:
        return float(self.table.loc[metric, "corrected"])

    def to_dict(self) -> dict:
        return {
            "n_bootstrap": self.n_bootstrap,
            "n_successful": self.n_successful,
            "n_failed": self.n_bootstrap - self.n_successful,
            "seed": self.seed,
            "metrics": {
                m: {k: float(v) for k, v in row.items()} for m, row in self.table.iterrows()
            },
        }


def bootstrap_indices(n: int, n_bootstrap: int, seed: int | None) -> np.ndarray:
    """Row indices of each bootstrap sample, shape (B, n); ``numpy.random.default_rng(seed)``."""
    return np.random.default_rng(seed).integers(0, n, size=(n_bootstrap, n))


def _metrics_batch(y, LP, W, c=None, *, refit=False):
    """rms's indexes for each row of LP (B, n) under weights W (B, n).

    ``refit`` False: the indexes of a model on its own sample (intercept 0,
    slope 1); True: the outcome refitted on the frozen linear predictor.
    Calibration-in-the-large (offset model) is added to rms's set.
    """
    if c is None:
        c = c_statistic_batch(y, LP, W)
    slope, intercept, citl = _calib_batch(y, LP, W)
    out = logistic_indexes(
        y, LP, W, np.asarray(c, float), refit=(intercept, slope) if refit else None
    )
    out["calibration_in_the_large"] = citl
    return out


#: rms ``lrm.fit`` defaults used by ``validate.lrm`` for each refit
RMS_DEVIANCE_TOL = 0.025
RMS_MAX_ITER = 12


def bootstrap_validate(
    X: np.ndarray,
    y: np.ndarray,
    coef: np.ndarray,
    *,
    n_bootstrap: int = 200,
    seed: int | None = 0,
    firth: bool = False,
    thresholds: np.ndarray | None = None,
    chunk: int = 100,
    progress: Callable[[int, int], None] | None = None,
) -> BootstrapValidation:
    """Bootstrap optimism-corrected performance of a logistic model.

    Each bootstrap sample refits the model (same design: the coding, knots and
    reference levels are those of the development fit, as in rms), measures
    its performance on the bootstrap sample and on the original data; the mean
    difference is the optimism. Maximum-likelihood refits follow
    ``rms::lrm.fit`` as ``validate.lrm`` calls it: Newton-Raphson from the
    intercept-only start, step halving, converged when the deviance changes
    by less than 0.025, failed after 12 iterations or on a singular
    information matrix. A resample with (quasi-)separation therefore
    converges with a large coefficient and is kept, as in rms; failed ones are
    counted (``n_successful``). Firth refits run to full convergence.

    Parameters
    ----------
    X : (n, p) ndarray with intercept column
    y : (n,) ndarray of 0/1
    coef : (p,) ndarray, the development fit
    n_bootstrap : int
    seed : int or None
        Seed of ``numpy.random.default_rng``; the same seed gives the same result.
    firth : bool
        Refit by Firth's penalised likelihood.
    thresholds : (k,) ndarray, optional
        Risk thresholds at which to also correct net benefit for optimism.
    progress : callable, optional
        Called as ``progress(done, total)`` after each block of resamples.
    """
    n = len(y)
    y = np.asarray(y, float)
    lp0 = X @ coef
    ones = np.ones((1, n))
    app = {k: float(v[0]) for k, v in _metrics_batch(y, lp0[None, :], ones).items()}
    idx = bootstrap_indices(n, n_bootstrap, seed)
    train = {k: [] for k in app}
    test = {k: [] for k in app}
    nb_opt = []
    for start in range(0, n_bootstrap, chunk):
        block = idx[start : start + chunk]
        W = np.stack([np.bincount(r, minlength=n) for r in block]).astype(float)
        if firth:
            beta, ok = fit_logistic_batch(X, y, W, beta0=coef, firth=True)
        else:
            beta, ok = fit_logistic_batch(
                X, y, W, deviance_tol=RMS_DEVIANCE_TOL, max_iter=RMS_MAX_ITER
            )
        beta, W = beta[ok], W[ok]
        if progress is not None:
            progress(min(start + chunk, n_bootstrap), n_bootstrap)
        if len(beta) == 0:
            continue
        LP = beta @ X.T
        ones = np.ones_like(W)
        c_tr, c_te = c_statistic_batch(y, LP, W, ones)
        tr = _metrics_batch(y, LP, W, c_tr)
        te = _metrics_batch(y, LP, ones, c_te, refit=True)
        for k in app:
            train[k].append(tr[k])
            test[k].append(te[k])
        if thresholds is not None:
            for b in range(len(beta)):
                p = expit(LP[b])
                nb_opt.append(
                    net_benefit(y, p, thresholds, weights=W[b]) - net_benefit(y, p, thresholds)
                )
    n_ok = sum(len(v) for v in train["c_statistic"])
    rows = {}
    for k in app:
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
    emax = emax_from_calibration(
        rows["calibration_intercept"]["corrected"], rows["calibration_slope"]["corrected"]
    )
    rows["emax"] = {
        "apparent": 0.0,
        "bootstrap_train": 0.0,
        "bootstrap_test": emax,
        "optimism": emax,
        "corrected": emax,
    }
    order = [*LOGISTIC_INDEXES[:5], "emax", *LOGISTIC_INDEXES[5:], "calibration_in_the_large"]
    table = pd.DataFrame.from_dict(rows, orient="index").loc[order]
    nb_app = nb_corr = None
    if thresholds is not None:
        nb_app = net_benefit(y, expit(lp0), thresholds)
        nb_corr = nb_app - (np.mean(nb_opt, axis=0) if nb_opt else np.nan)
    return BootstrapValidation(table, n_bootstrap, n_ok, seed, thresholds, nb_app, nb_corr)


def calibration_curve_corrected(
    X: np.ndarray,
    y: np.ndarray,
    coef: np.ndarray,
    *,
    n_bootstrap: int = 40,
    seed: int | None = 0,
    firth: bool = False,
    n_grid: int = 50,
    frac: float = 0.75,
) -> pd.DataFrame:
    """Bias-corrected calibration curve (rms ``calibrate``, default 40 resamples).

    The apparent curve is the lowess smooth of the outcome on the predicted
    probability, read at ``n_grid`` points between the smallest and largest
    prediction. Each bootstrap model gives a smooth on its own sample and one
    on the original data; their mean difference at each grid point is the
    optimism, subtracted from the apparent curve.

    Returns
    -------
    DataFrame with columns ``predicted``, ``apparent``, ``optimism``, ``corrected``.
    """
    y = np.asarray(y, float)
    p0 = expit(X @ coef)
    grid = np.linspace(p0.min(), p0.max(), n_grid)

    def smooth_at(yy, pp):
        order = np.argsort(pp)
        return np.interp(grid, pp[order], calibration_smooth(yy, pp, frac=frac)[order])

    apparent = smooth_at(y, p0)
    idx = bootstrap_indices(len(y), n_bootstrap, seed)
    W = np.stack([np.bincount(r, minlength=len(y)) for r in idx]).astype(float)
    if firth:
        beta, ok = fit_logistic_batch(X, y, W, beta0=coef, firth=True)
    else:
        beta, ok = fit_logistic_batch(X, y, W, deviance_tol=RMS_DEVIANCE_TOL, max_iter=RMS_MAX_ITER)
    diffs = []
    for r, b in zip(idx[ok], beta[ok], strict=True):
        diffs.append(smooth_at(y[r], expit(X[r] @ b)) - smooth_at(y, expit(X @ b)))
    optimism = np.mean(diffs, axis=0) if diffs else np.full_like(grid, np.nan)
    return pd.DataFrame(
        {
            "predicted": grid,
            "apparent": apparent,
            "optimism": optimism,
            "corrected": np.clip(apparent - optimism, 0, 1),
        }
    )
