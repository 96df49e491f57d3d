"""Result types of prognosis: what the estimate, the forecast and each factor hold.

Typed results flow up to the assessment; JSON appears only in ``to_dict()``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from resorb.imaging import DAYS_PER_MONTH

if TYPE_CHECKING:
    from resorb.prognosis._kinetics import KineticPrior

__all__ = [
    "BaselinePrior",
    "Factor",
    "ObservedChange",
    "OmittedFinding",
    "ResorptionEstimate",
    "VolumeForecast",
]


@dataclass(frozen=True, slots=True)
class BaselinePrior:
    """The morphology prior: pooled probability of regression within about 12 months."""

    morphology: str
    probability: float
    interval: tuple[float, float]
    interval_assumption: bool
    evidence_id: str
    source: Mapping[str, str]
    confidence: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "morphology": self.morphology,
            "probability": self.probability,
            "interval": list(self.interval),
            "interval_assumption": self.interval_assumption,
            "evidence_id": self.evidence_id,
            "source": dict(self.source),
            "confidence": self.confidence,
        }


@dataclass(frozen=True, slots=True)
class Factor:
    """One finding's contribution to the estimate.

    Attributes
    ----------
    name : str
        Finding (``"rim_enhancement"``).
    value : str
        Its level in the case (``"complete"``).
    effect : float
        Odds ratio applied to the odds of resorption (after shrinkage); > 1
        favours resorption, < 1 goes against it.
    direction : str
        ``"favours resorption"``, ``"against resorption"`` or ``"neutral"``.
    log_odds_contribution : float
        ``log(effect)``: what the factor adds to the log odds.
    source : dict
        Where the counts behind the factor come from: ``{"doi": ..., "pmid": ...}``,
        or, for a study without DOI/PMID, ``{"url": ..., "registration": ...,
        "registration_url": ...}``. :meth:`to_dict` keeps the DOI/PMID contract of
        the JSON output (see :meth:`json_source`).
    supporting : tuple of dict
        DOI/PMID of the further studies cited for the direction of the effect
        (they did not supply the counts).
    confidence : str
        Confidence tag of that evidence.
    weight : float
        1 unless shrunk as a correlated finding (see resorb.prognosis._factors).
    effect_interval : tuple of float
        2.5-97.5 % quantiles of the applied odds ratio over the Monte Carlo draws.
    """

    name: str
    value: str
    effect: float
    direction: str
    log_odds_contribution: float
    source: Mapping[str, str]
    confidence: str
    evidence_id: str
    weight: float = 1.0
    group: str = ""
    effect_interval: tuple[float, float] = (math.nan, math.nan)
    sources: tuple[Mapping[str, str], ...] = ()
    note: str = ""
    supporting: tuple[Mapping[str, str], ...] = ()

    def json_source(self) -> dict[str, Any]:
        """``source`` as the command-line contract gives it: always a DOI and/or PMID.

        When the counts come from a study without DOI/PMID, the DOI/PMID are
        those of the first study supporting the direction of the effect, the
        study that gave the counts is under ``counts_from`` and ``basis`` says so.
        """
        source = dict(self.source)
        if source.get("doi") or source.get("pmid") or not self.supporting:
            return source
        return {
            **dict(self.supporting[0]),
            "counts_from": source,
            "basis": "DOI/PMID of a study supporting the direction of the effect; the "
            "counts come from 'counts_from', which has no DOI/PMID",
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "effect": self.effect,
            "direction": self.direction,
            "log_odds_contribution": self.log_odds_contribution,
            "effect_interval": list(self.effect_interval),
            "weight": self.weight,
            "group": self.group,
            "source": self.json_source(),
            "sources": [dict(s) for s in self.sources],
            "supporting": [dict(s) for s in self.supporting],
            "confidence": self.confidence,
            "evidence_id": self.evidence_id,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class OmittedFinding:
    """A finding present in the case that does not enter the estimate, and why."""

    name: str
    value: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class ObservedChange:
    """The latest measured change of volume against the first MRI.

    Attributes
    ----------
    resorption_percent : float
        Signed, (V_first - V_latest) / V_first x 100; negative when it grew.
    grade : str
        Resorption grade (Zou 2023 thresholds).
    date : datetime.date
        Date of the latest MRI.
    beyond_measurement_error : bool
        ``|V_latest - V_first|`` exceeds the minimal detectable change of the pair.
    mdc_mm3 : float
        That minimal detectable change, mm3.
    v_first_mm3, v_latest_mm3 : float
        The two measured volumes.
    statement : str
        One sentence for the clinician (two when it grew again).
    regrowth_from_mm3, regrowth_from_date : float or None, datetime.date or None
        The smallest earlier follow-up volume and its date when the latest MRI
        exceeds it by more than the minimal detectable change of that pair:
        the herniation shrank and grew again (a recurrence or re-herniation),
        which the one-course model does not describe.
    """

    resorption_percent: float
    grade: str
    date: dt.date
    beyond_measurement_error: bool
    mdc_mm3: float
    v_first_mm3: float
    v_latest_mm3: float
    statement: str
    regrowth_from_mm3: float | None = None
    regrowth_from_date: dt.date | None = None

    @property
    def resorbed_beyond_error(self) -> bool:
        """Shrinkage of at least the partial grade, beyond measurement error."""
        return self.beyond_measurement_error and self.resorption_percent > 0

    @property
    def grown_beyond_error(self) -> bool:
        return self.beyond_measurement_error and self.resorption_percent < 0

    @property
    def regrown(self) -> bool:
        """Grew again, beyond measurement error, after shrinking on a follow-up MRI."""
        return self.regrowth_from_mm3 is not None

    def to_dict(self) -> dict[str, Any]:
        regrowth = (
            None
            if self.regrowth_from_mm3 is None
            else {
                "from_mm3": self.regrowth_from_mm3,
                "from_date": self.regrowth_from_date.isoformat()
                if self.regrowth_from_date
                else None,
            }
        )
        return {
            "resorption_percent": self.resorption_percent,
            "grade": self.grade,
            "date": self.date.isoformat(),
            "beyond_measurement_error": self.beyond_measurement_error,
            "mdc_mm3": self.mdc_mm3,
            "v_first_mm3": self.v_first_mm3,
            "v_latest_mm3": self.v_latest_mm3,
            "statement": self.statement,
            "regrowth": regrowth,
        }


@dataclass(frozen=True, slots=True)
class VolumeForecast:
    """Forecast of herniated volume after the first MRI, from the course mixture.

    The same weighted draws give the volumes, the probabilities and the
    resorption estimate of the case, so the three cannot disagree.

    Attributes
    ----------
    baseline_date : datetime.date
        Date of the first MRI (t = 0).
    n_mri : int
    prior_only : bool
        True with one MRI: the courses are the prior (updated by the findings).
    horizons_months : tuple of int
    volume_mean_mm3, volume_median_mm3 : tuple of float
    volume_interval_mm3 : tuple of (float, float)
        95 % interval of the true volume at each horizon.
    probability_50pct_by_12_months : float
        True volume at 12 months at most half the true baseline.
    probability_growth_by_12_months : float
        True volume at 12 months at least 1.25 x the baseline (graded enlarged).
    probability_complete_by_24_months : float
        Fragment no longer visible by 24 months (graded complete).
    course_probabilities : dict
        Probability of each course (complete, partial, stable, growth).
    growth_flagged : bool
        The latest measured volume exceeds the first by more than the MDC of the pair.
    growth_change_mm3, mdc_mm3 : float
    curve_months, curve_median_mm3, curve_lower_mm3, curve_upper_mm3 : tuple of float
    parameters : dict
        Posterior medians and 95 % intervals of k, half-life, residual fraction, lag, V0.
    prior : KineticPrior
    effective_sample_size : float
    n_draws : int
    seed : int
    observations : tuple of (float, float)
        (months after the first MRI, measured volume).
    measurement_sd_mm3 : tuple of float
        SD of each measurement under the error model.
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
    probability_growth_by_12_months: float
    probability_complete_by_24_months: float
    course_probabilities: Mapping[str, float]
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
    measurement_sd_mm3: tuple[float, ...] = ()
    error_model: Mapping[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def basis(self) -> str:
        """One sentence saying what the forecast rests on."""
        common = (
            "four courses (complete resolution, partial shrinkage, no change, growth) "
            "weighted by the probability of regression of this herniation and "
            "calibrated to pooled rates - our assumption"
        )
        if self.prior_only:
            return f"one MRI: the population prior alone ({common}), scaled to the measured volume"
        return (
            f"{self.n_mri} MRIs: {common}, updated with the measured volumes "
            "(measurement error relative to the size of the herniation)"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON view (units in the key names)."""
        points = []
        for i, months in enumerate(self.horizons_months):
            date = self.baseline_date + dt.timedelta(days=round(months * DAYS_PER_MONTH))
            points.append(
                {
                    "months_after_baseline": months,
                    "date": date.isoformat(),
                    "volume_mm3": self.volume_mean_mm3[i],
                    "median_mm3": self.volume_median_mm3[i],
                    "interval_mm3": list(self.volume_interval_mm3[i]),
                }
            )
        return {
            "basis": self.basis,
            "prior_only": self.prior_only,
            "n_mri": self.n_mri,
            "baseline_date": self.baseline_date.isoformat(),
            "model": "V(t) = V0 (f + (1 - f) exp(-k max(0, t - lag))); f by course: 0 "
            "(complete), below 0.8 (partial), 0.9-1.1 (no change), above 1.1 "
            "(growth); t in months after the first MRI",
            "interval_level": 0.95,
            "points": points,
            "probability_50pct_by_12_months": self.probability_50pct_by_12_months,
            "probability_growth_by_12_months": self.probability_growth_by_12_months,
            "probability_complete_by_24_months": self.probability_complete_by_24_months,
            "courses": dict(self.course_probabilities),
            "growth": {
                "flagged": self.growth_flagged,
                "change_mm3": self.growth_change_mm3,
                "mdc_mm3": self.mdc_mm3,
                "definition": "latest measured volume above the first by more than the "
                "minimal detectable change of the pair",
            },
            "parameters": {k: dict(v) for k, v in self.parameters.items()},
            "prior": self.prior.to_dict(),
            "measurement_error": dict(self.error_model),
            "observations": [
                {"months_after_baseline": t, "volume_mm3": v, "sd_mm3": s}
                for (t, v), s in zip(
                    self.observations,
                    self.measurement_sd_mm3 or (None,) * len(self.observations),
                    strict=True,
                )
            ],
            "curve": {
                "months": list(self.curve_months),
                "median_mm3": list(self.curve_median_mm3),
                "lower_mm3": list(self.curve_lower_mm3),
                "upper_mm3": list(self.curve_upper_mm3),
            },
            "method": (
                "prior draws"
                if self.prior_only
                else "importance weights of stratified prior draws (the baseline volume "
                "integrated analytically)"
            ),
            "effective_sample_size": self.effective_sample_size,
            "n_draws": self.n_draws,
            "seed": self.seed,
            "notes": list(self.notes),
        }


@dataclass(frozen=True, slots=True)
class ResorptionEstimate:
    """Probability of spontaneous regression of a herniation, with its provenance.

    ``probability`` is the plug-in estimate; ``interval`` the Monte Carlo
    interval at ``interval_level``. ``definition`` says what "resorbed" means
    and by when. ``baseline`` is the morphology prior and ``factors`` what each
    finding did to it; ``omitted`` lists findings that were present but not
    used, and ``warnings`` the caveats raised. With follow-up MRIs,
    ``probability`` is conditional on them: ``probability_before_mri`` is the
    estimate from the findings alone and ``observed`` the latest measured
    change. ``forecast`` (not part of ``to_dict``) is the volume forecast built
    from the same weighted draws.
    """

    probability: float
    interval: tuple[float, float]
    interval_level: float
    horizon_months: float
    definition: str
    factors: tuple[Factor, ...]
    baseline: BaselinePrior
    warnings: tuple[str, ...] = ()
    omitted: tuple[OmittedFinding, ...] = ()
    n_draws: int = 4000
    seed: int = 0
    allow_unverified: bool = False
    horizon_fraction: float = 1.0
    probability_before_mri: float | None = None
    interval_before_mri: tuple[float, float] | None = None
    observed: ObservedChange | None = None
    conditional_on_mri: bool = False
    forecast: VolumeForecast | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        lo, hi = self.interval
        if not (0.0 <= lo <= hi <= 1.0 and 0.0 <= self.probability <= 1.0):
            raise ValueError(f"inconsistent estimate {self.probability} {self.interval}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with the keys of the ``assess`` contract (``resorption``)."""
        return {
            "probability": self.probability,
            "interval": [self.interval[0], self.interval[1]],
            "interval_level": self.interval_level,
            "horizon_months": self.horizon_months,
            "definition": self.definition,
            "conditional_on_mri": self.conditional_on_mri,
            "probability_before_mri": self.probability_before_mri,
            "interval_before_mri": (
                None if self.interval_before_mri is None else list(self.interval_before_mri)
            ),
            "observed": None if self.observed is None else self.observed.to_dict(),
            "baseline": self.baseline.to_dict(),
            "factors": [f.to_dict() for f in self.factors],
            "omitted": [o.to_dict() for o in self.omitted],
            "warnings": list(self.warnings),
            "method": {
                "model": (
                    "morphology prior x likelihood ratios of findings, then the course "
                    "mixture conditioned on the measured volumes; Monte Carlo"
                ),
                "n_draws": self.n_draws,
                "seed": self.seed,
                "allow_unverified": self.allow_unverified,
                "horizon_fraction": self.horizon_fraction,
            },
        }
