"""Forecast of herniated volume from serial MRI.

A first-order resorption kinetic with a lag,

    V(t) = Vinf + (V0 - Vinf) * exp(-k * max(0, t - lag)),   Vinf = f * V0,

is fitted to the measured volumes on log-parameters ``(log V0, log k, log f,
log lag)`` with a Gaussian measurement-error model whose standard deviation
comes from the volume limits of agreement. ``f`` is the residual fraction (a
plateau above 1 describes a herniation that grows).

No published parametric resorption curve exists (reference notes, section 4),
so the population prior is **our assumption**, calibrated to sourced facts:

* the rate ``k`` is log-normal with the mean and SD of the time to radiographic
  resolution of sequestrations (Macki 2014: 9.27 +/- 13.32 months), read as the
  time to 90 % of the eventual loss, ``ln(10) / k``;
* the residual fraction ``f`` is log-normal; its SD comes from the overall
  pooled incidences of >= 25 % and >= 50 % reduction, its median per
  morphology from the incidence of regression by morphology (Zou 2023). The
  pooled regression rates count any measurable decrease; reading them as
  P(>= 25 % reduction) is **our assumption** (evidence record
  ``forecast_regression_read_as_reduction25_assumption``) and overstates that
  probability by an unknown amount;
* the lag before shrinkage starts is short (median about one week), so that
  shrinkage is detectable by 2 months (Autio 2006) and the bulk falls within
  6-12 months (Zou 2023; Ramos Amador 2013).

With two or more MRIs the posterior is computed by defensive importance
sampling (half prior, half a Student-t around the Laplace approximation at the
MAP), seeded. With one MRI the kinetics are the prior alone and the output says
so.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from resorb.domain.enums import HerniationMorphology, parse_enum
from resorb.errors import InvalidInputError, ModelError
from resorb.imaging import DAYS_PER_MONTH

__all__ = [
    "FORECAST_HORIZONS_MONTHS",
    "KineticPrior",
    "VolumeForecast",
    "calibrate_kinetic_prior",
    "default_kinetic_prior",
    "forecast_volumes",
    "kinetic_volume_mm3",
]

#: Months after the baseline MRI at which the forecast is reported.
FORECAST_HORIZONS_MONTHS: tuple[int, ...] = (3, 6, 12, 24)

_LN10 = math.log(10.0)
_Z95 = 1.959963984540054


def _ndtri(p: float) -> float:
    from scipy.special import ndtri

    return float(ndtri(p))


def kinetic_volume_mm3(t_months, v0_mm3, k_per_month, residual_fraction, lag_months):
    """Volume of the resorption kinetic at ``t_months`` after the baseline MRI.

    Parameters
    ----------
    t_months : float or ndarray
        Time since the baseline MRI, months (any shape broadcastable with the rest).
    v0_mm3 : float or ndarray
        Volume at the baseline MRI, mm3.
    k_per_month : float or ndarray
        First-order rate, 1/month.
    residual_fraction : float or ndarray
        Plateau as a fraction of ``v0_mm3`` (``Vinf = f * V0``).
    lag_months : float or ndarray
        Delay after the baseline MRI before the volume changes, months.

    Returns
    -------
    ndarray
        Volume in mm3.
    """
    t = np.maximum(0.0, np.asarray(t_months, dtype=float) - lag_months)
    vinf = residual_fraction * v0_mm3
    return vinf + (v0_mm3 - vinf) * np.exp(-k_per_month * t)


@dataclass(frozen=True, slots=True)
class KineticPrior:
    """Population prior of the resorption kinetic (log-normal in each parameter).

    Attributes
    ----------
    log_k_mean, log_k_sd : float
        Mean and SD of ``log k`` with ``k`` in 1/month.
    log_f_mean, log_f_sd : float
        Mean and SD of ``log f``, the residual fraction of the baseline volume.
    log_lag_mean, log_lag_sd : float
        Mean and SD of ``log lag`` with the lag in months.
    log_v0_sd : float
        SD of ``log V0`` around the measured baseline (weak prior on the true
        baseline volume).
    sigma_mm3 : float
        SD of one volume measurement, mm3 (from the limits of agreement).
    morphology : str or None
        Morphology whose residual-fraction median was used (None = all types).
    label : str
        ``"assumption"``: the prior is ours, calibrated to the sources listed.
    sources : tuple of dict
        Evidence records behind the calibration (``id``, ``doi``/``pmid``,
        ``confidence``, ``role``).
    """

    log_k_mean: float
    log_k_sd: float
    log_f_mean: float
    log_f_sd: float
    log_lag_mean: float
    log_lag_sd: float
    sigma_mm3: float
    log_v0_sd: float = 1.0
    morphology: str | None = None
    label: str = "assumption"
    sources: tuple[Mapping[str, Any], ...] = ()

    def __post_init__(self) -> None:
        for name in ("log_k_sd", "log_f_sd", "log_lag_sd", "log_v0_sd", "sigma_mm3"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise InvalidInputError(f"prior.{name}", f"{value!r}", allowed="a number > 0")
        for name in ("log_k_mean", "log_f_mean", "log_lag_mean"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value)):
                raise InvalidInputError(f"prior.{name}", f"{value!r}", allowed="a finite number")

    @property
    def mean(self) -> np.ndarray:
        """Prior mean of ``(log k, log f, log lag)``."""
        return np.array([self.log_k_mean, self.log_f_mean, self.log_lag_mean])

    @property
    def sd(self) -> np.ndarray:
        """Prior SD of ``(log k, log f, log lag)``."""
        return np.array([self.log_k_sd, self.log_f_sd, self.log_lag_sd])

    @property
    def mdc_mm3(self) -> float:
        """Minimal detectable change of a difference of two volumes (95 %), mm3."""
        return _Z95 * math.sqrt(2.0) * self.sigma_mm3

    def to_dict(self) -> dict[str, Any]:
        """Medians and 95 % ranges of the prior on the natural scale, with its sources."""

        def lognormal(mu: float, sd: float, unit: str) -> dict[str, Any]:
            return {"median": math.exp(mu),
                    "interval": [math.exp(mu - _Z95 * sd), math.exp(mu + _Z95 * sd)],
                    "unit": unit}

        return {
            "label": self.label,
            "morphology": self.morphology,
            "k": lognormal(self.log_k_mean, self.log_k_sd, "1/month"),
            "residual_fraction": lognormal(self.log_f_mean, self.log_f_sd, "1"),
            "lag": lognormal(self.log_lag_mean, self.log_lag_sd, "month"),
            "measurement_sd_mm3": self.sigma_mm3,
            "mdc_mm3": self.mdc_mm3,
            "sources": [dict(s) for s in self.sources],
        }


def calibrate_kinetic_prior(
    *,
    resolution_mean_months: float,
    resolution_sd_months: float,
    p_reduction25: float,
    p_reduction25_overall: float,
    p_reduction50_overall: float,
    lag_median_months: float,
    lag_log_sd: float,
    loa_half_width_mm3: float,
    morphology: str | None = None,
    sources: Sequence[Mapping[str, Any]] = (),
) -> KineticPrior:
    """Turn the sourced time-course facts into a :class:`KineticPrior`.

    Parameters
    ----------
    resolution_mean_months, resolution_sd_months : float
        Mean and SD of the time to radiographic resolution, months. Read as the
        time to 90 % of the eventual loss, ``T90 = ln(10) / k``, log-normal:
        ``CV^2 = exp(s^2) - 1`` and ``mean = ln(10) exp(-mu + s^2 / 2)``.
    p_reduction25 : float
        Probability of at least 25 % reduction for this morphology (0-1);
        places the median of the residual fraction ``f``:
        ``P(f < 0.75) = p_reduction25``.
    p_reduction25_overall, p_reduction50_overall : float
        Overall probabilities of at least 25 % and at least 50 % reduction;
        their two quantiles fix the log-SD of ``f``.
    lag_median_months, lag_log_sd : float
        Median (months) and log-SD of the lag before shrinkage begins.
    loa_half_width_mm3 : float
        Half-width of the 95 % limits of agreement of repeated volume
        measurements, mm3; ``sigma = half_width / (1.96 sqrt(2))``.
    morphology : str, optional
        Recorded on the prior.
    sources : sequence of mapping
        Evidence records behind the numbers.

    Returns
    -------
    KineticPrior
    """
    checks = {
        "resolution_mean_months": resolution_mean_months > 0,
        "resolution_sd_months": resolution_sd_months > 0,
        "p_reduction25": 0 < p_reduction25 < 1,
        "p_reduction25_overall": 0 < p_reduction25_overall < 1,
        "p_reduction50_overall": 0 < p_reduction50_overall < p_reduction25_overall,
        "lag_median_months": lag_median_months > 0,
        "lag_log_sd": lag_log_sd > 0,
        "loa_half_width_mm3": loa_half_width_mm3 > 0,
    }
    for name, ok in checks.items():
        if not ok:
            raise InvalidInputError(f"prior.{name}", "is outside its range",
                                    allowed="positive; probabilities in (0, 1) with "
                                            "P(>=50 %) < P(>=25 %)")
    cv2 = (resolution_sd_months / resolution_mean_months) ** 2
    log_k_sd = math.sqrt(math.log1p(cv2))
    log_k_mean = math.log(_LN10 / resolution_mean_months) + log_k_sd**2 / 2
    z25 = _ndtri(p_reduction25_overall)
    z50 = _ndtri(p_reduction50_overall)
    log_f_sd = (math.log(0.75) - math.log(0.5)) / (z25 - z50)
    log_f_mean = math.log(0.75) - log_f_sd * _ndtri(p_reduction25)
    return KineticPrior(
        log_k_mean=log_k_mean,
        log_k_sd=log_k_sd,
        log_f_mean=log_f_mean,
        log_f_sd=log_f_sd,
        log_lag_mean=math.log(lag_median_months),
        log_lag_sd=lag_log_sd,
        sigma_mm3=loa_half_width_mm3 / (_Z95 * math.sqrt(2.0)),
        morphology=morphology,
        sources=tuple(dict(s) for s in sources),
    )


@dataclass(frozen=True, slots=True)
class VolumeForecast:
    """Forecast of herniated volume after the baseline MRI.

    Attributes
    ----------
    baseline_date : datetime.date
        Date of the first MRI (t = 0).
    n_mri : int
        Number of MRIs used.
    prior_only : bool
        True when the kinetics come from the prior alone (one MRI).
    horizons_months : tuple of int
        Months after the baseline at which the forecast is reported.
    volume_mean_mm3, volume_median_mm3 : tuple of float
        Expected and median true volume at each horizon, mm3.
    volume_interval_mm3 : tuple of (float, float)
        95 % interval of the true volume at each horizon, mm3.
    probability_50pct_by_12_months : float
        Probability that the volume at 12 months is at most half the baseline.
    growth_flagged : bool
        Latest measured volume exceeds the baseline by more than the MDC.
    growth_change_mm3 : float
        Latest minus baseline measured volume, mm3.
    mdc_mm3 : float
        Minimal detectable change used for the growth flag, mm3.
    curve_months, curve_median_mm3, curve_lower_mm3, curve_upper_mm3 : tuple of float
        Monthly forecast band for plots (0-24 months).
    parameters : dict
        Posterior medians and 95 % intervals of ``k`` (1/month), half-life
        (months), residual fraction and lag (months).
    prior : KineticPrior
    effective_sample_size : float
        Kish effective sample size of the importance weights.
    n_draws : int
    seed : int
    observations : tuple of (float, float)
        ``(months since baseline, volume_mm3)`` of each MRI.
    notes : tuple of str
    """

    baseline_date: dt.date
    n_mri: int
    prior_only: bool
    horizons_months: tuple[int, ...]
    volume_mean_mm3: tuple[float, ...]
    volume_median_mm3: tuple[float, ...]
    volume_interval_mm3: tuple[tuple[float, float], ...]
    probability_50pct_by_12_months: float
    growth_flagged: bool
    growth_change_mm3: float
    mdc_mm3: float
    curve_months: tuple[float, ...]
    curve_median_mm3: tuple[float, ...]
    curve_lower_mm3: tuple[float, ...]
    curve_upper_mm3: tuple[float, ...]
    parameters: Mapping[str, Any]
    prior: KineticPrior
    effective_sample_size: float
    n_draws: int
    seed: int
    observations: tuple[tuple[float, float], ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def basis(self) -> str:
        """One sentence saying what the forecast rests on."""
        if self.prior_only:
            return ("one MRI: the kinetics are the population prior alone (an assumption "
                    "calibrated to published time-course facts), scaled to the measured "
                    f"baseline volume; {REGRESSION_READING_NOTE}")
        return (f"{self.n_mri} MRIs: the population prior updated with the measured volumes "
                "(measurement error from the volume limits of agreement); "
                f"{REGRESSION_READING_NOTE}")

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON view (units in the key names)."""
        points = []
        for i, months in enumerate(self.horizons_months):
            date = self.baseline_date + dt.timedelta(days=round(months * DAYS_PER_MONTH))
            points.append({
                "months_after_baseline": months,
                "date": date.isoformat(),
                "volume_mm3": self.volume_mean_mm3[i],
                "median_mm3": self.volume_median_mm3[i],
                "interval_mm3": list(self.volume_interval_mm3[i]),
            })
        return {
            "basis": self.basis,
            "prior_only": self.prior_only,
            "n_mri": self.n_mri,
            "baseline_date": self.baseline_date.isoformat(),
            "model": "V(t) = Vinf + (V0 - Vinf) exp(-k max(0, t - lag)), Vinf = f V0; "
                     "t in months after the baseline MRI",
            "interval_level": 0.95,
            "points": points,
            "probability_50pct_by_12_months": self.probability_50pct_by_12_months,
            "growth": {
                "flagged": self.growth_flagged,
                "change_mm3": self.growth_change_mm3,
                "mdc_mm3": self.mdc_mm3,
                "definition": "latest measured volume above the baseline by more than the "
                              "minimal detectable change",
            },
            "parameters": {k: dict(v) for k, v in self.parameters.items()},
            "prior": self.prior.to_dict(),
            "observations": [{"months_after_baseline": t, "volume_mm3": v}
                             for t, v in self.observations],
            "curve": {
                "months": list(self.curve_months),
                "median_mm3": list(self.curve_median_mm3),
                "lower_mm3": list(self.curve_lower_mm3),
                "upper_mm3": list(self.curve_upper_mm3),
            },
            "method": ("prior draws" if self.prior_only else
                       "defensive importance sampling (prior + Student-t around the MAP "
                       "Laplace approximation) on log-parameters"),
            "effective_sample_size": self.effective_sample_size,
            "n_draws": self.n_draws,
            "seed": self.seed,
            "notes": list(self.notes),
        }


