# ruff: noqa: N803, N806  (matrix notation: X design, W weights, B resamples)
"""Batched Newton-Raphson for the Cox model with Efron's handling of ties.

The same recipe as ``survival::coxph`` (``ties = "efron"``): Newton-Raphson
on the partial log-likelihood, step halving when the likelihood falls,
convergence when the relative change of the log-likelihood is below ``eps``
(coxph's rule; this fitter continues until the change is below 1e-12 or the
step is negligible, so the answer is at least as converged as coxph's).

A bootstrap resample is a vector of multiplicities ``W`` (B, n): a row drawn
twice counts as two tied rows, exactly as the resampled data set that
``rms::validate.cph`` refits (Efron's correction then runs over the copies).
All resamples are fitted at once; the information matrices are one matrix
product of the weights with the outer products of the design rows.

References
----------
Efron B. The efficiency of Cox's likelihood function for censored data. JASA
1977;72:557-65. Therneau TM, Grambsch PM. Modeling Survival Data. Springer 2000.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np

__all__ = ["CoxSetup", "breslow_efron_hazard", "fit_cox_batch"]


@dataclass(frozen=True)
class CoxSetup:
    """Rows sorted by time and the grouping of events into distinct event times."""

    order: np.ndarray  # original row index of each sorted row
    time: np.ndarray  # sorted times
    event: np.ndarray  # sorted 0/1
    event_times: np.ndarray  # (J,) distinct event times
    start: np.ndarray  # (J,) first sorted row with time >= t_j (risk set start)
    death_rows: np.ndarray  # sorted positions of event rows (contiguous by time)
    death_group: np.ndarray  # (n_death,) index j of each event row
    group_start: np.ndarray  # (J,) offsets of each group within death_rows
    upto: np.ndarray  # (n,) index of the last event time <= t_i, -1 if none

    @classmethod
    def build(cls, time: np.ndarray, event: np.ndarray) -> CoxSetup:
        time = np.asarray(time, float)
        event = np.asarray(event, float)
        order = np.lexsort((-event, time))
        t, e = time[order], event[order]
        death_rows = np.flatnonzero(e == 1)
        event_times = np.unique(t[death_rows])
        start = np.searchsorted(t, event_times, side="left")
        death_group = np.searchsorted(event_times, t[death_rows])
        group_start = np.searchsorted(death_group, np.arange(len(event_times)))
        upto = np.searchsorted(event_times, t, side="right") - 1
        return cls(order, t, e, event_times, start, death_rows, death_group, group_start, upto)


def _revcumsum(a: np.ndarray, axis: int = 1) -> np.ndarray:
    return np.flip(np.cumsum(np.flip(a, axis=axis), axis=axis), axis=axis)


def _efron_kernel():
    from numba import njit

    @njit(cache=True)
    def kernel(X, shared, W, beta, event, time, want_info, ll, score, info):  # pragma: no cover
        B = W.shape[0]
        n = W.shape[1]
        p = beta.shape[1]
        R1 = np.zeros(p)
        R2 = np.zeros((p, p))
        D1 = np.zeros(p)
        D2 = np.zeros((p, p))
        eta = np.zeros(n)
        for b in range(B):
            xb = X[0] if shared else X[b]
            m = -np.inf
            for i in range(n):
                e = 0.0
                for k in range(p):
                    e += xb[i, k] * beta[b, k]
                eta[i] = e
                if W[b, i] > 0 and e > m:
                    m = e
            R = 0.0
            R1[:] = 0.0
            R2[:, :] = 0.0
            lk = 0.0
            for k in range(p):
                score[b, k] = 0.0
                for q in range(p):
                    info[b, k, q] = 0.0
            i = n - 1
            while i >= 0:
                t = time[i]
                j = i
                D = 0.0
                d = 0.0
                D1[:] = 0.0
                D2[:, :] = 0.0
                # the rows of this time (sorted ascending, so walk down to its first row)
                while j >= 0 and time[j] == t:
                    w = W[b, j]
                    if w > 0:
                        r = w * np.exp(eta[j] - m)
                        R += r
                        for k in range(p):
                            R1[k] += r * xb[j, k]
                            if want_info:
                                for q in range(k + 1):
                                    R2[k, q] += r * xb[j, k] * xb[j, q]
                        if event[j] == 1:
                            d += w
                            D += r
                            lk += w * eta[j]
                            for k in range(p):
                                D1[k] += r * xb[j, k]
                                score[b, k] += w * xb[j, k]
                                if want_info:
                                    for q in range(k + 1):
                                        D2[k, q] += r * xb[j, k] * xb[j, q]
                    j -= 1
                nd = int(d + 0.5)
                for ll_ in range(nd):
                    c = ll_ / d
                    den = R - c * D
                    lk -= np.log(den) + m
                    a = 1.0 / den
                    for k in range(p):
                        mk = (R1[k] - c * D1[k]) * a
                        score[b, k] -= mk
                        if want_info:
                            for q in range(k + 1):
                                mq = (R1[q] - c * D1[q]) * a
                                info[b, k, q] += (R2[k, q] - c * D2[k, q]) * a - mk * mq
                i = j
            ll[b] = lk
            if want_info:
                for k in range(p):
                    for q in range(k):
                        info[b, q, k] = info[b, k, q]

    return kernel


_KERNEL = None


def _efron_terms(
    setup: CoxSetup, X: np.ndarray, W: np.ndarray, beta: np.ndarray, *, hessian: bool = True
):
    """Log-likelihood, score and information of B weighted fits (sorted data).

    X : (n, p) sorted, or (B, n, p) one design per fit; W : (B, n) sorted
    multiplicities (whole numbers: Efron's correction runs over the copies);
    beta : (B, p). One pass from the last time to the first accumulates the
    risk-set sums (a compiled loop, O(n p^2) per fit).
    """
    global _KERNEL
    if _KERNEL is None:
        _KERNEL = _efron_kernel()
    shared = X.ndim == 2
    X3 = np.ascontiguousarray(X[None] if shared else X, dtype=float)
    B, p = beta.shape
    ll = np.empty(B)
    score = np.empty((B, p))
    info = np.empty((B, p, p))
    _KERNEL(
        X3,
        shared,
        np.ascontiguousarray(W, dtype=float),
        np.ascontiguousarray(beta, dtype=float),
        setup.event.astype(np.int64),
        np.ascontiguousarray(setup.time),
        hessian,
        ll,
        score,
        info,
    )
    return ll, score, (info if hessian else None)


def _rows(X: np.ndarray, sel: np.ndarray) -> np.ndarray:
    return X[sel] if X.ndim == 3 else X


def fit_cox_batch(
    X: np.ndarray,
    time: np.ndarray,
    event: np.ndarray,
    W: np.ndarray | None = None,
    *,
    beta0: np.ndarray | None = None,
    setup: CoxSetup | None = None,
    max_iter: int = 30,
    eps: float = 1e-12,
) -> dict[str, np.ndarray]:
    """Fit ``B`` weighted Cox models (Efron ties) on one design at once.

    Parameters
    ----------
    X : (n, p) ndarray, no intercept column; or (B, n, p), one design per fit
    time, event : (n,) arrays; ``event`` 1 = event, anything else censored
    W : (B, n) frequency weights (bootstrap multiplicities); default one fit, weights 1
    beta0 : (p,) or (B, p) starting values (coxph starts at 0)
    max_iter : Newton iterations (coxph's ``iter.max`` is 20)
    eps : relative change of the log-likelihood at which iteration stops

    Returns
    -------
    dict with ``beta`` (B, p), ``loglik`` (B,), ``loglik0`` (B,) (at beta = 0),
    ``information`` (B, p, p), ``iterations`` (B,), ``converged`` (B,) bool:
    False only where the information matrix is singular or the log-likelihood
    is still changing after ``max_iter`` iterations. A coefficient that runs
    away (monotone likelihood) converges on the log-likelihood, as in coxph,
    and is kept.
    """
    X = np.asarray(X, float)
    n, p = X.shape[-2:]
    setup = setup or CoxSetup.build(time, (np.asarray(event) == 1).astype(float))
    Xs = X[..., setup.order, :]
    W = np.ones((1, n)) if W is None else np.atleast_2d(np.asarray(W, float))
    Ws = W[:, setup.order]
    B = len(Ws)
    beta = np.zeros((B, p)) if beta0 is None else np.broadcast_to(beta0, (B, p)).copy()
    ll0, _, _ = _efron_terms(setup, Xs, Ws, np.zeros((B, p)), hessian=False)
    ll, g, info = _efron_terms(setup, Xs, Ws, beta)
    active = np.ones(B, bool)
    converged = np.zeros(B, bool)
    singular = np.zeros(B, bool)
    iters = np.zeros(B, int)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        iters[idx] += 1
        try:
            step = np.linalg.solve(info[idx], g[idx][..., None])[..., 0]
        except np.linalg.LinAlgError:
            step = np.full((idx.size, p), np.nan)
            for k, i in enumerate(idx):
                with contextlib.suppress(np.linalg.LinAlgError):
                    step[k] = np.linalg.solve(info[i], g[i])
        bad = ~np.isfinite(step).all(axis=1)
        singular[idx[bad]] = True
        active[idx[bad]] = False
        idx, step = idx[~bad], step[~bad]
        if idx.size == 0:
            break
        cand = beta[idx] + step
        nll, ng, ninfo = _efron_terms(setup, _rows(Xs, idx), Ws[idx], cand)
        # step halving while the likelihood falls (coxph does the same)
        for _h in range(30):
            worse = ~(nll >= ll[idx] - 1e-12 * np.abs(ll[idx]))
            if not worse.any():
                break
            step[worse] /= 2
            cand[worse] = beta[idx[worse]] + step[worse]
            wl, wg, wi = _efron_terms(setup, _rows(Xs, idx[worse]), Ws[idx[worse]], cand[worse])
            nll[worse], ng[worse], ninfo[worse] = wl, wg, wi
        change = np.abs(1 - ll[idx] / nll) if np.all(nll != 0) else np.abs(nll - ll[idx])
        beta[idx], g[idx], info[idx] = cand, ng, ninfo
        small = (change < eps) | (np.abs(step).max(axis=1) < 1e-10 * (1 + np.abs(cand).max(1)))
        ll[idx] = nll
        converged[idx[small]] = True
        active[idx[small]] = False
    return {
        "beta": beta,
        "loglik": ll,
        "loglik0": ll0,
        "information": info,
        "iterations": iters,
        "converged": converged & ~singular,
    }


def breslow_efron_hazard(
    X: np.ndarray, time: np.ndarray, event: np.ndarray, beta: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """Cumulative baseline hazard at the distinct event times (x = 0).

    Efron's version, as ``survival::survfit.coxph`` uses after an Efron fit:
    at a time with ``d`` tied events the increment is
    ``sum_{l=0}^{d-1} 1 / (R - (l/d) D)`` (R: risk-set sum of ``exp(x'beta)``,
    D: the same over the tied events), for the mean covariate vector.

    Returns ``(event_times, cumulative_hazard, centre)``: the hazard of a
    linear predictor ``lp`` is ``cumulative_hazard * exp(lp - centre)``.
    """
    setup = CoxSetup.build(time, (np.asarray(event) == 1).astype(float))
    Xs = np.asarray(X, float)[setup.order]
    shift = float(Xs.mean(axis=0) @ beta)
    r = np.exp(Xs @ beta - shift)
    R = _revcumsum(r[None, :])[0, setup.start]
    dr, gs = setup.death_rows, setup.group_start
    d = np.add.reduceat(np.ones(len(dr)), gs)
    D = np.add.reduceat(r[dr], gs)
    dj = d.astype(int)
    jl = np.repeat(np.arange(len(d)), dj)  # one entry per tied event: l = 0..d_j-1
    lval = np.arange(len(jl)) - np.repeat(np.cumsum(dj) - dj, dj)
    inc = np.bincount(jl, weights=1.0 / (R[jl] - lval / d[jl] * D[jl]), minlength=len(d))
    return setup.event_times, np.cumsum(inc), shift
