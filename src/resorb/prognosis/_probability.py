"""Probability that a herniation resorbs: evidence synthesis, then the patient's MRIs.

1. **Prior**: the pooled incidence of regression for the herniation's
   morphology (Zou et al. 2023, PMID 37559207), read as regression within
   about 12 months; its interval is an assumption documented in
   ``resorb/evidence/data/incidence.yaml``.
2. **Findings**: each recorded finding multiplies the prior odds by its
   likelihood ratio, dependent findings combined as one construct
   (:mod:`resorb.prognosis._factors`).
3. **Courses and MRIs**: the resulting probability of regression sets the
   weights of four courses (complete resolution, partial shrinkage, no change,
   growth; :mod:`resorb.prognosis._kinetics`). With follow-up MRIs the courses
   are reweighted by the measured volumes (:mod:`resorb.prognosis._posterior`):
   the probability is then the probability *given everything measured*;
   shrinkage beyond measurement error raises it, growth lowers it. The
   forecast of volumes comes from the same weighted draws
   (``ResorptionEstimate.forecast``).
4. **Uncertainty**: Monte Carlo over the prior (logit-normal) and every
   count; the point estimate is the plug-in value and the interval the
   2.5-97.5 % quantiles.
5. **Horizon**: from the course kinetics (calibrated to the time-course
   fractions of Ramos Amador 2013); beyond 12 months the pooled rates give no
   direct check, and a warning says so.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Sequence

import numpy as np

from resorb.domain import Case
from resorb.domain.enums import HerniationMorphology
from resorb.errors import InvalidFindingError, InvalidInputError, OutsideEvidenceRangeWarning
from resorb.evidence import evidence_value
from resorb.imaging import volume_error_model
from resorb.prognosis._factors import _expit, _logit, _primary_citation, collect_factors
from resorb.prognosis._forecast import (
    _as_months,
    condition,
    forecast_from_posterior,
    observed_change,
)
from resorb.prognosis._kinetics import class_probabilities, default_kinetic_prior, draw_latent
from resorb.prognosis._types import BaselinePrior, ResorptionEstimate

__all__ = ["resorption_probability"]

_Z95 = 1.959963984540054
_HORIZON_MIN, _HORIZON_MAX = 1.0, 24.0

_PRIOR_IDS = {
    HerniationMorphology.SEQUESTRATION: "regression_rate_sequestration_zou2023",
    HerniationMorphology.EXTRUSION: "regression_rate_extrusion_zou2023",
    HerniationMorphology.PROTRUSION: "regression_rate_protrusion_zou2023",
    HerniationMorphology.BULGE: "regression_rate_bulge_zou2023",
}


def _measured_volumes(case: Case) -> list[float]:
    from resorb.imaging import measure_study

    return [measure_study(s).volume_mm3 for s in case.mri]


def resorption_probability(
    case: Case,
    *,
    horizon_months: float = 12,
    n_draws: int = 4000,
    seed: int = 0,
    allow_unverified: bool = False,
    volumes_mm3: Sequence[float] | None = None,
    readers: str = "two",
) -> ResorptionEstimate:
    """Probability that the herniation regresses within ``horizon_months`` of the first MRI.

    Parameters
    ----------
    case : Case
        Herniation findings, ``patient.age_years`` (range check), the symptom
        onset and the MRIs (dates and volumes).
    horizon_months : float, default 12
        1-24 months after the first MRI.
    n_draws : int, default 4000
        Monte Carlo draws for the interval (>= 200).
    seed : int, default 0
        Seed of the random generator: the same inputs give the same result.
    allow_unverified : bool, default False
        Also use the placeholder odds ratios of findings whose effect size was
        never published (symptom duration > 1 year, Komori type, canal
        compromise >= 50 %); issues ``LowEvidenceWarning``.
    volumes_mm3 : sequence of float, optional
        Measured volume of each MRI of the case (default: measured here).
    readers : {"two", "same"}
        Who measured the volumes (measurement error).

    Returns
    -------
    ResorptionEstimate
        With follow-up MRIs, conditional on them (``observed`` holds the latest
        measured change); ``forecast`` holds the volume forecast of the same
        model when the case has an MRI.

    Warns
    -----
    OutsideEvidenceRangeWarning
        A finding or age outside the cohorts behind an effect, or a horizon
        beyond 12 months.

    Examples
    --------
    >>> from resorb.domain import Case
    >>> case = Case.from_dict({"herniation": {"level": "L5-S1", "morphology": "extrusion"}})
    >>> round(resorption_probability(case).probability, 4)
    0.6691
    """
    if not isinstance(case, Case):
        raise InvalidInputError(
            "case",
            f"expected a Case, got {type(case).__name__}",
            allowed="resorb.domain.Case (e.g. Case.from_file(path))",
        )
    if not _HORIZON_MIN <= horizon_months <= _HORIZON_MAX:
        raise InvalidInputError(
            "horizon_months",
            f"{horizon_months} is out of range",
            allowed=f"{_HORIZON_MIN:g}-{_HORIZON_MAX:g} months",
        )
    if int(n_draws) != n_draws or n_draws < 200:
        raise InvalidInputError("n_draws", f"{n_draws}", allowed="an integer >= 200")
    n = int(n_draws)
    rng = np.random.default_rng(seed)

    morph = case.herniation.morphology
    if morph not in _PRIOR_IDS:  # pragma: no cover - every scale member has a pooled rate
        raise InvalidFindingError(
            "herniation.morphology",
            f"no pooled rate for {morph.value}",
            allowed=", ".join(m.value for m in _PRIOR_IDS),
        )
    prior = evidence_value(_PRIOR_IDS[morph])
    p0 = float(prior.value)
    half_width = max(abs(_logit(prior.upper) - _logit(p0)), abs(_logit(p0) - _logit(prior.lower)))
    prior_draws = rng.normal(_logit(p0), half_width / _Z95, size=n)

    col = collect_factors(case, rng, n, seed=seed, allow_unverified=allow_unverified)
    notes = list(col.warnings)
    p12 = float(_expit(_logit(p0) + col.log_odds))
    p12_draws = _expit(prior_draws + col.log_odds_draws)

    # ---- the course mixture, conditioned on the MRIs when there are volumes
    kprior = default_kinetic_prior(morph)
    dates: list[dt.date] = [s.date for s in case.mri]
    volumes = (
        list(volumes_mm3)
        if volumes_mm3 is not None
        else (_measured_volumes(case) if case.mri else [])
    )
    if len(volumes) != len(dates):
        raise InvalidInputError(
            "volumes_mm3",
            f"{len(volumes)} volumes for {len(dates)} MRIs",
            allowed="one volume per MRI of the case",
        )
    em = volume_error_model(readers)
    usable = bool(volumes) and volumes[0] > 0
    if usable:
        latent, post, fc_notes = condition(
            kprior, _as_months(dates), np.asarray(volumes, float), em, p12, seed
        )
    else:
        latent = draw_latent(kprior, seed)
        post = None
        fc_notes = []
        if volumes:
            notes.append(
                "the first MRI has no measurable herniation volume: the estimate "
                "does not use the MRIs"
            )
    pi = class_probabilities(p12, latent)
    pi_draws = class_probabilities(p12_draws, latent)
    horizon = float(horizon_months)
    event = latent.event("regressed", horizon)
    q_event = latent.class_means(event.astype(float))
    before = float(pi @ q_event)
    before_draws = pi_draws @ q_event
    q12 = latent.q_regressed_12
    frac = before / float(pi @ q12) if float(pi @ q12) > 0 else 1.0
    conditional = post is not None and post.n_mri > 1
    if conditional:
        probability = post.probability(event, pi)
        draws = post.probability(event, pi_draws)
    else:
        probability, draws = before, before_draws
    lo, hi = (float(x) for x in np.quantile(draws, [0.025, 0.975]))
    lo, hi = min(lo, probability), max(hi, probability)
    blo, bhi = (float(x) for x in np.quantile(before_draws, [0.025, 0.975]))
    observed = observed_change(dates, volumes, readers=readers) if conditional else None
    if horizon_months > 12:
        text = (
            f"horizon of {horizon_months:g} months: the pooled rates refer to about 12 "
            "months; beyond that the estimate rests on the modelled course alone"
        )
        warnings.warn(text, OutsideEvidenceRangeWarning, stacklevel=2)
        notes.append(text)
    elif horizon_months < 12:
        notes.append(
            f"horizon {horizon_months:g} months: the 12-month probability is carried "
            f"to {horizon_months:g} months by the modelled course ({frac:.2f} of "
            "one-year regressors; calibrated to Ramos Amador 2013). Hornung 2023 "
            "found fewer early resorbers (23 of 90 by 3 months), so a short horizon "
            "may be overstated"
        )
    forecast = None
    if post is not None:
        forecast = forecast_from_posterior(post, pi, dates, em, seed=seed, notes=fc_notes)

    baseline = BaselinePrior(
        morphology=morph.value,
        probability=p0,
        interval=(float(prior.lower), float(prior.upper)),
        interval_assumption=prior.interval_assumption,
        evidence_id=prior.id,
        source=_primary_citation(prior),
        confidence=prior.confidence.value,
    )
    decrease = 100 * (1 - kprior.decrease_fraction)
    definition = (
        f"Probability that the herniation regresses (any measurable decrease in size, taken "
        f"as a true decrease of at least {decrease:.0f} %) within {horizon_months:g} months "
        "of the first MRI under conservative care. Prior: pooled incidence for the "
        "morphology (Zou 2023), updated by the likelihood ratio of each recorded finding"
    )
    definition += (
        "; then conditioned on the volumes measured on the follow-up MRIs "
        "(measurement error relative to the size of the herniation)."
        if conditional
        else "."
    )
    definition += " Interval: 95 % Monte Carlo interval over the uncertainty of the inputs."
    return ResorptionEstimate(
        probability=float(probability),
        interval=(lo, hi),
        interval_level=0.95,
        horizon_months=horizon,
        definition=definition,
        factors=col.factors,
        baseline=baseline,
        warnings=tuple(notes),
        omitted=col.omitted,
        n_draws=n,
        seed=seed,
        allow_unverified=allow_unverified,
        horizon_fraction=frac,
        probability_before_mri=before,
        interval_before_mri=(min(blo, before), max(bhi, before)),
        observed=observed,
        conditional_on_mri=conditional,
        forecast=forecast,
    )
