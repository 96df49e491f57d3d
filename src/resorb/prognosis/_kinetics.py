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
morphology were found): its centre and the lag are fitted so that the share
of one-year regressors that had regressed by 3 months is Hornung 2023's
(23/90), the share of one-year disappearances complete by 8 and 2 months
Ramos Amador 2013's (66 %, 5/42), and the overall probability of at least
50 % reduction Zou 2023's (43.6 %); the spread of the rate is that of Macki
2014's times to resolution. :func:`calibration_table` shows every target beside
the prior's value.
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
_CALIBRATION_SEED = 20231
_CALIBRATION_DRAWS = 6000


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
        for name in ("log_k_sd", "lag_median_months", "lag_log_sd", "partial_logit_sd",
                     "growth_excess_median", "growth_excess_log_sd"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
                raise InvalidInputError(f"prior.{name}", f"{v!r}", allowed="a number > 0")
        if not (0 < self.complete_fraction < self.partial_max < self.decrease_fraction
                <= self.stable_band[0] < 1 < self.stable_band[1] < self.enlarged_fraction):
            raise InvalidInputError("prior", "class boundaries out of order",
                                    allowed="complete < partial max < decrease <= stable band "
                                            "< enlarged")

    def to_dict(self) -> dict[str, Any]:
        def lognormal(mu: float, sd: float, unit: str) -> dict[str, Any]:
            return {"median": math.exp(mu),
                    "interval": [math.exp(mu - _Z95 * sd), math.exp(mu + _Z95 * sd)],
                    "unit": unit}

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
                "max": self.partial_max},
            "stable_band": list(self.stable_band),
            "growth_final_fraction_median": self.stable_band[1] + self.growth_excess_median,
            "thresholds": {"regressed_at_most": self.decrease_fraction,
                           "complete_below": self.complete_fraction,
                           "enlarged_at_least": self.enlarged_fraction},
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
        return prior.partial_max / (1.0 + np.exp(-(prior.partial_logit_mean
                                                   + prior.partial_logit_sd * z)))
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
    f = np.concatenate([_class_f(prior, c, zf[c * n:(c + 1) * n], u[c * n:(c + 1) * n])
                        for c in range(len(CLASSES))])
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


# --------------------------------------------------------------------------- calibration


def _norm_sf(x):
    from scipy.special import ndtr

    return ndtr(-x)


def _event_given_f_lag(f, lag, t, c, log_k_mean, log_k_sd):
    """P(event by t | f, lag), analytic in the log-normal k (smooth for fitting).

    Shrink events ``V/V0 <= c`` (c < 1) need ``f < c``; growth events
    ``V/V0 >= c`` (c > 1) need ``f > c``; then ``k >= -ln((c - f)/(1 - f)) / (t - lag)``.
    """
    f = np.asarray(f, dtype=float)
    lag = np.asarray(lag, dtype=float)
    ok = (f < c) if c < 1 else (f > c)
    ratio = np.where(ok, (c - f) / np.where(f == 1.0, 1e-12, 1.0 - f), 0.5)
    dt = t - lag
    ok &= dt > 0
    k_req = -np.log(np.clip(ratio, 1e-300, None)) / np.where(dt > 0, dt, 1.0)
    prob = _norm_sf((np.log(np.clip(k_req, 1e-300, None)) - log_k_mean) / log_k_sd)
    return np.where(ok, prob, 0.0)


@lru_cache(maxsize=1)
def _fit_kinetics() -> dict[str, Any]:
    """Fit the rate centre, the lag median and the partial-course centre (see module)."""
    from scipy.optimize import least_squares

    t = _targets()
    rng = np.random.default_rng(_CALIBRATION_SEED)
    n = _CALIBRATION_DRAWS
    zl, zf = rng.standard_normal((2, n))
    s_k = t["log_k_sd"]
    lag_sd = t["lag_log_sd"]
    dec, comp = t["decrease_fraction"], t["complete_fraction"]
    pmax = t["partial_max"]
    p_all = t["p_regression_overall"]
    share_c = t["complete_overall"] / p_all

    lag = t["lag_median"] * np.exp(lag_sd * zl)

    def course(x):
        mu_k, mu_p = x
        f_p = pmax / (1 + np.exp(-(mu_p + zf)))
        zero = np.zeros(n)

        def q(f, tm, c):
            return float(np.mean(_event_given_f_lag(f, lag, tm, c, mu_k, s_k)))

        return q, zero, f_p

    def residuals(x):
        q, zero, f_p = course(x)
        # class weights for the overall prior: complete share of regressors by 24 months
        qc24 = q(zero, 24.0, comp)
        pi_c = min(p_all * share_c / max(qc24, 1e-9), 1.0)
        qc12, qp12 = q(zero, 12.0, dec), q(f_p, 12.0, dec)
        pi_p = max((p_all - pi_c * qc12) / max(qp12, 1e-9), 0.0)
        early = (pi_c * q(zero, 3.0, dec) + pi_p * q(f_p, 3.0, dec)) / p_all
        halved = pi_c * q(zero, 12.0, 0.5) + pi_p * q(f_p, 12.0, 0.5)
        c12 = q(zero, 12.0, comp)
        by8, by2 = q(zero, 8.0, comp) / c12, q(zero, 2.0, comp) / c12

        def lg(v):
            v = min(max(v, 1e-6), 1 - 1e-6)
            return math.log(v / (1 - v))

        del early  # Hornung 2023 is a check, not a target (see the calibration table)
        return [lg(by8) - lg(t["complete_by_8"]), lg(by2) - lg(t["complete_by_2"]),
                lg(halved) - lg(t["halved_overall"])]

    # The partial course's centre is bounded to a residual fraction of 0.19-0.71:
    # Zou's per-threshold rates leave it nearly unidentified (see calibration_table).
    res = least_squares(residuals, [math.log(0.3), 0.0], method="trf", diff_step=1e-3,
                        bounds=([-10.0, -2.0], [5.0, 2.0]))
    mu_k, mu_p = (float(v) for v in res.x)
    return {"log_k_mean": mu_k, "log_k_sd": s_k, "lag_median_months": t["lag_median"],
            "partial_logit_mean": mu_p, "residuals": [float(r) for r in res.fun]}


