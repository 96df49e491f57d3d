# ruff: noqa: N803, N806  (matrix notation: X design, D design rows)
"""Inter-quartile effects of each predictor (rms ``summary`` with ``datadist``).

For a numeric predictor (linear or spline) the effect of moving it from its
lower to its upper quartile (type-7 quantiles, as ``datadist``); for a
categorical one each level against the reference; every other predictor held
at its adjust-to value (the median of a numeric one, the most frequent level
of a categorical one), which matters where a predictor is in an interaction.
The effect is a difference of linear predictors (log odds ratio, log hazard
ratio) with its standard error ``sqrt(c' V c)`` for the contrast ``c`` of the
two design rows, and a normal 95 % interval; its exponent is the odds or
hazard ratio.

Harrell FE Jr. Regression Modeling Strategies, 2nd ed. Springer 2015,
section 5.1.2 (inter-quartile-range effects).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from resorb.cohort._coding import PredictorCoding, design_matrix

__all__ = ["interquartile_effects", "partial_effects", "plot_partial_effects"]


def _values(codings: Sequence[PredictorCoding], X: np.ndarray) -> dict[str, np.ndarray]:
    """Each data predictor's values, read back from the design (no intercept)."""
    out, pos = {}, 0
    for c in codings:
        w = len(c.columns)
        block = X[:, pos : pos + w]
        pos += w
        if c.kind == "categorical":
            idx = np.where(block.any(axis=1), block.argmax(axis=1) + 1, 0)
            out[c.name] = np.asarray(c.levels, dtype=object)[idx]
        elif c.kind != "interaction":
            out[c.name] = block[:, 0]
    return out


def _adjust_to(codings: Sequence[PredictorCoding], vals: dict) -> dict:
    """``datadist``'s adjust-to values: median, or the most frequent category."""
    adjust: dict[str, str | float] = {}
    for c in codings:
        if c.kind == "categorical":
            levels, counts = np.unique(vals[c.name].astype(str), return_counts=True)
            adjust[c.name] = str(levels[counts.argmax()])
        elif c.kind != "interaction":
            adjust[c.name] = float(np.median(vals[c.name]))
    return adjust


def _frame(rows: list[dict], adjust: dict) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for k in frame:
        if isinstance(adjust[k], str):
            frame[k] = frame[k].astype(object)
    return frame


def interquartile_effects(
    coef: np.ndarray,
    cov: np.ndarray,
    codings: Sequence[PredictorCoding],
    X: np.ndarray,
    *,
    ratio: str = "odds ratio",
) -> pd.DataFrame:
    """rms ``summary``: one row per numeric predictor or non-reference level.

    Parameters
    ----------
    coef, cov : coefficients of the design columns (no intercept) and covariance
    codings : predictor codings in design order
    X : (n, p) development design without intercept (values are read from it)
    ratio : name of the exponentiated effect ("odds ratio", "hazard ratio")

    Returns
    -------
    DataFrame with ``factor``, ``low``, ``high``, ``effect``, ``se``, ``lower``,
    ``upper`` and the ratio with its limits (``ratio``, ``ratio_lower``,
    ``ratio_upper``).
    """
    vals = _values(codings, X)
    adjust = _adjust_to(codings, vals)
    z = stats.norm.ppf(0.975)
    rows = []
    for c in codings:
        if c.kind == "interaction":
            continue
        pairs: list[tuple[str, str | float | None, str | float]]
        if c.kind == "categorical":
            pairs = [(f"{c.name} - {lev}:{c.reference}", c.reference, lev) for lev in c.levels[1:]]
        else:
            lo, hi = np.quantile(vals[c.name], [0.25, 0.75])
            pairs = [(c.name, float(lo), float(hi))]
        for label, low, high in pairs:
            D = design_matrix(_frame([{**adjust, c.name: v} for v in (low, high)], adjust), codings)
            contrast = D[1] - D[0]
            effect = float(contrast @ coef)
            se = float(np.sqrt(contrast @ cov @ contrast))
            rows.append(
                {
                    "factor": label,
                    "low": low,
                    "high": high,
                    "effect": effect,
                    "se": se,
                    "lower": effect - z * se,
                    "upper": effect + z * se,
                    "ratio": np.exp(effect),
                    "ratio_lower": np.exp(effect - z * se),
                    "ratio_upper": np.exp(effect + z * se),
                    "ratio_name": ratio,
                }
            )
    return pd.DataFrame(rows)


