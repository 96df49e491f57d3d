"""Restricted cubic splines with rms's knot placement (``rcs`` / ``rcspline.eval``)."""

from __future__ import annotations

import numpy as np

__all__ = ["rcs_basis", "rcs_knots"]

#: Knot quantiles by number of knots (Harrell, Regression Modeling Strategies,
#: 2nd ed. 2015, Table 2.3; the defaults of rms ``rcspline.eval``).
_KNOT_QUANTILES = {
    3: (0.10, 0.50, 0.90),
    4: (0.05, 0.35, 0.65, 0.95),
    5: (0.05, 0.275, 0.50, 0.725, 0.95),
    6: (0.05, 0.23, 0.41, 0.59, 0.77, 0.95),
    7: (0.025, 0.1833, 0.3417, 0.50, 0.6583, 0.8167, 0.975),
}


def rcs_knots(x: np.ndarray, *, n_knots: int = 4, fractied: float = 0.05) -> np.ndarray:
    """Knot locations for a restricted cubic spline, as ``Hmisc::rcspline.eval``.

    The algorithm of ``rcspline.eval`` (which ``rms::rcs`` calls), step by step:

    - quantiles ``seq(outer, 1 - outer, length = k)`` of the values (type 7,
      numpy's default), ``outer`` 0.1 for 3 knots, 0.025 for more than 6,
      0.05 otherwise (Harrell's Table 2.3);
    - when the smallest (largest) value holds at least ``fractied`` (5 %) of
      the data and no interior value does, the outer knot is the next value
      in and the other knots are placed on the values beyond it;
    - when the quantiles are not distinct, twice as many quantiles are taken
      (and, with a moved outer knot, the middle value between the outer
      knots), so fewer knots than requested may result, as in rms;
    - with fewer than 100 values the outer knots are the 5th smallest and 5th
      largest values; with ``k + 2`` or fewer distinct values the knots are
      the interior distinct values.

    Parameters
    ----------
    x : (n,) array of float (missing values removed)
    n_knots : int, keyword-only, 3 to 7
    fractied : float, keyword-only

    Returns
    -------
    (m,) ndarray, sorted distinct knots; m may be below ``n_knots`` (at least 3)

    Raises
    ------
    ValueError
        If ``n_knots`` is outside 3-7, fewer than 6 values are given, or
        fewer than 3 distinct knots can be placed.
    """
    if n_knots not in _KNOT_QUANTILES:
        raise ValueError(f"n_knots must be 3-7, got {n_knots}")
    xx = np.asarray(x, dtype=float)
    xx = xx[~np.isnan(xx)]
    n = xx.size
    if n < 6:
        raise ValueError("fewer than 6 values: no spline knots")
    nk = n_knots
    xu, counts = np.unique(xx, return_counts=True)
    nxu = xu.size
    first: list[float] = []
    last: list[float] = []
    if nxu - 2 <= nk:
        knots = xu[1:-1]
    else:
        outer = 0.025 if nk > 6 else (0.05 if nk > 3 else 0.1)
        nke = nk
        over_first = over_last = False
        f = counts / n
        if 0 < fractied < 1 and f[1:-1].max() < fractied:
            if f[0] >= fractied:
                first = [float(xx[xx > xx.min()].min())]
                xx = xx[xx > first[0]]
                nke -= 1
                over_first = True
            if f[-1] >= fractied:
                last = [float(xx[xx < xx.max()].max())]
                xx = xx[xx < last[0]]
                nke -= 1
                over_last = True
        if nke == 1:
            knots = np.array([np.median(xx)])
        else:
            if nxu <= nke:
                knots = xu
            else:
                q = (
                    np.linspace(0.5, 1 - outer, nke)
                    if nke == 2
                    else np.linspace(outer, 1 - outer, nke)
                )
                knots = np.quantile(xx, q)
                if np.unique(knots).size < min(nke, 3):
                    knots = np.quantile(xx, np.linspace(outer, 1 - outer, 2 * nke))
                    if first and np.unique(knots).size < 3:
                        mid = (first[0] + last[0]) / 2 if last else float(np.median(xx))
                        knots = np.sort(
                            [first[0], mid, last[0] if last else np.quantile(xx, 1 - outer)]
                        )
                    if np.unique(knots).size < 3:
                        raise ValueError(
                            f"fewer than 3 distinct knots can be placed ({nxu} distinct values)"
                        )
            if xx.size < 100:
                xs = np.sort(xx)
                knots = np.array(knots, dtype=float)
                if not over_first:
                    knots[0] = xs[4]
                if not over_last:
                    knots[nke - 1] = xs[-5]
        knots = np.concatenate([first, knots, last])
    knots = np.unique(knots)
    if knots.size < 3:
        raise ValueError(f"fewer than 3 distinct knots can be placed ({nxu} distinct values)")
    return knots


def rcs_basis(x: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """Restricted cubic spline basis (linear term plus ``k - 2`` non-linear terms).

    Uses the truncated-power form normalised by ``(t_k - t_1)^2``, which is
    rms's default (``norm = 2``), so coefficients are comparable with ``lrm``.

    Parameters
    ----------
    x : (n,) array of float
    knots : (k,) array of float, increasing

    Returns
    -------
    (n, k - 1) ndarray
        Column 0 is ``x`` itself; columns 1.. are the non-linear terms.
    """
    x = np.asarray(x, dtype=float)
    t = np.asarray(knots, dtype=float)
    k = t.size
    out = np.empty((x.size, k - 1))
    out[:, 0] = x
    scale = (t[-1] - t[0]) ** 2
    tk, tk1 = t[-1], t[-2]

    def cube(v):
        return np.clip(v, 0.0, None) ** 3

    for j in range(k - 2):
        tj = t[j]
        out[:, j + 1] = (
            cube(x - tj)
            - cube(x - tk1) * (tk - tj) / (tk - tk1)
            + cube(x - tk) * (tk1 - tj) / (tk - tk1)
        ) / scale
    return out