def _probability(record) -> float:
    x = float(record.value)
    return x / 100.0 if str(record.unit).strip() in {"%", "percent"} else x


#: Evidence records behind the prior, by role.
PRIOR_EVIDENCE_IDS: dict[str, str] = {
    "regression_sequestration": "regression_rate_sequestration_zou2023",
    "regression_extrusion": "regression_rate_extrusion_zou2023",
    "regression_protrusion": "regression_rate_protrusion_zou2023",
    "regression_bulge": "regression_rate_bulge_zou2023",
    "regression_overall": "regression_rate_overall_zou2023",
    "halved_overall": "resorption_incidence_50_zou2023",
    "complete_overall": "resorption_incidence_complete_zou2023",
    "complete_sequestration": "complete_resolution_sequestration_chiu2015",
    "any_sequestration_chiu": "regression_rate_sequestration_chiu2015",
    "complete_extrusion": "complete_resolution_extrusion_chiu2015",
    "any_extrusion_chiu": "regression_rate_extrusion_chiu2015",
    "complete_share_contained": "complete_resolution_protrusion_share_assumption",
    "growth_share_contained": "growth_share_contained_kjaer2016",
    "growth_share_uncontained": "growth_share_uncontained_seo2016",
    "early_3": "early_resorption_fraction_hornung2023",
    "complete_by_8": "disappeared_by_8_months_fraction_ramos_amador2013",
    "complete_by_2": "disappeared_within_2_months_ramos_amador2013",
    "complete_1y": "disappearance_1y_ramos_amador2013",
    "rate_log_sd": "kinetic_rate_log_sd_macki2014",
    "lag": "forecast_lag_months_assumption",
    "decrease": "measurable_decrease_fraction_assumption",
    "complete_fraction": "complete_resolution_fraction_assumption",
    "partial_max": "partial_shrinkage_fraction_max_assumption",
    "stable_band": "stable_band_assumption",
    "growth_excess": "growth_excess_assumption",
}


def _record(role: str):
    from resorb.evidence import evidence_value

    return evidence_value(PRIOR_EVIDENCE_IDS[role])


@lru_cache(maxsize=1)
def _targets() -> dict[str, float]:
    by2 = _record("complete_by_2")
    year = _record("complete_1y")
    lag = _record("lag")
    return {
        "p_regression_overall": _probability(_record("regression_overall")),
        "halved_overall": _probability(_record("halved_overall")),
        "complete_overall": _probability(_record("complete_overall")),
        "early_3": float(_record("early_3").value),
        "complete_by_8": float(_record("complete_by_8").value),
        # 5 of 72 disappeared within 2 months, of the 59 % (42.5 of 72) that did within a year
        "complete_by_2": float(by2.events) / (float(year.value) * float(by2.total)),
        "log_k_sd": float(_record("rate_log_sd").value),
        "lag_log_sd": float(lag.value[1]),
        "lag_median": float(lag.value[0]),
        "decrease_fraction": float(_record("decrease").value),
        "complete_fraction": float(_record("complete_fraction").value),
        "partial_max": float(_record("partial_max").value),
    }


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
    fit = _fit_kinetics()
    used: list[dict[str, Any]] = []

    def get(role: str):
        rec = _record(role)
        used.append({"id": rec.id, "role": role, "confidence": rec.confidence.value,
                     "assumption": rec.assumption,
                     "citations": [dict(c) for c in rec.citations]})
        return rec

    for role in ("early_3", "complete_by_8", "complete_by_2", "complete_1y", "rate_log_sd",
                 "lag", "decrease", "complete_fraction", "partial_max", "halved_overall"):
        get(role)
    if morphology is None:
        p = _probability(get("regression_overall"))
        share_c = _probability(get("complete_overall")) / p
    else:
        p = _probability(get(f"regression_{morphology.value}"))
        if morphology in _CONTAINED:
            share_c = float(get("complete_share_contained").value)
        else:
            share_c = (_probability(get(f"complete_{morphology.value}"))
                       / _probability(get(f"any_{morphology.value}_chiu")))
    growth = get("growth_share_contained" if morphology in _CONTAINED
                 else "growth_share_uncontained")
    band = get("stable_band").value
    excess = get("growth_excess").value
    lag = _record("lag")
    t = _targets()
    return KineticPrior(
        morphology=None if morphology is None else morphology.value,
        regression_probability=p, complete_share=min(share_c, 1.0),
        growth_share=float(growth.value),
        log_k_mean=fit["log_k_mean"], log_k_sd=fit["log_k_sd"],
        lag_median_months=fit["lag_median_months"], lag_log_sd=float(lag.value[1]),
        partial_logit_mean=fit["partial_logit_mean"], partial_max=t["partial_max"],
        stable_band=(float(band[0]), float(band[1])),
        growth_excess_median=float(excess[0]), growth_excess_log_sd=float(excess[1]),
        decrease_fraction=t["decrease_fraction"], complete_fraction=t["complete_fraction"],
        sources=tuple(used))


