"""The forecast prior: four courses of a herniation and one first-order kinetic.

Every herniation follows one of four courses (classes):

* ``complete``: resolves completely (final fraction ``f = 0``);
* ``partial``: shrinks to ``f`` in (0, 0.8), ``f = 0.8 expit(mu_P + z)``;
* ``stable``: ends within 10 % of its baseline (``f`` uniform in 0.9-1.1);
* ``growth``: grows to ``f = 1.1 + X``, ``X`` log-normal.

The volume follows ``V(t) = V0 (f + (1 - f) exp(-k max(0, t - lag)))`` with
``k`` and ``lag`` log-normal (``t`` in months after the first MRI).

Class probabilities follow the probability of regression ``p`` (any
measurable decrease, read as a true decrease of at least 10 %, by 12 months):
the pooled rate of the morphology (Zou 2023), or the estimate updated by the
findings. Of the regressors, a share resolves completely (Chiu 2015: 43/96 of
sequestrations, 15/70 of extrusions; an assumption for protrusions and
bulges); of the others, a share grows (Seo 2016 for extrusions and
sequestrations, Kjaer 2016 for protrusions and bulges). The class weights are
set so that the probability of each event (regression by 12 months, complete
resolution by 24 months) is exactly the target.

The kinetic is the same for every morphology (no time-course data by
morphology were found; the class weights carry the morphology). The lag is
short (median about one week, ``forecast_lag_months_assumption``); the spread
of the rate is that of Macki 2014's times to resolution; the rate's centre and
the partial course's centre are fitted (:mod:`resorb.prognosis._calibration`)
to the shares of one-year disappearances complete by 8 and by 2 months (Ramos
Amador 2013: 66 %, 5/42) and to the overall probability of at least 50 %
reduction (Zou 2023: 43.6 %). Hornung 2023's share of early resorbers (23/90
by 3 months) is a check the kinetic misses. :func:`calibration_table` shows
every target beside the prior's value; ``docs/validation.md`` holds it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from resorb.domain.enums import HerniationMorphology, parse_enum
from resorb.errors import InvalidInputError

__all__ = [
    "CLASSES",
    "KineticPrior",
    "LatentDraws",
    "calibration_table",
    "class_probabilities",
    "default_kinetic_prior",
    "draw_latent",
    "kinetic_volume_mm3",
]

#: The four courses, in the order of every per-class array.
CLASSES: tuple[str, ...] = ("complete", "partial", "stable", "growth")
_Z95 = 1.959963984540054


def kinetic_volume_mm3(t_months, v0_mm3, k_per_month, residual_fraction, lag_months):
    """Volume of the kinetic at ``t_months`` after the first MRI (broadcasting), mm3."""
    t = np.maximum(0.0, np.asarray(t_months, dtype=float) - lag_months)
    return v0_mm3 * (residual_fraction + (1.0 - residual_fraction) * np.exp(-k_per_month * t))


@dataclass(frozen=True, slots=True)
class KineticPrior:
    """Population prior of the course of a herniation (our assumption, calibrated).

    Attributes
    ----------
    morphology : str or None
        Morphology whose rates set the class weights (None: all morphologies).
    regression_probability : float
        Pooled probability of regression by 12 months for the morphology.
    complete_share : float
        Share of the regressors that resolve completely (by 24 months).
    growth_share : float
        Share of the non-regressors that grow.
    log_k_mean, log_k_sd : float
        Log-normal rate ``k`` (1/month).
    lag_median_months, lag_log_sd : float
        Log-normal lag before the volume changes.
    partial_logit_mean, partial_logit_sd, partial_max : float
        Partial course: ``f = partial_max expit(N(mean, sd))``.
    stable_band : tuple of float
        No-change course: ``f`` uniform in this band.
    growth_excess_median, growth_excess_log_sd : float
        Growth course: ``f = stable_band[1] + X``, ``X`` log-normal.
    decrease_fraction : float
        ``V / V0`` at or below which a herniation counts as regressed.
    complete_fraction : float
        ``V / V0`` below which the fragment counts as no longer visible.
    enlarged_fraction : float
        ``V / V0`` at or above which a herniation is graded enlarged.
    sources : tuple of dict
        Evidence records behind the numbers (not part of equality).
    """

    morphology: str | None
    regression_probability: float
    complete_share: float
    growth_share: float
    log_k_mean: float
    log_k_sd: float
    lag_median_months: float
    lag_log_sd: float
    partial_logit_mean: float
    partial_logit_sd: float = 1.0
    partial_max: float = 0.8
    stable_band: tuple[float, float] = (0.9, 1.1)
    growth_excess_median: float = 0.3
    growth_excess_log_sd: float = 0.6
    decrease_fraction: float = 0.9
    complete_fraction: float = 0.05
    enlarged_fraction: float = 1.25
    label: str = "assumption"
    sources: tuple[Mapping[str, Any], ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        for name in ("regression_probability", "complete_share", "growth_share"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and 0.0 <= v <= 1.0):
                raise InvalidInputError(f"prior.{name}", f"{v!r}", allowed="a number in 0-1")
        for name in (
            "log_k_sd",
            "lag_median_months",
            "lag_log_sd",
            "partial_logit_sd",
            "growth_excess_median",
            "growth_excess_log_sd",
        ):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
                raise InvalidInputError(f"prior.{name}", f"{v!r}", allowed="a number > 0")
        if not (
            0
            < self.complete_fraction
            < self.partial_max
            < self.decrease_fraction
            <= self.stable_band[0]
            < 1
            < self.stable_band[1]
            < self.enlarged_fraction
        ):
            raise InvalidInputError(
                "prior",
                "class boundaries out of order",
                allowed="complete < partial max < decrease <= stable band < enlarged",
            )

    def to_dict(self) -> dict[str, Any]:
        def lognormal(mu: float, sd: float, unit: str) -> dict[str, Any]:
            return {
                "median": math.exp(mu),
                "interval": [math.exp(mu - _Z95 * sd), math.exp(mu + _Z95 * sd)],
                "unit": unit,
            }

        return {
            "label": self.label,
            "morphology": self.morphology,
            "classes": list(CLASSES),
            "regression_probability": self.regression_probability,
            "complete_share": self.complete_share,
            "growth_share": self.growth_share,
            "k": lognormal(self.log_k_mean, self.log_k_sd, "1/month"),
            "lag": lognormal(math.log(self.lag_median_months), self.lag_log_sd, "month"),
            "partial_residual_fraction": {
                "median": self.partial_max / (1 + math.exp(-self.partial_logit_mean)),
                "max": self.partial_max,
            },
            "stable_band": list(self.stable_band),
            "growth_final_fraction_median": self.stable_band[1] + self.growth_excess_median,
            "thresholds": {
                "regressed_at_most": self.decrease_fraction,
                "complete_below": self.complete_fraction,
                "enlarged_at_least": self.enlarged_fraction,
            },
            "sources": [dict(s) for s in self.sources],
        }


# --------------------------------------------------------------------------- latent draws


@dataclass(frozen=True, eq=False)
class LatentDraws:
    """Draws of the course parameters, stratified: ``n_per_class`` per class.

    ``cls[i]`` is the class index of draw ``i``; ``k``, ``lag`` and ``f`` its
    parameters. Draws are the same for every case with the same prior and seed.
    """

    prior: KineticPrior
    n_per_class: int
    cls: np.ndarray
    k: np.ndarray
    lag: np.ndarray
    f: np.ndarray
    _cache: dict = field(default_factory=dict, repr=False)

    def fraction(self, t_months) -> np.ndarray:
        """``V(t) / V0`` of every draw: shape (N,) for a scalar t, (N, len(t)) otherwise."""
        t = np.asarray(t_months, dtype=float)
        if t.ndim == 0:
            tau = np.maximum(0.0, t - self.lag)
            return self.f + (1.0 - self.f) * np.exp(-self.k * tau)
        tau = np.maximum(0.0, t[None, :] - self.lag[:, None])
        return self.f[:, None] + (1.0 - self.f[:, None]) * np.exp(-self.k[:, None] * tau)

    def class_means(self, values: np.ndarray) -> np.ndarray:
        """Mean of ``values`` (N,) within each class: shape (4,)."""
        return values.reshape(len(CLASSES), self.n_per_class).mean(axis=1)

    @property
    def q_regressed_12(self) -> np.ndarray:
        return _cached_q(self, "regressed", 12.0)

    @property
    def q_complete_24(self) -> np.ndarray:
        return _cached_q(self, "complete", 24.0)

    def event(self, kind: str, t_months: float) -> np.ndarray:
        """Indicator of an event at ``t_months`` for every draw (bool, shape (N,)).

        Cached on the draws (they are shared by every case with the same prior and seed).
        """
        key = ("event", kind, float(t_months))
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        g = self.fraction(t_months)
        p = self.prior
        if kind == "regressed":
            out = g <= p.decrease_fraction
        elif kind == "complete":
            out = g < p.complete_fraction
        elif kind == "halved":
            out = g <= 0.5
        elif kind == "enlarged":
            out = g >= p.enlarged_fraction
        else:  # pragma: no cover - internal
            raise ValueError(kind)
        out.setflags(write=False)
        if len(self._cache) < 256:
            self._cache[key] = out
        return out


def _cached_q(latent: LatentDraws, kind: str, t: float) -> np.ndarray:
    key = (kind, t)
    q = latent._cache.get(key)
    if q is None:
        q = latent.class_means(latent.event(kind, t).astype(float))
        latent._cache[key] = q
    return q


def _class_f(prior: KineticPrior, cls: int, z: np.ndarray, u: np.ndarray) -> np.ndarray:
    if cls == 0:
        return np.zeros_like(z)
    if cls == 1:
        return prior.partial_max / (
            1.0 + np.exp(-(prior.partial_logit_mean + prior.partial_logit_sd * z))
        )
    lo, hi = prior.stable_band
    if cls == 2:
        return lo + (hi - lo) * u
    return hi + prior.growth_excess_median * np.exp(prior.growth_excess_log_sd * z)


@lru_cache(maxsize=16)
def draw_latent(prior: KineticPrior, seed: int = 0, n_per_class: int = 5000) -> LatentDraws:
    """Stratified draws of the course parameters (cached per prior, seed and size)."""
    rng = np.random.default_rng([seed, 7919])
    n = n_per_class
    cls = np.repeat(np.arange(len(CLASSES)), n)
    zk, zl, zf = rng.standard_normal((3, len(CLASSES) * n))
    u = rng.random(len(CLASSES) * n)
    k = np.exp(prior.log_k_mean + prior.log_k_sd * zk)
    lag = prior.lag_median_months * np.exp(prior.lag_log_sd * zl)
    f = np.concatenate(
        [
            _class_f(prior, c, zf[c * n : (c + 1) * n], u[c * n : (c + 1) * n])
            for c in range(len(CLASSES))
        ]
    )
    for a in (cls, k, lag, f):
        a.setflags(write=False)
    return LatentDraws(prior=prior, n_per_class=n, cls=cls, k=k, lag=lag, f=f)


def class_probabilities(p_regression, latent: LatentDraws) -> np.ndarray:
    """Class weights that reproduce ``p_regression`` (float or array) by 12 months.

    Complete: ``p x complete_share`` resolved by 24 months; partial: the rest of
    the regression probability by 12 months; of the remainder, ``growth_share``
    grows and the others stay. Returns shape ``p.shape + (4,)``.
    """
    prior = latent.prior
    p = np.clip(np.asarray(p_regression, dtype=float), 0.0, 1.0)
    q12 = latent.q_regressed_12
    q24c = latent.q_complete_24
    pi_c = np.minimum(p * prior.complete_share / max(q24c[0], 1e-9), p / max(q12[0], 1e-9))
    pi_c = np.minimum(pi_c, 1.0)
    pi_p = np.clip((p - pi_c * q12[0]) / max(q12[1], 1e-9), 0.0, None)
    pi_p = np.minimum(pi_p, 1.0 - pi_c)
    rest = np.clip(1.0 - pi_c - pi_p, 0.0, 1.0)
    pi_g = prior.growth_share * rest
    pi_s = rest - pi_g
    return np.stack([pi_c, pi_p, pi_s, pi_g], axis=-1)


_CONTAINED = (HerniationMorphology.BULGE, HerniationMorphology.PROTRUSION)


@lru_cache(maxsize=8)
def default_kinetic_prior(morphology: HerniationMorphology | str | None = None) -> KineticPrior:
    """The population prior for a morphology, built from the evidence base.

    Parameters
    ----------
    morphology : HerniationMorphology or str, optional
        None: all morphologies (Zou 2023's overall rates; the growth share of
        the uncontained herniations).

    Returns
    -------
    KineticPrior
        Labelled ``assumption``; ``sources`` lists every record used.
    """
    if isinstance(morphology, str):
        morphology = parse_enum(HerniationMorphology, morphology, field="morphology")
    from resorb.prognosis._calibration import _probability, _record, _targets

    used: list[dict[str, Any]] = []

    def get(role: str):
        rec = _record(role)
        used.append(
            {
                "id": rec.id,
                "role": role,
                "confidence": rec.confidence.value,
                "assumption": rec.assumption,
                "citations": [dict(c) for c in rec.citations],
            }
        )
        return rec

    # The fitted centres are stored as labelled records (a test refits and compares),
    # so a process does not pay for the fit.
    fit = {
        "log_k_mean": float(get("rate_centre").value),
        "partial_logit_mean": float(get("partial_centre").value),
    }
    for role in (
        "early_3",
        "complete_by_8",
        "complete_by_2",
        "complete_1y",
        "rate_log_sd",
        "lag",
        "decrease",
        "complete_fraction",
        "partial_max",
        "partial_sd",
        "enlarged",
        "halved_overall",
    ):
        get(role)
    if morphology is None:
        p = _probability(get("regression_overall"))
        share_c = _probability(get("complete_overall")) / p
    else:
        p = _probability(get(f"regression_{morphology.value}"))
        if morphology in _CONTAINED:
            share_c = float(get("complete_share_contained").value)
        else:
            share_c = _probability(get(f"complete_{morphology.value}")) / _probability(
                get(f"any_{morphology.value}_chiu")
            )
    growth = get(
        "growth_share_contained" if morphology in _CONTAINED else "growth_share_uncontained"
    )
    band = get("stable_band").value
    excess = get("growth_excess").value
    lag = _record("lag")
    t = _targets()
    return KineticPrior(
        morphology=None if morphology is None else morphology.value,
        regression_probability=p,
        complete_share=min(share_c, 1.0),
        growth_share=float(growth.value),
        log_k_mean=fit["log_k_mean"],
        log_k_sd=t["log_k_sd"],
        lag_median_months=float(lag.value[0]),
        lag_log_sd=float(lag.value[1]),
        partial_logit_mean=fit["partial_logit_mean"],
        partial_logit_sd=t["partial_logit_sd"],
        partial_max=t["partial_max"],
        enlarged_fraction=t["enlarged_fraction"],
        stable_band=(float(band[0]), float(band[1])),
        growth_excess_median=float(excess[0]),
        growth_excess_log_sd=float(excess[1]),
        decrease_fraction=t["decrease_fraction"],
        complete_fraction=t["complete_fraction"],
        sources=tuple(used),
    )


def calibration_table(seed: int = 0) -> list[dict[str, Any]]:
    """Each calibration target beside the prior's value (see :mod:`._calibration`)."""
    from resorb.prognosis._calibration import calibration_table as table

    return table(seed)
