# ruff: noqa: N803, N806  (matrix notation: X design, W weights, B resamples)
"""Batched Newton-Raphson for logistic regression (maximum likelihood and Firth).

Bootstrap validation refits one model on many resamples. A resample is a
vector of multiplicities (how often each row was drawn), so all resamples can
be fitted at once: ``W`` (B, n) weights, the same design ``X`` (n, p), and
Newton steps computed with ``einsum`` and batched ``solve``. A weighted fit
equals the fit on the resampled rows (frequency weights), which the tests
check against statsmodels.
"""

from __future__ import annotations

import contextlib

import numpy as np
from scipy.special import expit, log_expit

__all__ = ["fit_logistic_batch", "penalised_loglik"]


def _loglik(eta, y, w):
    return (w * (y * log_expit(eta) + (1 - y) * log_expit(-eta))).sum(axis=-1)


def penalised_loglik(beta: np.ndarray, X: np.ndarray, y: np.ndarray,
                     w: np.ndarray | None = None) -> float:
    """Firth's penalised log-likelihood ``l(beta) + 0.5 log|X' W V X|``."""
    w = np.ones(len(y)) if w is None else w
    eta = X @ beta
    p = expit(eta)
    info = X.T @ (X * (w * p * (1 - p))[:, None])
    sign, logdet = np.linalg.slogdet(info)
    return float(_loglik(eta, y, w) + 0.5 * logdet) if sign > 0 else -np.inf


def fit_logistic_batch(X: np.ndarray, y: np.ndarray, W: np.ndarray, *,
                       beta0: np.ndarray | None = None, firth: bool = False,
                       max_iter: int = 50, tol: float = 1e-8,
                       max_step: float = 5.0) -> tuple[np.ndarray, np.ndarray]:
    """Fit ``B`` weighted logistic regressions on one design at once.

    Parameters
    ----------
    X : (n, p) ndarray
        Design matrix including the intercept column.
    y : (n,) ndarray of 0/1
    W : (B, n) ndarray
        Frequency weights per fit (bootstrap multiplicities).
    beta0 : (p,) or (B, p) ndarray, optional
        Starting values (warm start, e.g. the full-data fit).
    firth : bool
        Maximise Firth's penalised likelihood instead of the likelihood.
    max_iter, tol, max_step
        Newton iterations, convergence tolerance on the largest absolute step,
        and the largest absolute change of one coefficient per step.

    Returns
    -------
    beta : (B, p) ndarray
    converged : (B,) ndarray of bool
        False where Newton did not converge or the information matrix was
        singular (e.g. a resample with separation under maximum likelihood).
    """
    W = np.atleast_2d(np.asarray(W, dtype=float))
    B, _ = W.shape
    p = X.shape[1]
    beta = np.zeros((B, p)) if beta0 is None else np.broadcast_to(beta0, (B, p)).copy()
    # outer products of the design rows, (n, p*p): the information matrices of
    # all B fits are then one matrix product, weights (B, n) @ XX (n, p*p)
    XX = (X[:, :, None] * X[:, None, :]).reshape(len(X), p * p)
    active = np.ones(B, dtype=bool)
    converged = np.zeros(B, dtype=bool)
    ok = np.ones(B, dtype=bool)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        b = beta[idx]
        w = W[idx]
        eta = b @ X.T
        mu = expit(eta)
        v = mu * (1 - mu)
        info = ((w * v) @ XX).reshape(-1, p, p)
        resid = y - mu
        if firth:
            try:
                inv = np.linalg.inv(info)
            except np.linalg.LinAlgError:
                inv = np.linalg.pinv(info)
            # leverage of one copy of each row: v_i x_i' I^-1 x_i
            h = v * (XX @ inv.reshape(-1, p * p).T).T
            resid = resid + h * (0.5 - mu)
        score = np.einsum("bn,ni->bi", w * resid, X)
        try:
            step = np.linalg.solve(info, score[..., None])[..., 0]
        except np.linalg.LinAlgError:
            step = np.full_like(b, np.nan)
            for j in range(len(idx)):
                with contextlib.suppress(np.linalg.LinAlgError):
                    step[j] = np.linalg.solve(info[j], score[j])
        bad = ~np.isfinite(step).all(axis=1)
        if bad.any():
            ok[idx[bad]] = False
            active[idx[bad]] = False
            step[bad] = 0.0
        big = np.abs(step).max(axis=1, keepdims=True)
        step = np.where(big > max_step, step * (max_step / np.maximum(big, 1e-300)), step)
        new = b + step
        if firth:
            # step halving on the penalised likelihood keeps Firth monotone
            for j in range(len(idx)):
                if bad[j]:
                    continue
                old_pl = penalised_loglik(b[j], X, y, w[j])
                s = step[j]
                for _h in range(25):
                    if penalised_loglik(b[j] + s, X, y, w[j]) >= old_pl - 1e-12:
                        break
                    s = s / 2
                new[j] = b[j] + s
                step[j] = s
        beta[idx] = new
        done = (np.abs(step).max(axis=1) < tol) & ~bad
        converged[idx[done]] = True
        active[idx[done]] = False
    diverged = np.abs(beta).max(axis=1) > 30  # separation: coefficients run away
    return beta, converged & ok & ~diverged
