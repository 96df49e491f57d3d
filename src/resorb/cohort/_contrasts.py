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

__all__ = ["interquartile_effects"]


def _values(codings: Sequence[PredictorCoding], X: np.ndarray) -> dict[str, np.ndarray]:
    """Each data predictor's values, read back from the design (no intercept)."""
    out, pos = {}, 0
    for c in codings:
        w = len(c.columns)
        block = X[:, pos:pos + w]
        pos += w
        if c.kind == "categorical":
            idx = np.where(block.any(axis=1), block.argmax(axis=1) + 1, 0)
            out[c.name] = np.asarray(c.levels, dtype=object)[idx]
        elif c.kind != "interaction":
            out[c.name] = block[:, 0]
    return out


def interquartile_effects(coef: np.ndarray, cov: np.ndarray,
                          codings: Sequence[PredictorCoding], X: np.ndarray, *,
                          ratio: str = "odds ratio") -> pd.DataFrame:
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
    adjust = {}
    for c in codings:
        if c.kind == "categorical":
            levels, counts = np.unique(vals[c.name].astype(str), return_counts=True)
            adjust[c.name] = str(levels[counts.argmax()])
        elif c.kind != "interaction":
            adjust[c.name] = float(np.median(vals[c.name]))
    z = stats.norm.ppf(0.975)
    rows = []
    for c in codings:
        if c.kind == "interaction":
            continue
        if c.kind == "categorical":
            pairs = [(f"{c.name} - {lev}:{c.reference}", c.reference, lev)
                     for lev in c.levels[1:]]
        else:
            lo, hi = np.quantile(vals[c.name], [0.25, 0.75])
            pairs = [(c.name, float(lo), float(hi))]
        for label, low, high in pairs:
            frames = []
            for v in (low, high):
                row = dict(adjust)
                row[c.name] = v
                frames.append(row)
            frame = pd.DataFrame(frames)
            for k in frame:
                if isinstance(adjust[k], str):
                    frame[k] = frame[k].astype(object)
            D = design_matrix(frame, codings)
            contrast = D[1] - D[0]
            effect = float(contrast @ coef)
            se = float(np.sqrt(contrast @ cov @ contrast))
            rows.append({"factor": label, "low": low, "high": high, "effect": effect, "se": se,
                         "lower": effect - z * se, "upper": effect + z * se,
                         "ratio": np.exp(effect), "ratio_lower": np.exp(effect - z * se),
                         "ratio_upper": np.exp(effect + z * se), "ratio_name": ratio})
    return pd.DataFrame(rows)
