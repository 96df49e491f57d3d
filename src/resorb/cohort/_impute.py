"""Multiple imputation by chained equations, and Rubin's rules.

Each incomplete predictor is imputed in turn from all other predictors and the
outcome (van Buuren S. Flexible Imputation of Missing Data, 2nd ed. 2018):
numeric columns by predictive mean matching (5 donors) from a linear model,
categorical columns by drawing from a multinomial logistic model. Parameter
uncertainty is propagated by fitting each imputation model on a bootstrap
sample of the observed rows (the bootstrap variant of "proper" imputation).
Estimates are pooled with Rubin's rules (Rubin DB. Multiple Imputation for
Nonresponse in Surveys. Wiley 1987).
"""

# ruff: noqa: N803, N806

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from resorb.errors import InvalidInputError

__all__ = ["PooledEstimates", "mice_impute", "rubin_pool"]


def _encode_others(frame: pd.DataFrame, target: str, extra: np.ndarray) -> np.ndarray:
    cols = [np.ones(len(frame)), extra]
    for c in frame.columns:
        if c == target:
            continue
        v = frame[c]
        if v.dtype == object:
            levels = sorted({x for x in v if x is not None})
            cols.extend((v == lev).to_numpy(float) for lev in levels[1:])
        else:
            x = v.to_numpy(float)
            sd = x.std() or 1.0
            cols.append((x - x.mean()) / sd)
    return np.column_stack(cols)


def mice_impute(
    frame: pd.DataFrame,
    outcome: np.ndarray,
    *,
    m: int = 5,
    iterations: int = 10,
    seed: int = 0,
    donors: int = 5,
) -> list[pd.DataFrame]:
    """Return ``m`` completed copies of ``frame`` (normalised predictor columns).

    Parameters
    ----------
    frame : DataFrame
        Predictor columns as produced by ``prepare_columns`` (numeric float,
        categorical object with ``None`` for missing).
    outcome : (n,) ndarray
        The outcome (or event indicator), used as a predictor of missingness
        models; must be complete.
    m, iterations, seed, donors
        Imputations, chained-equation sweeps, seed of ``default_rng``, PMM donors.
    """
    if m < 2:
        raise InvalidInputError("impute", str(m), allowed="at least 2 imputations")
    rng = np.random.default_rng(seed)
    miss = frame.isna()
    todo = [c for c in frame.columns if miss[c].any()]
    for c in todo:
        if (~miss[c]).sum() < 10:
            raise InvalidInputError(
                c,
                f"only {(~miss[c]).sum()} observed values to impute from",
                allowed="at least 10 observed values",
            )
    y_extra = np.asarray(outcome, float)
    out = []
    for _ in range(m):
        cur = frame.copy()
        for c in todo:  # start from random draws of the observed values
            obs = cur.loc[~miss[c], c].to_numpy()
            cur.loc[miss[c], c] = rng.choice(obs, size=int(miss[c].sum()))
        for _it in range(iterations):
            for c in todo:
                X = _encode_others(cur, c, y_extra)
                obs_idx = np.flatnonzero(~miss[c].to_numpy())
                mis_idx = np.flatnonzero(miss[c].to_numpy())
                boot = rng.choice(obs_idx, size=obs_idx.size)
                if frame[c].dtype == object:
                    yb = cur[c].to_numpy()[boot]
                    if len(set(yb)) < 2:
                        cur.loc[cur.index[mis_idx], c] = yb[0]
                        continue
                    classes = np.array(sorted(set(yb)))
                    coef = _multinomial_fit(X[boot], np.searchsorted(classes, yb), len(classes))
                    prob = _multinomial_prob(X[mis_idx], coef)
                    u = rng.random(len(mis_idx))[:, None]
                    pick = np.minimum((prob.cumsum(axis=1) < u).sum(axis=1), len(classes) - 1)
                    cur.loc[cur.index[mis_idx], c] = classes[pick]
                else:
                    yv = cur[c].to_numpy(float)
                    beta, *_ = np.linalg.lstsq(X[boot], yv[boot], rcond=None)
                    pred_obs = X[obs_idx] @ beta
                    pred_mis = X[mis_idx] @ beta
                    # predictive mean matching: draw among the closest observed rows
                    d = np.abs(pred_mis[:, None] - pred_obs[None, :])
                    k = min(donors, obs_idx.size)
                    near = np.argpartition(d, k - 1, axis=1)[:, :k]
                    chosen = near[np.arange(len(mis_idx)), rng.integers(0, k, len(mis_idx))]
                    cur.loc[cur.index[mis_idx], c] = yv[obs_idx[chosen]]
        out.append(cur)
    return out


