"""Forecast of herniated volume from serial MRI: the course mixture, conditioned.

The prior (:mod:`resorb.prognosis._kinetics`) gives four courses of a
herniation; the measured volumes reweight them (:mod:`resorb.prognosis._posterior`).
The forecast reports volumes at 3, 6, 12 and 24 months, the probability of at
least 50 % reduction by 12 months, of growth (graded enlarged) by 12 months and
of complete resolution by 24 months, all from one set of weighted draws. The
resorption estimate of a case uses the same draws (``ResorptionEstimate.forecast``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from resorb.domain.enums import HerniationMorphology, parse_enum
from resorb.errors import InvalidInputError, ModelError
from resorb.imaging import DAYS_PER_MONTH, VolumeErrorModel, compare_volumes, volume_error_model
from resorb.prognosis._kinetics import (
    KineticPrior,
    LatentDraws,
    class_probabilities,
    default_kinetic_prior,
    draw_latent,
)
from resorb.prognosis._posterior import MRIPosterior, condition_on_mri
from resorb.prognosis._types import VolumeForecast

__all__ = ["FORECAST_HORIZONS_MONTHS", "condition", "forecast_from_posterior", "forecast_volumes"]

#: Months after the baseline MRI at which the forecast is reported.
FORECAST_HORIZONS_MONTHS: tuple[int, ...] = (3, 6, 12, 24)
_N_PER_CLASS = 5000
_RESAMPLE = 1000
_MIN_ESS = 300.0


def _as_months(dates: Sequence[dt.date]) -> np.ndarray:
    base = dates[0]
    return np.array([(d - base).days / DAYS_PER_MONTH for d in dates], dtype=float)


def _validate(
    dates: Sequence[dt.date], volumes: Sequence[float]
) -> tuple[list[dt.date], np.ndarray]:
    dates = list(dates)
    if len(dates) == 0:
        raise InvalidInputError("dates", "no MRI given", allowed="one or more MRI dates")
    if len(dates) != len(volumes):
        raise InvalidInputError(
            "volumes_mm3",
            f"{len(volumes)} volumes for {len(dates)} dates",
            allowed="one volume per date",
        )
    for i, d in enumerate(dates):
        if not isinstance(d, dt.date):
            raise InvalidInputError(f"dates[{i}]", f"{d!r} is not a date", allowed="datetime.date")
        if i and d < dates[i - 1]:
            raise InvalidInputError(
                f"dates[{i}]", f"{d} is before {dates[i - 1]}", allowed="dates in ascending order"
            )
    y = np.asarray(volumes, dtype=float)
    for i, v in enumerate(y):
        if not (math.isfinite(v) and v >= 0):
            raise InvalidInputError(f"volumes_mm3[{i}]", f"{v!r}", allowed="a volume >= 0 mm3")
    if y[0] <= 0:
        raise InvalidInputError(
            "volumes_mm3[0]",
            "the baseline volume is 0",
            allowed="a baseline volume > 0 mm3 (nothing to forecast)",
        )
    return dates, y


def condition(
    prior: KineticPrior,
    months: np.ndarray,
    volumes: np.ndarray,
    error_model: VolumeErrorModel,
    p_regression: float,
    seed: int,
    n_per_class: int = _N_PER_CLASS,
) -> tuple[LatentDraws, MRIPosterior, list[str]]:
    """Latent draws and their likelihood; more draws while the effective sample size is low."""
    notes: list[str] = []
    for factor in (1, 4, 16):
        latent = draw_latent(prior, seed, n_per_class * factor)
        post = condition_on_mri(latent, months, volumes, error_model)
        if post.n_mri == 1:
            return latent, post, notes
        ess = post.effective_sample_size(class_probabilities(p_regression, latent))
        if ess >= _MIN_ESS:
            return latent, post, notes
    if ess < 30:
        raise ModelError(
            f"the forecast did not converge (effective sample size {ess:.0f}); "
            "check the volumes for a unit error"
        )
    notes.append(
        f"The measured volumes fit few of the modelled courses (effective sample "
        f"size {ess:.0f}); the intervals are approximate."
    )
    return latent, post, notes


def _quantiles(values: np.ndarray) -> np.ndarray:
    """2.5, 50 and 97.5 % of equally weighted (resampled) draws along axis 0 (one sort)."""
    s = np.sort(values, axis=0)
    pos = np.array([0.025, 0.5, 0.975]) * (s.shape[0] - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, s.shape[0] - 1)
    frac = (pos - lo).reshape((-1,) + (1,) * (s.ndim - 1))
    return s[lo] * (1 - frac) + s[hi] * frac


def _summary(values: np.ndarray, unit: str) -> dict[str, Any]:
    lo, med, hi = _quantiles(values)
    return {"median": float(med), "interval": [float(lo), float(hi)], "unit": unit}


def forecast_from_posterior(
    post: MRIPosterior,
    pi: np.ndarray,
    dates: Sequence[dt.date],
    error_model: VolumeErrorModel,
    *,
    seed: int,
    notes: Sequence[str] = (),
) -> VolumeForecast:
    """The forecast of one case from conditioned draws and its class weights ``pi``."""
    latent = post.latent
    prior = latent.prior
    rng = np.random.default_rng([seed, 104729])
    w = post.weights(pi)
    ess = float(1.0 / np.sum(w * w))
    # systematic resampling, then the true baseline volume of each resampled draw
    u = (rng.random() + np.arange(_RESAMPLE)) / _RESAMPLE
    idx = np.minimum(np.searchsorted(np.cumsum(w), u), w.size - 1)
    v0 = np.maximum(post.v0_mean[idx] + post.v0_sd[idx] * rng.standard_normal(_RESAMPLE), 0.0)
    horizons = np.array(FORECAST_HORIZONS_MONTHS, dtype=float)
    k, lag, f = latent.k[idx], latent.lag[idx], latent.f[idx]

    def volumes(t: np.ndarray) -> np.ndarray:
        tau = np.maximum(0.0, t[None, :] - lag[:, None])
        return v0[:, None] * (f[:, None] + (1 - f[:, None]) * np.exp(-k[:, None] * tau))

    vol_h = volumes(horizons)
    q_h = _quantiles(vol_h)
    grid = np.arange(0.0, 24.0 + 1e-9, 0.5)
    q_g = _quantiles(volumes(grid))
    y = post.volumes_mm3
    change = float(y[-1] - y[0])
    mdc = error_model.mdc_mm3(float(y[0]), float(y[-1]))
    growth = post.n_mri > 1 and change > mdc
    notes = list(notes)
    if post.n_mri == 1:
        notes.append(
            "Only one MRI: the courses are the population prior (updated by the "
            "findings), scaled to the measured volume."
        )
    elif growth:
        notes.append(
            f"The latest volume is {change:.0f} mm3 above the first, more than the "
            f"minimal detectable change of the pair ({mdc:.0f} mm3): the herniation "
            "has grown."
        )
    if post.n_mri > 1 and post.months[-1] < 1.0:
        notes.append("The MRIs span less than one month; the courses rest mostly on the prior.")
    return VolumeForecast(
        baseline_date=dates[0],
        n_mri=post.n_mri,
        prior_only=post.n_mri == 1,
        horizons_months=FORECAST_HORIZONS_MONTHS,
        volume_mean_mm3=tuple(float(x) for x in vol_h.mean(axis=0)),
        volume_median_mm3=tuple(float(x) for x in q_h[1]),
        volume_interval_mm3=tuple(
            (float(a), float(b)) for a, b in zip(q_h[0], q_h[2], strict=True)
        ),
        probability_50pct_by_12_months=post.probability(latent.event("halved", 12.0), pi),
        probability_growth_by_12_months=post.probability(latent.event("enlarged", 12.0), pi),
        probability_complete_by_24_months=post.probability(latent.event("complete", 24.0), pi),
        course_probabilities=post.course_probabilities(pi),
        growth_flagged=bool(growth),
        growth_change_mm3=change,
        mdc_mm3=mdc,
        curve_months=tuple(float(x) for x in grid),
        curve_median_mm3=tuple(float(x) for x in q_g[1]),
        curve_lower_mm3=tuple(float(x) for x in q_g[0]),
        curve_upper_mm3=tuple(float(x) for x in q_g[2]),
        parameters={
            "k": _summary(k, "1/month"),
            "half_life": _summary(math.log(2) / k, "month"),
            "residual_fraction": _summary(f, "1"),
            "lag": _summary(lag, "month"),
            "v0": _summary(v0, "mm3"),
        },
        prior=prior,
        effective_sample_size=ess,
        n_draws=int(latent.k.size),
        seed=seed,
        observations=tuple((float(a), float(b)) for a, b in zip(post.months, y, strict=True)),
        measurement_sd_mm3=tuple(float(s) for s in post.sd_mm3),
        error_model=error_model.to_dict(),
        notes=tuple(notes),
    )


def forecast_volumes(
    dates: Sequence[dt.date],
    volumes_mm3: Sequence[float],
    *,
    morphology: HerniationMorphology | str | None = None,
    prior: KineticPrior | None = None,
    probability_regression: float | None = None,
    seed: int = 0,
    readers: str = "two",
) -> VolumeForecast:
    """Forecast the herniated volume at 3, 6, 12 and 24 months after the first MRI.

    Parameters
    ----------
    dates : sequence of datetime.date
        MRI dates in ascending order; the first is the baseline (t = 0).
    volumes_mm3 : sequence of float
        Measured herniated volume at each date, mm3 (baseline > 0).
    morphology : HerniationMorphology or str, optional
        Selects the morphology's prior (pooled rates).
    prior : KineticPrior, optional
        Override the evidence-based prior.
    probability_regression : float, optional
        Probability of regression by 12 months before the MRIs (default: the
        morphology's pooled rate); the resorption estimate passes its own.
    seed : int
        Seed of the random draws; the result is reproducible.
    readers : {"two", "same"}
        Who measured the volumes (selects the measurement error).

    Returns
    -------
    VolumeForecast

    Examples
    --------
    >>> import datetime as dt
    >>> fc = forecast_volumes([dt.date(2026, 1, 5), dt.date(2026, 5, 5)], [754, 188],
    ...                       morphology="extrusion")
    >>> fc.probability_50pct_by_12_months > 0.9
    True
    """
    dates, y = _validate(dates, volumes_mm3)
    if isinstance(morphology, str):
        morphology = parse_enum(HerniationMorphology, morphology, field="morphology")
    if prior is None:
        prior = default_kinetic_prior(morphology)
    elif not isinstance(prior, KineticPrior):
        raise InvalidInputError("prior", type(prior).__name__, allowed="a KineticPrior")
    p = prior.regression_probability if probability_regression is None else probability_regression
    if not (isinstance(p, int | float) and 0.0 <= p <= 1.0):
        raise InvalidInputError("probability_regression", f"{p!r}", allowed="0-1")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise InvalidInputError("seed", f"{seed!r}", allowed="an integer")
    em = volume_error_model(readers)
    latent, post, notes = condition(prior, _as_months(dates), y, em, float(p), seed)
    pi = class_probabilities(float(p), latent)
    return forecast_from_posterior(post, pi, dates, em, seed=seed, notes=notes)


def observed_change(
    dates: Sequence[dt.date], volumes_mm3: Sequence[float], *, readers: str = "two"
):
    """The latest measured change against the first MRI (None with one MRI)."""
    from resorb.prognosis._types import ObservedChange

    if len(volumes_mm3) < 2 or volumes_mm3[0] <= 0:
        return None
    v0, v1 = float(volumes_mm3[0]), float(volumes_mm3[-1])
    r = compare_volumes(v0, v1, readers=readers, warn=False)
    beyond = not r.within_mdc
    pct = r.resorption_percent
    when = dates[-1].isoformat()
    sizes = f"{v0:.0f} -> {v1:.0f} mm3 by {when}"
    if beyond and pct > 0:
        text = (
            f"The herniation has already shrunk by {pct:.0f} % ({sizes}), beyond "
            f"measurement error (minimal detectable change {r.mdc_mm3:.0f} mm3)."
        )
    elif beyond:
        text = (
            f"The herniation has grown by {-pct:.0f} % ({sizes}), beyond measurement "
            f"error (minimal detectable change {r.mdc_mm3:.0f} mm3); growth lowers the "
            "estimate."
        )
    else:
        # In words: "-100 %" of a resorption percentage reads as "gone" to a clinician.
        moved = (
            f"shrank by {pct:.0f} %"
            if pct > 0
            else f"grew by {-pct:.0f} %"
            if pct < 0
            else "did not change"
        )
        text = (
            f"The measured size {moved} ({sizes}), within measurement error (minimal "
            f"detectable change {r.mdc_mm3:.0f} mm3): it may be a true change or a "
            "difference between measurements, and the estimate weighs it as such."
        )
    # Shrank on a follow-up MRI and grew again since: compared with the first MRI alone
    # (1000 -> 150 -> 1400 mm3 read "grew by 40 %, within measurement error") the
    # recurrence would go unseen.
    from_mm3 = from_date = None
    if len(volumes_mm3) > 2:
        i = min(range(1, len(volumes_mm3) - 1), key=lambda j: float(volumes_mm3[j]))
        low = float(volumes_mm3[i])
        mdc = volume_error_model(readers).mdc_mm3(low, v1)
        if low < v0 and v1 - low > mdc:
            from_mm3, from_date = low, dates[i]
            text += (
                f" It grew again after shrinking: {low:.0f} mm3 on {dates[i].isoformat()}"
                f" -> {v1:.0f} mm3 on {when}, beyond measurement error (minimal "
                f"detectable change {mdc:.0f} mm3), as in a recurrence or re-herniation. "
                "The modelled course does not describe regrowth, so the volume "
                "forecast does not apply to it; reassess clinically."
            )
    return ObservedChange(
        resorption_percent=pct,
        grade=r.grade.value,
        date=dates[-1],
        beyond_measurement_error=beyond,
        mdc_mm3=r.mdc_mm3,
        v_first_mm3=v0,
        v_latest_mm3=v1,
        statement=text,
        regrowth_from_mm3=from_mm3,
        regrowth_from_date=from_date,
    )
