"""Benchmark: ``forecast_volumes`` (analytic-gradient MAP search) vs the generic recipe.

The forecast's cost was dominated by the search for the posterior mode that
centres the importance-sampling proposal. resorb now runs BFGS with the
analytic gradient of a plain-float log-posterior from nine starts. The peer,
timed in the same process on the same series, is the generic recipe the module
used before: Nelder-Mead from the same nine starts on the vectorised numpy
log-posterior, then BFGS with numerical gradients (patched in place of
``_map_and_cov``; everything else identical).

Before timing, both are run on every series at the same seed and the largest
difference of the reported volumes (means, medians, 95 % limits at 3/6/12/24
months) is printed relative to the Monte Carlo spread (SD over five other seeds):
the change must stay far below Monte Carlo noise.

Prints the median wall time per forecast of each and the ratio peer / resorb
(> 1 means resorb is faster).

Run: ``.venv/bin/python benchmarks/forecast.py [--repeats N]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import platform
import statistics
import time
from contextlib import contextmanager

import numpy as np

from resorb.prognosis import _forecast, forecast_volumes

BASE = dt.date(2025, 1, 6)
SERIES = [  # months after baseline, volumes mm3, morphology
    ((0, 2, 6), (1650, 980, 310), "sequestration"),
    ((0, 4), (1500, 900), "extrusion"),
    ((0, 3, 6, 12), (800, 700, 650, 640), "protrusion"),
    ((0, 2), (1000, 1600), "extrusion"),
    ((0, 1, 2, 3, 6, 9, 12), (2000, 1900, 1500, 1100, 600, 400, 380), None),
    ((0, 3, 12), (900, 2500, 3000), "bulge"),
]


def _dates(months):
    return [BASE + dt.timedelta(days=round(m * _forecast.DAYS_PER_MONTH)) for m in months]


def _generic_map_and_cov(post):
    """The earlier recipe: Nelder-Mead on the numpy log-posterior, numerical BFGS polish."""
    from scipy.optimize import minimize

    def neg(theta):
        value = float(-post.log_post(theta)[0])
        return value if math.isfinite(value) else 1e300

    best = None
    for dk in (-1.0, 0.0, 1.0):
        for df in (-0.5, 0.0, 0.5):
            x0 = post.mean + np.array([0.0, dk, df, 0.0]) * post.sd
            res = minimize(neg, x0, method="Nelder-Mead",
                           options={"xatol": 1e-6, "fatol": 1e-8, "maxiter": 4000})
            if best is None or res.fun < best.fun:
                best = res
    res = minimize(neg, best.x, method="BFGS")
    x = res.x if res.fun <= best.fun else best.x
    return _forecast._hessian_cov(post, x)


@contextmanager
def generic():
    original = _forecast._map_and_cov
    _forecast._map_and_cov = _generic_map_and_cov
    try:
        yield
    finally:
        _forecast._map_and_cov = original


def _summary(fc):
    return np.array([*fc.volume_mean_mm3, *fc.volume_median_mm3,
                     *[x for iv in fc.volume_interval_mm3 for x in iv]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}, numpy {np.__version__}")
    worst = 0.0
    for months, vols, morph in SERIES:
        new = _summary(forecast_volumes(_dates(months), vols, morphology=morph, seed=0))
        with generic():
            old = _summary(forecast_volumes(_dates(months), vols, morphology=morph, seed=0))
            spread = np.std([_summary(forecast_volumes(_dates(months), vols, morphology=morph,
                                                       seed=s)) for s in range(1, 6)],
                            axis=0, ddof=1)
        worst = max(worst, float(np.max(np.abs(new - old) / (spread + 1e-9))))
    print(f"largest difference at the same seed: {worst:.2e} Monte Carlo SDs")
    priors = {m: _forecast.default_kinetic_prior(m) for _, _, m in SERIES}
    times = {"resorb": [], "generic": []}
    for _ in range(args.repeats):
        for label in ("resorb", "generic"):
            start = time.perf_counter()
            for months, vols, morph in SERIES:
                if label == "generic":
                    with generic():
                        forecast_volumes(_dates(months), vols, prior=priors[morph], seed=0)
                else:
                    forecast_volumes(_dates(months), vols, prior=priors[morph], seed=0)
            times[label].append((time.perf_counter() - start) / len(SERIES))
    r, g = statistics.median(times["resorb"]), statistics.median(times["generic"])
    print(f"resorb  forecast_volumes: {r * 1000:7.1f} ms per forecast (median of "
          f"{args.repeats} x {len(SERIES)} series, 8000 draws)")
    print(f"generic MAP recipe:       {g * 1000:7.1f} ms per forecast")
    print(f"ratio generic / resorb: {g / r:.2f}")


if __name__ == "__main__":
    main()