# --------------------------------------------------------------------------- table


def calibration_table(seed: int = 0) -> list[dict[str, Any]]:
    """Each calibration target beside the prior's value (one MRI, no findings).

    Returns rows with ``quantity``, ``morphology``, ``target``, ``prior``,
    ``evidence_id`` and ``role`` (``fitted``: the prior was set to match it;
    ``check``: not used to set the prior).
    """
    from resorb.evidence import evidence_value

    rows: list[dict[str, Any]] = []

    def add(quantity, morph, target, value, evidence_id, role):
        rows.append({"quantity": quantity, "morphology": morph or "all",
                     "target": float(target), "prior": float(value),
                     "evidence_id": evidence_id, "role": role})

    overall = default_kinetic_prior(None)
    lat = draw_latent(overall, seed)
    pi = class_probabilities(overall.regression_probability, lat)
    w = pi[lat.cls] / lat.n_per_class

    def prob(kind, t, latent=lat, weights=w):
        return float(np.sum(weights * latent.event(kind, t)))

    add("regression by 12 months", None, overall.regression_probability,
        prob("regressed", 12.0), PRIOR_EVIDENCE_IDS["regression_overall"], "fitted")
    add(">= 50 % reduction by 12 months", None, _targets()["halved_overall"],
        prob("halved", 12.0), PRIOR_EVIDENCE_IDS["halved_overall"], "fitted")
    add("complete resolution by 24 months", None, _targets()["complete_overall"],
        prob("complete", 24.0), PRIOR_EVIDENCE_IDS["complete_overall"], "fitted")
    reg3 = prob("regressed", 3.0) / prob("regressed", 12.0)
    add("share of 12-month regressors regressed by 3 months", None, _targets()["early_3"],
        reg3, PRIOR_EVIDENCE_IDS["early_3"], "check")
    c12 = prob("complete", 12.0)
    add("share of 12-month disappearances gone by 8 months", None,
        _targets()["complete_by_8"], prob("complete", 8.0) / c12,
        PRIOR_EVIDENCE_IDS["complete_by_8"], "fitted")
    add("share of 12-month disappearances gone by 2 months", None,
        _targets()["complete_by_2"], prob("complete", 2.0) / c12,
        PRIOR_EVIDENCE_IDS["complete_by_2"], "fitted")
    for morph in HerniationMorphology:
        pr = default_kinetic_prior(morph)
        lat_m = draw_latent(pr, seed)
        w_m = class_probabilities(pr.regression_probability, lat_m)[lat_m.cls] / lat_m.n_per_class
        add("regression by 12 months", morph.value, pr.regression_probability,
            prob("regressed", 12.0, lat_m, w_m), PRIOR_EVIDENCE_IDS[f"regression_{morph.value}"],
            "fitted")
        chiu = evidence_value(f"regression_rate_{morph.value}_chiu2015")
        add("regression by 12 months (Chiu 2015)", morph.value, float(chiu.value),
            prob("regressed", 12.0, lat_m, w_m), chiu.id, "check")
        if morph not in _CONTAINED:
            rec = evidence_value(PRIOR_EVIDENCE_IDS[f"complete_{morph.value}"])
            add("complete resolution by 24 months", morph.value, float(rec.value),
                prob("complete", 24.0, lat_m, w_m), rec.id, "fitted")
        add("enlarged (>= 25 %) by 12 months", morph.value,
            evidence_value("growth_fraction_seo2016" if morph not in _CONTAINED
                           else "population_increase_8y_kjaer2016").value,
            prob("enlarged", 12.0, lat_m, w_m),
            "growth_fraction_seo2016" if morph not in _CONTAINED
            else "population_increase_8y_kjaer2016", "check")
    return rows
