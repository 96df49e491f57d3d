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


def penalised_loglik(
    beta: np.ndarray, X: np.ndarray, y: np.ndarray, w: np.ndarray | None = None
) -> float:
    """Firth's penalised log-likelihood ``l(beta) + 0.5 log|X' W V X|``."""
    w = np.ones(len(y)) if w is None else w
    eta = X @ beta
    p = expit(eta)
    info = X.T @ (X * (w * p * (1 - p))[:, None])
    sign, logdet = np.linalg.slogdet(info)
    return float(_loglik(eta, y, w) + 0.5 * logdet) if sign > 0 else -np.inf


def _objective(beta, X, y, W, firth):
    """(Penalised) log-likelihood of each row of ``beta`` (B, p) under ``W`` (B, n)."""
    eta = beta @ X.T
    ll = _loglik(eta, y, W)
    if not firth:
        return ll
    p = X.shape[1]
    v = expit(eta)
    v = W * v * (1 - v)
    XX = (X[:, :, None] * X[:, None, :]).reshape(len(X), p * p)
    sign, logdet = np.linalg.slogdet((v @ XX).reshape(-1, p, p))
    return np.where(sign > 0, ll + 0.5 * logdet, -np.inf)


def fit_logistic_batch(
    X: np.ndarray,
    y: np.ndarray,
    W: np.ndarray,
    *,
    beta0: np.ndarray | None = None,
    firth: bool = False,
    max_iter: int = 50,
    tol: float = 1e-8,
    deviance_tol: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Fit ``B`` weighted logistic regressions on one design at once.

    Newton-Raphson with step halving: a step that lowers the (penalised)
    log-likelihood is halved until it does not. Convergence is judged on the
    likelihood and the step, never on the size of a coefficient, so a resample
    with quasi-separation converges (its likelihood stops changing while one
    coefficient is large) and is kept, as ``rms::lrm.fit`` keeps it.

    Parameters
    ----------
    X : (n, p) ndarray
        Design matrix including the intercept column.
    y : (n,) ndarray of 0/1
    W : (B, n) ndarray
        Frequency weights per fit (bootstrap multiplicities).
    beta0 : (p,) or (B, p) ndarray, optional
        Starting values. Default: rms's start, the intercept at the logit of
        the (weighted) event rate and every slope 0.
    firth : bool
        Maximise Firth's penalised likelihood instead of the likelihood.
    max_iter : int
        Newton iterations; a fit still changing after them is not converged.
    tol : float
        Convergence when the largest absolute step is below ``tol`` or the
        relative change of the log-likelihood is below ``tol**1.5``.
    deviance_tol : float, optional
        rms's rule instead (``lrm.fit(eps = 0.025)``): converged one Newton
        step after the deviance (-2 log-likelihood) changed by less than this.

    Returns
    -------
    beta : (B, p) ndarray
    converged : (B,) ndarray of bool
        False where the information matrix was singular or Newton had not
        converged after ``max_iter`` iterations (``lrm.fit``'s ``fail``).
    """
    W = np.atleast_2d(np.asarray(W, dtype=float))
    B, _ = W.shape
    p = X.shape[1]
    if beta0 is None:
        beta = np.zeros((B, p))
        rate = np.clip((W @ y) / W.sum(1), 1e-10, 1 - 1e-10)
        beta[:, 0] = np.log(rate / (1 - rate))
    else:
        beta = np.broadcast_to(beta0, (B, p)).copy()
    # outer products of the design rows, (n, p*p): the information matrices of
    # all B fits are then one matrix product, weights (B, n) @ XX (n, p*p)
    XX = (X[:, :, None] * X[:, None, :]).reshape(len(X), p * p)
    active = np.ones(B, dtype=bool)
    converged = np.zeros(B, dtype=bool)
    ok = np.ones(B, dtype=bool)
    final = np.zeros(B, dtype=bool)
    obj = _objective(beta, X, y, W, firth)
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
            idx, b, w, step = idx[~bad], b[~bad], w[~bad], step[~bad]
            if idx.size == 0:
                continue
        old = obj[idx]
        new_obj = _objective(b + step, X, y, w, firth)
        for _h in range(30):  # step halving while the likelihood falls
            worse = ~(new_obj >= old - 1e-12 * np.abs(old))
            if not worse.any():
                break
            step[worse] /= 2
            new_obj[worse] = _objective(b[worse] + step[worse], X, y, w[worse], firth)
        beta[idx] = b + step
        obj[idx] = new_obj
        change = np.abs(new_obj - old)
        if deviance_tol is not None:
            # lrm.fit takes one more Newton step once the deviance has settled
            done = final[idx]
            final[idx] = 2 * change < deviance_tol
        else:
            done = (np.abs(step).max(axis=1) < tol) | (
                change <= tol**1.5 * np.maximum(np.abs(new_obj), 1.0)
            )
        converged[idx[done]] = True
        active[idx[done]] = False
    return beta, converged & ok
