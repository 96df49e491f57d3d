# ruff: noqa: N803, N806  (matrix notation: LP linear predictors, W weights, B resamples)
"""The validation indexes of ``rms::validate`` for logistic and Cox models.

Every function takes B linear predictors at once (``LP`` (B, n)) with
frequency weights ``W`` (B, n): a bootstrap resample is the original rows
with multiplicities, and each index equals the index computed on the
resampled rows (the tests check this against rms on the expanded data).

``apparent`` indexes are those of a model on its own data (rms
``evalfit = TRUE``: intercept 0, slope 1, the model's likelihood ratio);
``test`` indexes refit the outcome on the frozen linear predictor (rms
``evalfit = FALSE``: ``Intercept`` and ``Slope`` are that refit's
coefficients, ``D``/``R2`` its likelihood ratio, ``U`` the unreliability of
the frozen predictor). Definitions: Harrell FE Jr. Regression Modeling
Strategies, 2nd ed. Springer 2015, sections 4.5 and 5.3 (D, U, Q: Harrell's
discrimination, unreliability and quality indexes; g: Gini's mean difference
of the linear predictor).
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, log_expit

__all__ = ["gini_md", "logistic_indexes", "surv_concordance"]

LOGISTIC_INDEXES = (
    "dxy",
    "c_statistic",
    "r2",
    "calibration_intercept",
    "calibration_slope",
    "d",
    "u",
    "q",
    "brier",
    "g",
    "gp",
)
COX_INDEXES = ("dxy", "c_index", "r2", "calibration_slope", "d", "u", "q", "g")


def gini_md(X: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Gini's mean difference of each row of ``X`` with multiplicities ``W``.

    Equals ``Hmisc::GiniMd`` of the expanded vector: the mean of
    ``|x_i - x_j|`` over ordered pairs of distinct copies.
    """
    order = np.argsort(X, axis=1)
    x = np.take_along_axis(X, order, axis=1)
    w = np.take_along_axis(W, order, axis=1)
    cw = np.cumsum(w, axis=1) - w  # weight strictly before (in sort order)
    cwx = np.cumsum(w * x, axis=1) - w * x
    total = (w * (x * cw - cwx)).sum(1)
    N = W.sum(1)
    return 2 * total / (N * (N - 1))


def _deviance(y, eta, W):
    return -2 * (W * (y * log_expit(eta) + (1 - y) * log_expit(-eta))).sum(1)


def _null_deviance(y, W):
    N = W.sum(1)
    k = W @ y
    rate = k / N
    with np.errstate(divide="ignore", invalid="ignore"):
        out = -2 * (
            np.where(k > 0, k * np.log(rate), 0) + np.where(N - k > 0, (N - k) * np.log1p(-rate), 0)
        )
    return out


