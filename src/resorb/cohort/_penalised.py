# ruff: noqa: N803, N806  (matrix notation: X design, P penalty, I information)
"""Penalised maximum likelihood for logistic models, as rms ``lrm(penalty=)``
and ``pentrace``.

The penalised log-likelihood is ``l(beta) - 0.5 beta' P beta`` with the
intercept unpenalised and ``P = penalty * P0``; ``P0`` is rms's
``Penalty.matrix``: the variance of each design column on the diagonal (so
the penalty does not depend on the predictor's units), and for a categorical
predictor with ``k`` dummy columns the block ``I - J / (k + 1)``, which
penalises the differences between all ``k + 1`` levels alike whatever the
reference. The effective degrees of freedom are ``trace(I V)`` over the
slopes, with ``I`` the unpenalised information and ``V = (I + P)^-1``; the
model likelihood-ratio chi-square is that of the unpenalised log-likelihood
at the penalised estimates. ``pentrace`` refits over a grid of penalties and
picks the largest corrected AIC (``chi2 - 2 df (1 + (df + 1) / (n - df - 1))``,
its default) or AIC or BIC.

Harrell FE Jr. Regression Modeling Strategies, 2nd ed. 2015, section 9.10;
Gray RJ. JASA 1992;87:942-51 (effective degrees of freedom).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.special import expit, log_expit

from resorb.cohort._coding import PredictorCoding

__all__ = ["PenalisedFit", "fit_penalised", "penalty_matrix", "pentrace"]


def penalty_matrix(codings: Sequence[PredictorCoding], X: np.ndarray) -> np.ndarray:
    """rms ``Penalty.matrix`` of a design without intercept column."""
    v = X.var(axis=0, ddof=1)
    P = np.diag(v)
    pos = 0
    for c in codings:
        w = len(c.columns)
        if c.kind == "categorical":
            P[pos : pos + w, pos : pos + w] = np.eye(w) - 1.0 / (w + 1)
        pos += w
    return P


class PenalisedFit(dict):
    """``coef``, ``cov`` (penalised), ``df`` (effective), ``lr`` (chi-square), ``penalty``."""


def fit_penalised(
    X: np.ndarray,
    y: np.ndarray,
    P0: np.ndarray,
    penalty: float,
    *,
    beta0: np.ndarray | None = None,
    max_iter: int = 100,
    tol: float = 1e-12,
) -> PenalisedFit:
    """Newton-Raphson on the penalised log-likelihood (X with intercept column)."""
    n, p = X.shape
    P = np.zeros((p, p))
    P[1:, 1:] = penalty * P0
    beta = np.zeros(p) if beta0 is None else np.array(beta0, float)
    if beta0 is None:
        rate = y.mean()
        beta[0] = np.log(rate / (1 - rate))

    def objective(b):
        eta = X @ b
        return float((y * log_expit(eta) + (1 - y) * log_expit(-eta)).sum() - 0.5 * b @ P @ b)

    obj = objective(beta)
    for _ in range(max_iter):
        mu = expit(X @ beta)
        info = X.T @ (X * (mu * (1 - mu))[:, None])
        score = X.T @ (y - mu) - P @ beta
        step = np.linalg.solve(info + P, score)
        for _h in range(30):
            new = objective(beta + step)
            if new >= obj - 1e-12 * abs(obj):
                break
            step /= 2
        beta = beta + step
        change, obj = abs(new - obj), new
        if change <= tol * max(abs(obj), 1.0) or np.abs(step).max() < 1e-10:
            break
    mu = expit(X @ beta)
    info = X.T @ (X * (mu * (1 - mu))[:, None])
    V = np.linalg.inv(info + P)
    df = float(np.trace(info @ V) - (info @ V)[0, 0])
    rate = y.mean()
    ll0 = n * (rate * np.log(rate) + (1 - rate) * np.log1p(-rate))
    eta = X @ beta
    ll = float((y * log_expit(eta) + (1 - y) * log_expit(-eta)).sum())
    return PenalisedFit(coef=beta, cov=V, df=df, lr=2 * (ll - ll0), penalty=penalty)


def pentrace(
    X: np.ndarray,
    y: np.ndarray,
    codings: Sequence[PredictorCoding],
    penalties: Sequence[float],
    *,
    which: str = "aic_c",
) -> tuple[pd.DataFrame, float]:
    """Refit over ``penalties`` and pick the best by ``which`` (aic_c, aic or bic).

    Returns the table (penalty, df, lr, aic, bic, aic_c) and the best penalty.
    """
    if which not in {"aic_c", "aic", "bic"}:
        raise ValueError(f"which must be aic_c, aic or bic, got {which!r}")
    n = len(y)
    P0 = penalty_matrix(codings, X[:, 1:])
    rows, beta = [], None
    for pen in sorted(penalties):
        f = fit_penalised(X, y, P0, float(pen), beta0=beta)
        beta = f["coef"]
        df, lr = f["df"], f["lr"]
        rows.append(
            {
                "penalty": float(pen),
                "df": df,
                "lr": lr,
                "aic": lr - 2 * df,
                "bic": lr - df * np.log(n),
                "aic_c": lr - 2 * df * (1 + (df + 1) / (n - df - 1)),
            }
        )
    table = pd.DataFrame(rows)
    best = float(table.loc[table[which].idxmax(), "penalty"])
    return table, best