def _multinomial_prob(X: np.ndarray, coef: np.ndarray) -> np.ndarray:
    eta = np.column_stack([np.zeros(len(X)), X @ coef])
    eta -= eta.max(axis=1, keepdims=True)
    e = np.exp(eta)
    return e / e.sum(axis=1, keepdims=True)


def _multinomial_fit(
    X: np.ndarray, y: np.ndarray, k: int, *, ridge: float = 1e-3, max_iter: int = 50
) -> np.ndarray:
    """Multinomial logistic regression (first class as reference) by Newton-Raphson.

    A small ridge penalty keeps the estimates finite when a category is
    separated in a bootstrap sample; it is an imputation model, not the
    analysis model.
    """
    p = X.shape[1]
    coef = np.zeros((p, k - 1))
    Y = np.eye(k)[y][:, 1:]
    for _ in range(max_iter):
        P = _multinomial_prob(X, coef)[:, 1:]
        grad = (X.T @ (Y - P)).T.ravel() - ridge * coef.T.ravel()
        H = np.empty(((k - 1) * p, (k - 1) * p))
        for a in range(k - 1):
            for b in range(k - 1):
                w = P[:, a] * ((a == b) - P[:, b])
                H[a * p : (a + 1) * p, b * p : (b + 1) * p] = X.T @ (X * w[:, None])
        H += ridge * np.eye(H.shape[0])
        step = np.linalg.solve(H, grad)
        coef += step.reshape(k - 1, p).T
        if np.abs(step).max() < 1e-8:
            break
    return coef


@dataclass(frozen=True)
class PooledEstimates:
    """Rubin's rules: pooled coefficients, total variance and its parts."""

    coef: np.ndarray
    within: np.ndarray  # mean of the within-imputation covariances
    between: np.ndarray  # covariance of the estimates across imputations
    total: np.ndarray  # within + (1 + 1/m) between
    df: np.ndarray  # Rubin's (1987) degrees of freedom per coefficient
    m: int

    @property
    def fraction_missing_information(self) -> np.ndarray:
        """Approximate fraction of missing information, ``(1 + 1/m) B / T`` per coefficient."""
        return (1 + 1 / self.m) * np.diag(self.between) / np.diag(self.total)


def rubin_pool(coefs: Sequence[np.ndarray], covs: Sequence[np.ndarray]) -> PooledEstimates:
    """Pool ``m`` estimates and covariances with Rubin's rules."""
    Q = np.asarray(coefs, float)
    U = np.asarray(covs, float)
    m = Q.shape[0]
    if m < 2:
        raise InvalidInputError("impute", str(m), allowed="at least 2 imputations")
    qbar = Q.mean(axis=0)
    W = U.mean(axis=0)
    B = np.cov(Q, rowvar=False, ddof=1).reshape(W.shape)
    T = W + (1 + 1 / m) * B
    r = (1 + 1 / m) * np.diag(B) / np.maximum(np.diag(W), 1e-300)
    with np.errstate(divide="ignore"):
        df = np.where(r > 0, (m - 1) * (1 + 1 / np.maximum(r, 1e-300)) ** 2, np.inf)
    return PooledEstimates(qbar, W, B, T, df, m)
