"""Wald tests of predictors, non-linearity and interactions (rms ``anova``).

For each predictor the chunk test of all its coefficients, including those
of the interactions it is part of (rms's "Factor+Higher Order Factors");
for a spline its non-linear terms ("Nonlinear"); for a predictor in an
interaction all of its interaction terms ("All Interactions"); for each
interaction its terms; then the totals rms prints: non-linear terms (when
more than one predictor is non-linear), interaction terms (when more than one
interaction), both together, and all coefficients. Each row is
``chi2 = b' V^-1 b`` over the coefficients ``b`` of the chunk, with their
covariance ``V``; degrees of freedom = the rank of the chunk.

Harrell FE Jr. Regression Modeling Strategies, 2nd ed. Springer 2015,
section 4.4 (the "anova" table of composite Wald tests).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from resorb.cohort._coding import PredictorCoding

__all__ = ["wald_anova"]


def _columns(codings: Sequence[PredictorCoding]) -> dict[str, tuple[int, ...]]:
    out, pos = {}, 0
    for c in codings:
        out[c.name] = tuple(range(pos, pos + len(c.columns)))
        pos += len(c.columns)
    return out


def _nonlinear(c: PredictorCoding, cols: tuple[int, ...], by: dict) -> tuple[int, ...]:
    """Positions of non-linear terms: a spline's primed columns, and interaction
    columns that involve them."""
    if c.kind == "rcs":
        return cols[1:]
    if c.kind == "interaction":
        a, b = (by[n] for n in c.components)
        wb = len(b.columns)
        return tuple(
            cols[i * wb + j]
            for i in range(len(a.columns))
            for j in range(wb)
            if (a.kind == "rcs" and i > 0) or (b.kind == "rcs" and j > 0)
        )
    return ()


def wald_anova(
    coef: np.ndarray, cov: np.ndarray, codings: Sequence[PredictorCoding]
) -> pd.DataFrame:
    """rms's ``anova`` table for coefficients without the intercept.

    Parameters
    ----------
    coef : (p,) coefficients of the design columns (no intercept)
    cov : (p, p) their covariance
    codings : the predictors' codings, in design order

    Returns
    -------
    DataFrame indexed by rms's row labels with ``chi2``, ``df``, ``p``.
    """
    coef = np.asarray(coef, float)
    cov = np.asarray(cov, float)
    pos = _columns(codings)
    by = {c.name: c for c in codings}
    inter = [c for c in codings if c.kind == "interaction"]
    rows: list[tuple[str, tuple[int, ...]]] = []
    nonlin_all: set[int] = set()
    n_nonlin = 0
    for c in codings:
        if c.kind == "interaction":
            continue
        mine = [i for i in inter if c.name in i.components]
        cols = pos[c.name] + tuple(k for i in mine for k in pos[i.name])
        label = c.name + ("  (Factor+Higher Order Factors)" if mine else "")
        rows.append((label, cols))
        if mine:
            rows.append((" All Interactions", tuple(k for i in mine for k in pos[i.name])))
        nl = _nonlinear(c, pos[c.name], by)
        nl_high = tuple(k for i in mine for k in _nonlinear(i, pos[i.name], by))
        if nl:
            n_nonlin += 1
            nonlin_all.update(nl + nl_high)
            rows.append(
                (" Nonlinear" + (" (Factor+Higher Order Factors)" if mine else ""), nl + nl_high)
            )
    for i in inter:
        rows.append(
            (f"{i.components[0]} * {i.components[1]}  (Factor+Higher Order Factors)", pos[i.name])
        )
        nl = _nonlinear(i, pos[i.name], by)
        if nl:
            rows.append((" Nonlinear", nl))
            rows.append((" Nonlinear Interaction : f(A,B) vs. AB", nl))
    inter_all = sorted(k for i in inter for k in pos[i.name])
    if n_nonlin > 1:
        rows.append(("TOTAL NONLINEAR", tuple(sorted(nonlin_all))))
    if len(inter) > 1:
        rows.append(("TOTAL INTERACTION", tuple(inter_all)))
    if nonlin_all and inter:
        rows.append(("TOTAL NONLINEAR + INTERACTION", tuple(sorted(nonlin_all | set(inter_all)))))
    rows.append(("TOTAL", tuple(range(len(coef)))))
    out = []
    for label, cols in rows:
        idx = np.array(sorted(set(cols)))
        b, v = coef[idx], cov[np.ix_(idx, idx)]
        chi2 = float(b @ np.linalg.pinv(v) @ b)
        df = int(np.linalg.matrix_rank(v))
        out.append({"term": label, "chi2": chi2, "df": df, "p": float(stats.chi2.sf(chi2, df))})
    return pd.DataFrame(out).set_index("term")
