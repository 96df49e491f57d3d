"""Nomograms for logistic models (points per predictor, total points, probability)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit, logit

__all__ = ["nomogram_points", "plot_nomogram", "r_pretty"]


def r_pretty(lo: float, hi: float, n: int = 10) -> np.ndarray:
    """R's ``pretty(c(lo, hi), n)``: about ``n`` equal steps of 1, 2 or 5 x 10^k
    covering the range (R's ``R_pretty``: ``high.u.bias`` 1.5, ``u5.bias`` 2.75,
    ``min.n`` n %/% 3, ``shrink.sml`` 0.75)."""
    h, h5, shrink, min_n = 1.5, 0.5 + 1.5 * 1.5, 0.75, n // 3
    eps = np.finfo(float).eps
    dx = hi - lo
    if dx == 0 and hi == 0:
        cell, small = 1.0, True
    else:
        cell = max(abs(lo), abs(hi))
        u = 1 + (1 / (1 + h) if h5 >= 1.5 * h + 0.5 else 1.5 / (1 + h5))
        u *= max(1, n) * eps
        small = dx < cell * u * 3
    if small:
        if cell > 10:
            cell = 9 + cell / 10
        cell *= shrink
        if min_n > 1:
            cell /= min_n
    else:
        cell = dx
        if n > 1:
            cell /= n
    base = 10.0 ** np.floor(np.log10(cell))
    unit = base
    if 2 * base - cell < h * (cell - unit):
        unit = 2 * base
        if 5 * base - cell < h5 * (cell - unit):
            unit = 5 * base
            if 10 * base - cell < h * (cell - unit):
                unit = 10 * base
    ns = np.floor(lo / unit + 1e-10)
    nu = np.ceil(hi / unit - 1e-10)
    while ns * unit > lo + 1e-10 * unit:
        ns -= 1
    while nu * unit < hi - 1e-10 * unit:
        nu += 1
    k = int(0.5 + nu - ns)
    if k < min_n:
        k = min_n - k
        if ns >= 0:
            nu += k // 2
            ns -= k // 2 + k % 2
        else:
            ns -= k // 2
            nu += k // 2 + k % 2
    return np.round(np.arange(ns, nu + 0.5) * unit, 12)


def nomogram_points(names, coef, codings, *, max_points: float = 100.0) -> dict:
    """Points scale of a logistic model, as in rms ``nomogram``.

    Each predictor's axis covers its full development range at R's
    ``pretty(range, 10)`` values (the distinct values of a numeric predictor
    with at most 10 of them; the levels of a categorical one), as
    ``rms::nomogram`` with ``datadist``. Its contribution to the linear
    predictor at those values is shifted so that the smallest scores 0; the
    predictor with the widest range spans ``max_points`` (rms ``maxscale``),
    which sets the points per unit of log odds.

    Returns
    -------
    dict
        ``axes``: list of (name, tick labels, points) per predictor;
        ``scale``: points per unit of log-odds; ``offset``: linear predictor
        at zero total points.
    """
    if any(c.kind == "interaction" for c in codings):
        raise ValueError("a nomogram of additive axes cannot show interaction terms")
    coef = np.asarray(coef, float)
    pos = 1
    axes = []
    offset = coef[0]
    for c in codings:
        beta = coef[pos : pos + len(c.columns)]
        pos += len(c.columns)
        if c.kind == "categorical":
            labels = list(c.levels)
            contrib = np.r_[0.0, beta]
        else:
            values = np.asarray(c.values) if c.values else r_pretty(*c.range, 10)
            contrib = c.encode(pd.Series(values)) @ beta
            labels = [f"{v:g}" for v in values]
        mn = contrib.min()
        offset += mn
        axes.append((c.name, labels, contrib - mn, (contrib - mn).max()))
    widest = max(a[3] for a in axes) or 1.0
    scale = max_points / widest
    return {
        "axes": [(n, lab, pts * scale) for n, lab, pts, _ in axes],
        "scale": scale,
        "offset": offset,
        "max_points": max_points,
    }


def plot_nomogram(model, *, ax=None, title: str | None = None, max_points: float = 100.0):
    """Draw the nomogram of a :class:`FittedLogistic` or :class:`PortableModel`.

    Returns the matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    nomo = nomogram_points(model.names, model.coef, model.codings, max_points=max_points)
    axes = nomo["axes"]
    rows = len(axes) + 3
    if ax is None:
        fig, ax = plt.subplots(figsize=(9, 0.62 * rows + 1.2))
    else:
        fig = ax.figure
    total_max = sum(p.max() for _, _, p in axes)
    y = rows
    width = max(max_points, 1.0)

    def axis_line(y, positions, labels, name, scale_to=1.0):
        ax.hlines(y, min(positions) * scale_to, max(positions) * scale_to, color="black", lw=1)
        last_above = last_below = -np.inf
        for x, lab in zip(positions, labels, strict=True):
            xs = x * scale_to
            ax.vlines(xs, y, y + 0.15, color="black", lw=1)
            room = 1.2 * len(lab) + 1.5  # label width in points-axis units, roughly
            if xs - last_above >= room:
                ax.text(xs, y + 0.22, lab, ha="center", va="bottom", fontsize=7.5)
                last_above = xs
            elif xs - last_below >= room:  # crowded: put it under the line
                ax.text(xs, y - 0.12, lab, ha="center", va="top", fontsize=7.5)
                last_below = xs
        ax.text(-3, y, name, ha="right", va="center", fontsize=9, fontweight="bold")

    ticks = np.linspace(0, max_points, 11)
    axis_line(y, ticks, [f"{t:g}" for t in ticks], "Points")
    for name, labels, pts in axes:
        y -= 1
        order = np.argsort(pts, kind="stable")
        axis_line(y, pts[order], [labels[i] for i in order], name)
    # total points mapped onto the same width
    y -= 1
    tp = r_pretty(0, total_max, 10)  # rms: pretty(c(0, sum.max), n = nint)
    tp = tp[tp <= total_max + 1e-9]
    axis_line(y, tp, [f"{t:g}" for t in tp], "Total points", scale_to=width / total_max)
    y -= 1
    lp_lo = nomo["offset"]
    lp_hi = nomo["offset"] + total_max / nomo["scale"]
    probs = np.array([0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99])
    probs = probs[(probs > expit(lp_lo)) & (probs < expit(lp_hi))]
    if probs.size:
        pos = (logit(probs) - lp_lo) * nomo["scale"]
        axis_line(y, pos, [f"{p:g}" for p in probs], "Probability", scale_to=width / total_max)
    ax.set_xlim(-width * 0.02, width * 1.04)
    ax.set_ylim(y - 0.8, rows + 0.9)
    ax.axis("off")
    ax.set_title(title or f"Nomogram: probability of {model.outcome}", fontsize=11)
    fig.tight_layout()
    return fig