# --------------------------------------------------------------------------- inference


def _weighted_quantiles(values: np.ndarray, weights: np.ndarray, qs: Sequence[float]
                        ) -> np.ndarray:
    """Quantiles of ``values`` (draws along axis 0) under normalised ``weights``."""
    order = np.argsort(values, axis=0)
    sorted_v = np.take_along_axis(values, order, axis=0)
    sorted_w = weights[order]
    cum = np.cumsum(sorted_w, axis=0) - 0.5 * sorted_w
    out = []
    for q in qs:
        idx = (cum < q).sum(axis=0).clip(1, len(values) - 1)
        lo = np.take_along_axis(sorted_v, (idx - 1)[None, ...], axis=0)[0]
        hi = np.take_along_axis(sorted_v, idx[None, ...], axis=0)[0]
        c_lo = np.take_along_axis(cum, (idx - 1)[None, ...], axis=0)[0]
        c_hi = np.take_along_axis(cum, idx[None, ...], axis=0)[0]
        frac = np.where(c_hi > c_lo, (q - c_lo) / np.where(c_hi > c_lo, c_hi - c_lo, 1), 0.0)
        out.append(lo + np.clip(frac, 0, 1) * (hi - lo))
    return np.array(out)


class _Posterior:
    """Log-posterior of ``theta = (log V0, log k, log f, log lag)``."""

    def __init__(self, t: np.ndarray, y: np.ndarray, prior: KineticPrior) -> None:
        self.t = t
        self.y = y
        self.sigma = prior.sigma_mm3
        self.mean = np.concatenate([[math.log(y[0])], prior.mean])
        self.sd = np.concatenate([[prior.log_v0_sd], prior.sd])
        # Plain-float copies for the scalar objective ``neg``.
        self._mean_list = [float(x) for x in self.mean]
        self._sd_list = [float(x) for x in self.sd]
        self._log_sd_sum = float(np.sum(np.log(self.sd)))
        self._inv_sigma = 1.0 / float(self.sigma)
        self._obs = [(float(a), float(b)) for a, b in zip(t, y, strict=True)]

    def log_prior(self, theta: np.ndarray) -> np.ndarray:
        z = (theta - self.mean) / self.sd
        return -0.5 * np.sum(z * z, axis=-1) - np.sum(np.log(self.sd))

    def log_lik(self, theta: np.ndarray) -> np.ndarray:
        theta = np.atleast_2d(theta)
        v0, k, f, lag = (np.exp(theta[:, i])[:, None] for i in range(4))
        pred = kinetic_volume_mm3(self.t[None, :], v0, k, f, lag)
        r = (self.y[None, :] - pred) / self.sigma
        return -0.5 * np.sum(r * r, axis=1)

    def log_post(self, theta: np.ndarray) -> np.ndarray:
        return self.log_prior(np.atleast_2d(theta)) + self.log_lik(theta)

    def neg(self, theta: np.ndarray) -> float:
        """Negative log-posterior of one ``theta`` (the optimiser's objective).

        Plain-float arithmetic: with a handful of MRIs, numpy's per-call overhead
        dominates, and the optimiser evaluates this thousands of times. Same
        formula as :meth:`log_post` (tested to agree).
        """
        try:
            a, b, c, d = (float(x) for x in theta)
            mean, sd = self._mean_list, self._sd_list
            za = (a - mean[0]) / sd[0]
            zb = (b - mean[1]) / sd[1]
            zc = (c - mean[2]) / sd[2]
            zd = (d - mean[3]) / sd[3]
            value = 0.5 * (za * za + zb * zb + zc * zc + zd * zd) + self._log_sd_sum
            v0, k, f, lag = math.exp(a), math.exp(b), math.exp(c), math.exp(d)
            vinf = f * v0
            span = v0 - vinf
            inv_sigma = self._inv_sigma
            ss = 0.0
            for t, y in self._obs:
                dt_ = t - lag
                pred = vinf + span * math.exp(-k * (dt_ if dt_ > 0.0 else 0.0))
                r = (y - pred) * inv_sigma
                ss += r * r
            value += 0.5 * ss
        except (OverflowError, ValueError):
            return 1e300
        return value if math.isfinite(value) else 1e300

    def neg_and_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """:meth:`neg` and its analytic gradient in ``theta`` (for quasi-Newton steps).

        With ``pred = V0 (f + (1 - f) E)``, ``E = exp(-k tau)``, ``tau = max(0, t - lag)``:
        d pred / d log V0 = pred; d / d log k = -V0 (1 - f) E k tau;
        d / d log f = V0 f (1 - E); d / d log lag = V0 (1 - f) E k lag when t > lag.
        """
        grad = np.zeros(4)
        try:
            a, b, c, d = (float(x) for x in theta)
            mean, sd = self._mean_list, self._sd_list
            z = [(a - mean[0]) / sd[0], (b - mean[1]) / sd[1], (c - mean[2]) / sd[2],
                 (d - mean[3]) / sd[3]]
            value = 0.5 * sum(zi * zi for zi in z) + self._log_sd_sum
            g = [z[i] / sd[i] for i in range(4)]
            v0, k, f, lag = math.exp(a), math.exp(b), math.exp(c), math.exp(d)
            vinf = f * v0
            span = v0 - vinf
            inv_sigma = self._inv_sigma
            ss = 0.0
            for t, y in self._obs:
                dt_ = t - lag
                tau = dt_ if dt_ > 0.0 else 0.0
                e = math.exp(-k * tau)
                pred = vinf + span * e
                r = (y - pred) * inv_sigma
                ss += r * r
                w = -r * inv_sigma  # d(0.5 r^2) / d pred
                g[0] += w * pred
                g[1] += w * (-span * e * k * tau)
                g[2] += w * (vinf * (1.0 - e))
                if dt_ > 0.0:
                    g[3] += w * (span * e * k * lag)
            value += 0.5 * ss
        except (OverflowError, ValueError):
            return 1e300, grad
        if not (math.isfinite(value) and all(math.isfinite(x) for x in g)):
            return 1e300, grad
        grad[:] = g
        return value, grad


