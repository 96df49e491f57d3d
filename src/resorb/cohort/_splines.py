"""Restricted cubic splines with Harrell's knot placement (rms ``rcs``)."""

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


def rcs_knots(x: np.ndarray, *, n_knots: int = 4) -> np.ndarray:
    """Knot locations for a restricted cubic spline.

    Parameters
    ----------
    x : (n,) array of float
        Observed values (missing values removed).
    n_knots : int, keyword-only
        3 to 7 knots.

    Returns
    -------
    (n_knots,) ndarray
        Knots at Harrell's quantiles; with fewer than 100 values the outer
        knots are the 5th smallest and 5th largest values, as in rms.

    Raises
    ------
    ValueError
        If ``n_knots`` is outside 3-7 or the knots are not distinct.
    """
    if n_knots not in _KNOT_QUANTILES:
        raise ValueError(f"n_knots must be 3-7, got {n_knots}")
    x = np.sort(np.asarray(x, dtype=float))
    q = np.array(_KNOT_QUANTILES[n_knots])
    # rms uses type-7 quantiles (numpy's default "linear").
    knots = np.quantile(x, q)
    if x.size < 100 and x.size >= 10:
        knots[0] = x[4]
        knots[-1] = x[-5]
    if np.unique(knots).size != n_knots:
        raise ValueError(f"{n_knots} distinct knots cannot be placed on these values")
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
        out[:, j + 1] = (cube(x - tj)
                         - cube(x - tk1) * (tk - tj) / (tk - tk1)
                         + cube(x - tk) * (tk1 - tj) / (tk - tk1)) / scale
    return out