def logistic_indexes(
    y: np.ndarray,
    LP: np.ndarray,
    W: np.ndarray,
    c: np.ndarray,
    *,
    refit: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """``validate.lrm``'s indexes for each row of ``LP`` under weights ``W``.

    Parameters
    ----------
    y : (n,) 0/1
    LP, W : (B, n)
    c : (B,) C statistic of each row (computed by the caller, batched)
    refit : (intercept, slope) of the outcome refitted on each frozen linear
        predictor; None for the apparent / training indexes (``evalfit``).
    """
    N = W.sum(1)
    L0 = _null_deviance(y, W)
    L_model = _deviance(y, LP, W)
    P = expit(LP)
    brier = (W * (y - P) ** 2).sum(1) / N
    if refit is None:
        lr = L0 - L_model
        a, b = np.zeros(len(LP)), np.ones(len(LP))
        u = -2 / N
        g = gini_md(LP, W)
        gp = gini_md(P, W)
    else:
        a, b = refit
        L_refit = _deviance(y, a[:, None] + b[:, None] * LP, W)
        lr = L0 - L_refit
        u = (L_model - L_refit - 2) / N
        g = gini_md(b[:, None] * LP, W)
        gp = gini_md(expit(a[:, None] + b[:, None] * LP), W)
    r2 = (1 - np.exp(-lr / N)) / (1 - np.exp(-L0 / N))
    d = (lr - 1) / N
    return {
        "dxy": 2 * c - 1,
        "c_statistic": c,
        "r2": r2,
        "calibration_intercept": a,
        "calibration_slope": b,
        "d": d,
        "u": u,
        "q": d - u,
        "brier": brier,
        "g": g,
        "gp": gp,
    }


def emax_from_calibration(intercept: float, slope: float) -> float:
    """rms's Emax: the largest ``|p - expit(a + b logit p)|`` over p in [0, 1] (step 5e-4)."""
    p = np.arange(0, 1 + 2.5e-4, 5e-4)
    with np.errstate(divide="ignore"):
        L = np.log(p / (1 - p))
    return float(np.nanmax(np.abs(p - expit(intercept + slope * L))))


def _concordance_kernel():
    from numba import njit

    @njit(cache=True)
    def kernel(time, event, LP, W, out):  # pragma: no cover - compiled
        B, n = LP.shape
        # rows by time, latest first; a time's rows are handled as one group
        order = np.argsort(-time)
        for b in range(B):
            lp = LP[b]
            srt = np.argsort(lp)
            rank = np.empty(n, np.int64)
            r = 0
            for k in range(n):
                if k > 0 and lp[srt[k]] != lp[srt[k - 1]]:
                    r += 1
                rank[srt[k]] = r
            m = r + 1
            tree = np.zeros(m + 1)
            total = 0.0
            conc = 0.0
            disc = 0.0
            tied = 0.0
            k = 0
            while k < n:
                t = time[order[k]]
                e_end = k
                while e_end < n and time[order[e_end]] == t:
                    e_end += 1
                # censored rows at this time count as later than its events
                for q in range(k, e_end):
                    i = order[q]
                    if event[i] == 0 and W[b, i] > 0:
                        j = rank[i] + 1
                        while j <= m:
                            tree[j] += W[b, i]
                            j += j & (-j)
                        total += W[b, i]
                for q in range(k, e_end):
                    i = order[q]
                    if event[i] == 1 and W[b, i] > 0:
                        below = 0.0
                        j = rank[i]
                        while j > 0:
                            below += tree[j]
                            j -= j & (-j)
                        upto = 0.0
                        j = rank[i] + 1
                        while j > 0:
                            upto += tree[j]
                            j -= j & (-j)
                        wi = W[b, i]
                        conc += wi * below
                        tied += wi * (upto - below)
                        disc += wi * (total - upto)
                for q in range(k, e_end):
                    i = order[q]
                    if event[i] == 1 and W[b, i] > 0:
                        j = rank[i] + 1
                        while j <= m:
                            tree[j] += W[b, i]
                            j += j & (-j)
                        total += W[b, i]
                k = e_end
            out[b, 0] = conc
            out[b, 1] = disc
            out[b, 2] = tied

    return kernel


_KERNEL = None


def surv_concordance(
    time: np.ndarray, event: np.ndarray, LP: np.ndarray, W: np.ndarray | None = None
) -> np.ndarray:
    """Harrell's C of each row of ``LP`` (higher = earlier event), with multiplicities.

    The convention of ``survival::concordance`` (and so of ``rms``'s
    ``dxy.cens``): a pair is comparable when the earlier time is an event; an
    event and a censoring at the same time are comparable (the censored row
    lasted longer); two events at the same time are not. Ties in the
    predictor count one half. O(n log n) per row (a Fenwick tree).
    """
    global _KERNEL
    if _KERNEL is None:
        _KERNEL = _concordance_kernel()
    LP = np.ascontiguousarray(np.atleast_2d(LP), dtype=float)
    W = np.ones_like(LP) if W is None else np.ascontiguousarray(np.atleast_2d(W), dtype=float)
    out = np.zeros((len(LP), 3))
    _KERNEL(
        np.ascontiguousarray(time, dtype=float),
        np.ascontiguousarray((np.asarray(event) == 1).astype(np.int64)),
        LP,
        W,
        out,
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        return (out[:, 0] + 0.5 * out[:, 2]) / out.sum(1)