def _map_and_cov(post: _Posterior) -> tuple[np.ndarray, np.ndarray]:
    from scipy.optimize import minimize

    best = None
    # Nine starts over the prior's k and f (the posterior can be bimodal in them);
    # quasi-Newton with the analytic gradient from each.
    for dk in (-1.0, 0.0, 1.0):
        for df in (-0.5, 0.0, 0.5):
            x0 = post.mean + np.array([0.0, dk, df, 0.0]) * post.sd
            res = minimize(post.neg_and_grad, x0, jac=True, method="BFGS",
                           options={"gtol": 1e-7, "maxiter": 2000})
            if best is None or res.fun < best.fun:
                best = res
    res = minimize(post.neg, best.x, method="Nelder-Mead",
                   options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 4000,
                            "initial_simplex": best.x + 1e-3 * np.vstack(
                                [np.zeros(4), np.eye(4)])})
    x = res.x if res.fun <= best.fun else best.x
    return _hessian_cov(post, x)


def _hessian_cov(post: _Posterior, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``x`` and the Laplace covariance there (curvature floored at the prior's)."""
    # Central-difference Hessian of the negative log-posterior.
    n = x.size
    h = 1e-3 * np.maximum(1.0, np.abs(x))
    hess = np.empty((n, n))
    f0 = post.neg(x)
    for i in range(n):
        for j in range(i, n):
            ei = np.zeros(n)
            ej = np.zeros(n)
            ei[i] = h[i]
            ej[j] = h[j]
            if i == j:
                val = (post.neg(x + ei) - 2 * f0 + post.neg(x - ei)) / h[i] ** 2
            else:
                val = (post.neg(x + ei + ej) - post.neg(x + ei - ej)
                       - post.neg(x - ei + ej) + post.neg(x - ei - ej)) / (4 * h[i] * h[j])
            hess[i, j] = hess[j, i] = val
    w, vecs = np.linalg.eigh(hess)
    # Floor the curvature at the prior's, so flat directions keep the prior's width.
    floor = 1.0 / np.max(post.sd) ** 2
    w = np.maximum(w, floor)
    cov = (vecs / w) @ vecs.T
    return x, cov


def _mvt_logpdf(x: np.ndarray, loc: np.ndarray, chol: np.ndarray, df: float) -> np.ndarray:
    from scipy.special import gammaln

    d = loc.size
    z = np.linalg.solve(chol, (x - loc).T).T
    maha = np.sum(z * z, axis=1)
    logdet = 2 * np.sum(np.log(np.diag(chol)))
    return (gammaln((df + d) / 2) - gammaln(df / 2) - 0.5 * d * math.log(df * math.pi)
            - 0.5 * logdet - 0.5 * (df + d) * np.log1p(maha / df))


def _importance_sample(post: _Posterior, rng: np.random.Generator, n_draws: int,
                       loc: np.ndarray, cov: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, float]:
    """Defensive importance sampling: half prior draws, half Student-t(5) around ``loc``."""
    chol = np.linalg.cholesky(cov)
    df = 5.0
    n_prior = n_draws // 2
    n_t = n_draws - n_prior
    prior_draws = post.mean + post.sd * rng.standard_normal((n_prior, 4))
    g = rng.chisquare(df, size=n_t) / df
    t_draws = loc + (rng.standard_normal((n_t, 4)) @ chol.T) / np.sqrt(g)[:, None]
    theta = np.vstack([prior_draws, t_draws])
    log_q = np.logaddexp(
        math.log(0.5) + post.log_prior(theta) - 2 * math.log(2 * math.pi),
        math.log(0.5) + _mvt_logpdf(theta, loc, chol, df),
    )
    log_w = post.log_post(theta) - log_q
    log_w -= np.max(log_w)
    w = np.exp(log_w)
    w /= w.sum()
    ess = float(1.0 / np.sum(w * w))
    return theta, w, ess


def _sample_posterior(post: _Posterior, rng: np.random.Generator, n_draws: int
                      ) -> tuple[np.ndarray, np.ndarray, float]:
    """Importance sampling from the Laplace approximation, adapted while the ESS is low.

    Each further round doubles the draws and moves the Student-t proposal to the
    weighted mean and covariance of the previous round (adaptive importance
    sampling), which copes with posteriors far from Gaussian (e.g. a fast growth).
    """
    loc, cov = _map_and_cov(post)
    cov = cov * 1.5**2
    draws = n_draws
    best = None
    for _ in range(5):
        theta, w, ess = _importance_sample(post, rng, draws, loc, cov)
        if best is None or ess > best[2]:
            best = (theta, w, ess)
        if ess >= 500:
            break
        loc = w @ theta
        centred = theta - loc
        cov = (centred * w[:, None]).T @ centred * 1.5**2 + np.diag((0.05 * post.sd) ** 2)
        draws *= 2
    return best


# --------------------------------------------------------------------------- public API


def _as_months(dates: Sequence[dt.date]) -> np.ndarray:
    base = dates[0]
    return np.array([(d - base).days / DAYS_PER_MONTH for d in dates], dtype=float)


def _validate(dates: Sequence[dt.date], volumes: Sequence[float]
              ) -> tuple[list[dt.date], np.ndarray]:
    dates = list(dates)
    if len(dates) == 0:
        raise InvalidInputError("dates", "no MRI given", allowed="one or more MRI dates")
    if len(dates) != len(volumes):
        raise InvalidInputError("volumes_mm3", f"{len(volumes)} volumes for {len(dates)} dates",
                                allowed="one volume per date")
    for i, d in enumerate(dates):
        if not isinstance(d, dt.date):
            raise InvalidInputError(f"dates[{i}]", f"{d!r} is not a date",
                                    allowed="datetime.date")
        if i and d < dates[i - 1]:
            raise InvalidInputError(f"dates[{i}]", f"{d} is before {dates[i - 1]}",
                                    allowed="dates in ascending order")
    y = np.asarray(volumes, dtype=float)
    for i, v in enumerate(y):
        if not (math.isfinite(v) and v >= 0):
            raise InvalidInputError(f"volumes_mm3[{i}]", f"{v!r}", allowed="a volume >= 0 mm3")
    if y[0] <= 0:
        raise InvalidInputError("volumes_mm3[0]", "the baseline volume is 0",
                                allowed="a baseline volume > 0 mm3 (nothing to forecast)")
    return dates, y


def forecast_volumes(
    dates: Sequence[dt.date],
    volumes_mm3: Sequence[float],
    *,
    morphology: HerniationMorphology | str | None = None,
    prior: KineticPrior | None = None,
    n_draws: int = 8000,
    seed: int = 0,
) -> VolumeForecast:
    """Forecast the herniated volume at 3, 6, 12 and 24 months after the baseline MRI.

    Parameters
    ----------
    dates : sequence of datetime.date
        MRI dates in ascending order; the first is the baseline (t = 0).
    volumes_mm3 : sequence of float
        Measured herniated volume at each date, mm3 (baseline > 0).
    morphology : HerniationMorphology or str, optional
        Selects the morphology-specific prior of the residual fraction.
    prior : KineticPrior, optional
        Override the evidence-based prior (default:
        :func:`resorb.prognosis.default_kinetic_prior`).
    n_draws : int
        Importance-sampling draws (doubled, with an adapted proposal, up to four
        times while the effective sample size is below 500).
    seed : int
        Seed of the random generator; the result is reproducible.

    Returns
    -------
    VolumeForecast

    Notes
    -----
    With one MRI the kinetic parameters are drawn from the prior and ``V0`` is
    the measured baseline: the forecast is the prior and says so. With two or
    more, ``V0`` is estimated too (the baseline is measured with error).

    Examples
    --------
    >>> import datetime as dt
    >>> fc = forecast_volumes([dt.date(2026, 1, 5), dt.date(2026, 5, 5)], [1500, 900],
    ...                       morphology="extrusion", seed=1)  # doctest: +SKIP
    >>> fc.to_dict()["probability_50pct_by_12_months"]  # doctest: +SKIP
    """
    dates, y = _validate(dates, volumes_mm3)
    if isinstance(morphology, str):
        morphology = parse_enum(HerniationMorphology, morphology, field="morphology")
    if not isinstance(n_draws, int) or n_draws < 200:
        raise InvalidInputError("n_draws", f"{n_draws!r}", allowed="an integer >= 200")
    if prior is None:
        prior = default_kinetic_prior(morphology)
    t = _as_months(dates)
    rng = np.random.default_rng(seed)
    notes: list[str] = []
    prior_only = len(y) == 1
    if prior_only:
        draws = n_draws
        kin = prior.mean + prior.sd * rng.standard_normal((draws, 3))
        theta = np.column_stack([np.full(draws, math.log(y[0])), kin])
        w = np.full(draws, 1.0 / draws)
        ess = float(draws)
        notes.append("Only one MRI: the kinetics are the population prior alone.")
    else:
        post = _Posterior(t, y, prior)
        theta, w, ess = _sample_posterior(post, rng, n_draws)
        if ess < 50:
            raise ModelError(f"the forecast did not converge (effective sample size {ess:.0f}); "
                             "check the volumes for a unit error")
        if ess < 300:
            notes.append(f"The posterior was sampled with a small effective sample size "
                         f"({ess:.0f}); its intervals are approximate.")
        if t[-1] - t[0] < 1.0:
            notes.append("The MRIs span less than one month; the kinetics rest mostly "
                         "on the prior.")
    v0, k, f, lag = (np.exp(theta[:, i]) for i in range(4))
    horizons = np.array(FORECAST_HORIZONS_MONTHS, dtype=float)
    vol_h = kinetic_volume_mm3(horizons[None, :], v0[:, None], k[:, None], f[:, None],
                               lag[:, None])
    mean_h = (w[:, None] * vol_h).sum(axis=0)
    q_h = _weighted_quantiles(vol_h, w, (0.025, 0.5, 0.975))
    v12 = kinetic_volume_mm3(12.0, v0, k, f, lag)
    p50 = min(1.0, max(0.0, float(np.sum(w * (v12 <= 0.5 * v0)))))
    grid = np.arange(0.0, 24.0 + 1e-9, 0.5)
    vol_g = kinetic_volume_mm3(grid[None, :], v0[:, None], k[:, None], f[:, None],
                               lag[:, None])
    q_g = _weighted_quantiles(vol_g, w, (0.025, 0.5, 0.975))

    def summary(values: np.ndarray, unit: str) -> dict[str, Any]:
        q = _weighted_quantiles(values[:, None], w, (0.025, 0.5, 0.975))[:, 0]
        return {"median": float(q[1]), "interval": [float(q[0]), float(q[2])], "unit": unit}

    parameters = {
        "k": summary(k, "1/month"),
        "half_life": summary(math.log(2) / k, "month"),
        "residual_fraction": summary(f, "1"),
        "lag": summary(lag, "month"),
        "v0": summary(v0, "mm3"),
    }
    change = float(y[-1] - y[0])
    growth = len(y) > 1 and change > prior.mdc_mm3
    if growth:
        notes.append(f"The latest volume is {change:.0f} mm3 above the baseline, more than the "
                     f"minimal detectable change ({prior.mdc_mm3:.0f} mm3): the herniation "
                     "has grown.")
    return VolumeForecast(
        baseline_date=dates[0],
        n_mri=len(y),
        prior_only=prior_only,
        horizons_months=FORECAST_HORIZONS_MONTHS,
        volume_mean_mm3=tuple(float(x) for x in mean_h),
        volume_median_mm3=tuple(float(x) for x in q_h[1]),
        volume_interval_mm3=tuple((float(a), float(b)) for a, b in zip(q_h[0], q_h[2],
                                                                       strict=True)),
        probability_50pct_by_12_months=p50,
        growth_flagged=bool(growth),
        growth_change_mm3=change,
        mdc_mm3=prior.mdc_mm3,
        curve_months=tuple(float(x) for x in grid),
        curve_median_mm3=tuple(float(x) for x in q_g[1]),
        curve_lower_mm3=tuple(float(x) for x in q_g[0]),
        curve_upper_mm3=tuple(float(x) for x in q_g[2]),
        parameters=parameters,
        prior=prior,
        effective_sample_size=ess,
        n_draws=len(w),
        seed=seed,
        observations=tuple((float(a), float(b)) for a, b in zip(t, y, strict=True)),
        notes=tuple(notes),
    )


# --------------------------------------------------------------------------- default prior

#: Evidence records behind the default prior (ids in ``resorb/evidence/data``).
PRIOR_EVIDENCE_IDS: dict[str, str] = {
    "resolution_mean": "sequestration_radiographic_resolution_months_macki2014",
    "resolution_sd": "sequestration_radiographic_resolution_sd_months_macki2014",
    "reduction25_overall": "regression_rate_overall_zou2023",
    "reduction50_overall": "resorption_incidence_50_zou2023",
    "reduction25_sequestration": "regression_rate_sequestration_zou2023",
    "reduction25_extrusion": "regression_rate_extrusion_zou2023",
    "reduction25_protrusion": "regression_rate_protrusion_zou2023",
    "reduction25_bulge": "regression_rate_bulge_zou2023",
    "lag": "forecast_lag_months_assumption",
    "mdc": "volume_mdc_mm3",
    "regression_as_reduction25": "forecast_regression_read_as_reduction25_assumption",
}

#: Said in every forecast's basis: how the pooled regression rates are used.
REGRESSION_READING_NOTE = (
    "the pooled regression rates (any measurable decrease) are read as the probability "
    "of at least a 25 % reduction - our assumption, which overstates it by an unknown "
    "amount (evidence record forecast_regression_read_as_reduction25_assumption)")


def _probability(value) -> float:
    x = float(value.value)
    return x / 100.0 if value.unit.strip() in {"%", "percent"} else x


def default_kinetic_prior(morphology: HerniationMorphology | str | None = None) -> KineticPrior:
    """The population prior of :func:`forecast_volumes`, built from the evidence base.

    Parameters
    ----------
    morphology : HerniationMorphology or str, optional
        Morphology whose incidence of resorption places the median residual
        fraction; None uses the overall incidence.

    Returns
    -------
    KineticPrior
        Labelled ``assumption``; ``sources`` lists every record used with its
        DOI/PMID and confidence.
    """
    from resorb.evidence import evidence_value

    if isinstance(morphology, str):
        morphology = parse_enum(HerniationMorphology, morphology, field="morphology")
    used: list[dict[str, Any]] = []

    def get(key: str):
        record = evidence_value(PRIOR_EVIDENCE_IDS[key])
        used.append({"id": record.id, "role": key, "confidence": record.confidence.value,
                     "assumption": record.assumption,
                     "citations": [dict(c) for c in record.citations]})
        return record

    reading = get("regression_as_reduction25")
    if float(reading.value) != 25.0:  # pragma: no cover - data guard
        raise ModelError("the forecast prior is calibrated at a 25 % reduction; "
                         f"{reading.id} says {reading.value}")
    mean_months = float(get("resolution_mean").value)
    sd_months = float(get("resolution_sd").value)
    p25_all = _probability(get("reduction25_overall"))
    p50_all = _probability(get("reduction50_overall"))
    p25 = (_probability(get(f"reduction25_{morphology.value}")) if morphology is not None
           else p25_all)
    lag = get("lag")
    lag_median, lag_log_sd = (float(x) for x in lag.value)
    mdc = float(get("mdc").value)
    return calibrate_kinetic_prior(
        resolution_mean_months=mean_months, resolution_sd_months=sd_months,
        p_reduction25=p25, p_reduction25_overall=p25_all, p_reduction50_overall=p50_all,
        lag_median_months=lag_median, lag_log_sd=lag_log_sd, loa_half_width_mm3=mdc,
        morphology=None if morphology is None else morphology.value, sources=used)