def partial_effects(
    coef: np.ndarray,
    cov: np.ndarray,
    codings: Sequence[PredictorCoding],
    X: np.ndarray,
    *,
    intercept: bool,
    n_points: int = 200,
) -> dict[str, pd.DataFrame]:
    """Partial effect of each predictor with a 95 % interval (rms ``Predict``).

    Each predictor varies over ``datadist``'s display range (type-7
    quantiles ``q`` and ``1 - q``, ``q = 10 / max(n, 200)``; ``n_points``
    equally spaced values) or over its categories; the others stay at their
    adjust-to values. ``intercept`` True (logistic): ``coef``/``cov`` include
    the intercept first and the curve is the linear predictor (log odds), as
    ``Predict`` for ``lrm``. False (Cox): the curve is the log relative hazard
    against the adjust-to patient (0 there).

    Returns
    -------
    dict predictor -> DataFrame with ``value``, ``estimate``, ``lower``, ``upper``.
    """
    coef = np.asarray(coef, float)
    cov = np.asarray(cov, float)
    vals = _values(codings, X)
    adjust = _adjust_to(codings, vals)
    base = design_matrix(_frame([adjust], adjust), codings)[0]
    z = stats.norm.ppf(0.975)
    n = len(X)
    out = {}
    for c in codings:
        if c.kind == "interaction":
            continue
        if c.kind == "categorical":
            grid = list(c.levels)
        else:
            q = 10 / max(n, 200)
            lo, hi = np.quantile(vals[c.name], [q, 1 - q])
            grid = list(np.linspace(lo, hi, n_points))
        D = design_matrix(_frame([{**adjust, c.name: v} for v in grid], adjust), codings)
        D = np.column_stack([np.ones(len(D)), D]) if intercept else D - base
        est = D @ coef
        se = np.sqrt(np.einsum("ni,ij,nj->n", D, cov, D))
        out[c.name] = pd.DataFrame(
            {"value": grid, "estimate": est, "lower": est - z * se, "upper": est + z * se}
        )
    return out


def plot_partial_effects(effects: dict[str, pd.DataFrame], *, ylabel: str):
    """One panel per predictor: the partial effect and its 95 % interval.

    Returns the matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    k = len(effects)
    cols = min(3, k)
    rows = -(-k // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.9 * rows), squeeze=False)
    for ax, (name, t) in zip(axes.flat, effects.items(), strict=False):
        if t["value"].dtype == object:
            x = np.arange(len(t))
            ax.errorbar(
                x,
                t["estimate"],
                yerr=[t["estimate"] - t["lower"], t["upper"] - t["estimate"]],
                fmt="o",
                color="C0",
                capsize=3,
            )
            ax.set_xticks(x, [str(v) for v in t["value"]], rotation=30, fontsize=8)
        else:
            ax.fill_between(
                t["value"],
                t["lower"],
                t["upper"],
                color="C0",
                alpha=0.2,
                lw=0,
                label="95 % interval",
            )
            ax.plot(t["value"], t["estimate"], color="C0")
        ax.set_title(name, fontsize=9)
        ax.set_ylabel(ylabel, fontsize=8)
    for ax in list(axes.flat)[k:]:
        ax.set_visible(False)
    fig.suptitle(
        "Partial effects (other predictors at their median or most frequent category)", fontsize=9
    )
    fig.tight_layout()
    return fig
