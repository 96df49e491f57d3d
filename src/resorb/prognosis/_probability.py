"""Probability that a herniation resorbs: an explicit evidence-synthesis model.

The model is deliberately simple and fully traceable:

1. **Prior**: the pooled incidence of regression for the herniation's
   morphology (Zou et al. 2023, PMID 37559207), read as regression within about
   12 months; its interval is an assumption documented in
   ``resorb/evidence/data/incidence.yaml``.
2. **Update**: each finding present multiplies the prior odds by the odds ratio
   of its level against the source cohort as a whole, computed from published
   counts (``predictors.yaml``). This ratio is the finding's likelihood ratio,
   so a favourable level raises and an unfavourable level lowers the estimate,
   and a finding that is not recorded contributes nothing.
3. **Correlated findings** are not multiplied naively: PLL rupture and
   containment describe the same anatomy and enter once (never for a
   sequestration, which is uncontained by definition); within the group of
   fragment-biology findings (rim enhancement, T2 signal, Modic change) and the
   group of exposure findings (PLL/containment, migration) the strongest enters
   in full and each further one with weight ``correlated_predictor_shrinkage``
   (0.5, our assumption). Counts from a cohort that mixed all morphologies (the
   T2 counts of Splendiani 2004) partly restate the morphology already in the
   prior and also enter with that weight.
4. **Uncertainty**: Monte Carlo over the prior (logit-normal), every count
   (Jeffreys beta) and the time-course fractions; the point estimate is the
   plug-in value and the interval the 2.5-97.5 % quantiles of the draws.
5. **Horizon**: the 12-month probability is scaled to shorter horizons by the
   share of one-year resorbers that had resorbed by then (Hornung 2023,
   Ramos Amador 2013); beyond 12 months it is held at its 12-month value, with
   :class:`~resorb.errors.OutsideEvidenceRangeWarning`.

Findings whose effect size was never published (Modic change, symptom
duration, Komori migration, size) are left out unless ``allow_unverified=True``,
in which case labelled placeholder odds ratios are used with
:class:`~resorb.errors.LowEvidenceWarning`. Iwabuchi, MSU and Schizas codes
have no usable coding or counts and are never used.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from resorb.domain import Case
from resorb.domain.enums import (
    Containment,
    HerniationMorphology,
    KomoriType,
    ModicType,
    PLLIntegrity,
    RimEnhancement,
    T2Signal,
)
from resorb.errors import InvalidFindingError, InvalidInputError, OutsideEvidenceRangeWarning
from resorb.evidence import EvidenceValue, evidence_source, evidence_value, load_evidence
from resorb.imaging import DAYS_PER_MONTH

__all__ = [
    "BaselinePrior",
    "Factor",
    "OmittedFinding",
    "ResorptionEstimate",
    "resorption_probability",
]

_Z95 = 1.959963984540054
_HORIZON_MIN, _HORIZON_MAX = 1.0, 24.0

_PRIOR_IDS = {
    HerniationMorphology.SEQUESTRATION: "regression_rate_sequestration_zou2023",
    HerniationMorphology.EXTRUSION: "regression_rate_extrusion_zou2023",
    HerniationMorphology.PROTRUSION: "regression_rate_protrusion_zou2023",
    HerniationMorphology.BULGE: "regression_rate_bulge_zou2023",
}

#: Count-based factors: finding level -> (its evidence id, ids of every level of the cohort).
_RIM_COHORT = ("rim_complete_regression_bullseye2025", "rim_partial_regression_bullseye2025",
               "rim_none_regression_bullseye2025")
_RIM_LEVELS = {
    RimEnhancement.COMPLETE: _RIM_COHORT[0],
    RimEnhancement.PARTIAL: _RIM_COHORT[1],
    RimEnhancement.NONE: _RIM_COHORT[2],
}
_RIM_WEIGHT_ID = "rim_enhancement_evidence_weight"
_PLL_COHORT = ("pll_ruptured_regression_ahn2000", "pll_intact_regression_ahn2000")
_T2_COHORT = ("t2_high_regression_splendiani2004", "t2_not_high_regression_splendiani2004")
#: Counts from cohorts that mixed all morphologies: part of their effect is the morphology
#: that the prior already holds, so they enter with the shrinkage weight.
_MIXED_MORPHOLOGY_COHORTS = frozenset(_T2_COHORT)


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
        return {"morphology": self.morphology, "probability": self.probability,
                "interval": list(self.interval), "interval_assumption": self.interval_assumption,
                "evidence_id": self.evidence_id, "source": dict(self.source),
                "confidence": self.confidence}


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
        1 unless shrunk as a correlated finding (see module docstring).
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
        return {**dict(self.supporting[0]), "counts_from": source,
                "basis": "DOI/PMID of a study supporting the direction of the effect; the "
                         "counts come from 'counts_from', which has no DOI/PMID"}

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "effect": self.effect,
                "direction": self.direction,
                "log_odds_contribution": self.log_odds_contribution,
                "effect_interval": list(self.effect_interval), "weight": self.weight,
                "group": self.group, "source": self.json_source(),
                "sources": [dict(s) for s in self.sources],
                "supporting": [dict(s) for s in self.supporting],
                "confidence": self.confidence, "evidence_id": self.evidence_id,
                "note": self.note}


@dataclass(frozen=True, slots=True)
class OmittedFinding:
    """A finding present in the case that does not enter the estimate, and why."""

    name: str
    value: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class ResorptionEstimate:
    """Probability of spontaneous regression of a herniation, with its provenance.

    ``probability`` is the plug-in estimate; ``interval`` the Monte Carlo
    interval at ``interval_level``. ``definition`` says what "resorbed" means
    and by when. ``baseline`` is the morphology prior and ``factors`` what each
    finding did to it; ``omitted`` lists findings that were present but not
    used, and ``warnings`` the caveats raised.
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
            "baseline": self.baseline.to_dict(),
            "factors": [f.to_dict() for f in self.factors],
            "omitted": [o.to_dict() for o in self.omitted],
            "warnings": list(self.warnings),
            "method": {
                "model": "morphology prior x likelihood ratios of findings, Monte Carlo",
                "n_draws": self.n_draws, "seed": self.seed,
                "allow_unverified": self.allow_unverified,
                "horizon_fraction": self.horizon_fraction,
            },
        }


# --------------------------------------------------------------------------- helpers


def _logit(p: np.ndarray | float) -> np.ndarray | float:
    return np.log(p) - np.log1p(-p)


def _expit(x: np.ndarray | float) -> np.ndarray | float:
    return 1.0 / (1.0 + np.exp(-x))


def _primary_citation(value: EvidenceValue) -> dict[str, str]:
    return dict(value.citations[0]) if value.citations else {}


def _counts_and_supporting(value: EvidenceValue) -> tuple[dict[str, str],
                                                          tuple[dict[str, str], ...]]:
    """The citation of the study that gave the counts, and those cited for the direction.

    By convention the first source of a count record supplied the counts. When
    it has no DOI/PMID, its URL and trial registration are the factor's
    ``source`` and every DOI/PMID of the record is ``supporting``.
    """
    first = evidence_source(value.sources[0]) if value.sources else None
    if first is not None and not (first.doi or first.pmid):
        return dict(first.citation), tuple(dict(c) for c in value.citations)
    cites = tuple(dict(c) for c in value.citations)
    return (dict(cites[0]) if cites else {}), cites[1:]


def _provenance_note(value: EvidenceValue) -> str:
    missing = []
    for sid in value.sources:
        src = evidence_source(sid)
        if not (src.doi or src.pmid):
            missing.append(f"source {src.id!r} ({src.journal})")
    if not missing:
        return ""
    return (f"counts from {', '.join(missing)} (no DOI/PMID found; 'source' gives where it "
            "was read and its registration); 'supporting' gives the DOI/PMID of the studies "
            f"cited for the direction of the effect ({value.id})")


@dataclass
class _Candidate:
    """A factor before shrinkage: plug-in log OR and its Monte Carlo draws."""

    name: str
    value: str
    group: str
    log_or: float
    draws: np.ndarray
    evidence: EvidenceValue
    weight: float = 1.0


def _beta_draws(v: EvidenceValue, rng: np.random.Generator, n: int) -> np.ndarray:
    e, t = v.events, v.total
    return rng.beta(e + 0.5, t - e + 0.5, size=n)


def _odds(p: np.ndarray | float) -> np.ndarray | float:
    return p / (1.0 - p)


def _level_vs_cohort(level_id: str, cohort_ids: Sequence[str], rng: np.random.Generator,
                     n: int) -> tuple[float, np.ndarray, EvidenceValue]:
    """log odds ratio of one level against its whole cohort: plug-in and draws.

    Plug-in uses the Haldane-Anscombe +0.5 in each cell; draws use Jeffreys
    beta posteriors per level, combined into the cohort rate by level size.
    """
    values = [evidence_value(i) for i in cohort_ids]
    level = evidence_value(level_id)
    total = sum(v.total for v in values)
    events = sum(v.events for v in values)
    plug = (math.log((level.events + 0.5) / (level.total - level.events + 0.5))
            - math.log((events + 0.5) / (total - events + 0.5)))
    per_level = {v.id: _beta_draws(v, rng, n) for v in values}
    cohort = sum(per_level[v.id] * (v.total / total) for v in values)
    draws = np.log(_odds(per_level[level_id])) - np.log(_odds(cohort))
    return plug, draws, level


def _placeholder(value_id: str, rng: np.random.Generator, n: int,
                 power: float = 1.0) -> tuple[float, np.ndarray, EvidenceValue]:
    """Placeholder OR (unverified): 95 % of draws between no effect and OR squared."""
    v = evidence_value(value_id, allow_unverified=True)
    log_or = power * math.log(float(v.value))
    sd = abs(log_or) / _Z95
    return log_or, rng.normal(log_or, sd, size=n), v


class _Collector:
    def __init__(self) -> None:
        self.candidates: list[_Candidate] = []
        self.omitted: list[OmittedFinding] = []
        self.warnings: list[str] = []

    def omit(self, name: str, value: object, reason: str) -> None:
        self.omitted.append(OmittedFinding(name, _label(value), reason))

    def outside(self, name: str, value: object, message: str) -> None:
        text = f"{name}={_label(value)}: {message}"
        warnings.warn(text, OutsideEvidenceRangeWarning, stacklevel=4)
        self.warnings.append(text)
        self.omitted.append(OmittedFinding(name, _label(value), message))


def _label(value: object) -> str:
    if hasattr(value, "value"):
        return str(value.value)
    return str(value)


# --------------------------------------------------------------------------- factors


def _exposure_factor(case: Case, col: _Collector, rng: np.random.Generator, n: int) -> None:
    h = case.herniation
    morph = h.morphology
    pll, cont = h.pll, h.containment
    if pll is None and cont is None:
        return
    # Which finding carries the exposure evidence; the other is a duplicate.
    if pll is not None:
        ruptured = pll is PLLIntegrity.RUPTURED
        name, level = "pll", pll
        if cont is not None:
            consistent = (cont is Containment.UNCONTAINED) == ruptured
            col.omit("containment", cont,
                     "describes the same anatomy as the PLL finding, which is used instead"
                     + ("" if consistent else " (the two findings disagree; PLL taken)"))
    else:
        ruptured = cont is Containment.UNCONTAINED
        name, level = "containment", cont
    if morph is HerniationMorphology.SEQUESTRATION:
        col.omit(name, level, "a sequestration is uncontained by definition; already in the "
                              "morphology prior")
        return
    if morph is HerniationMorphology.EXTRUSION:
        level_id = _PLL_COHORT[0] if ruptured else _PLL_COHORT[1]
        plug, draws, ev = _level_vs_cohort(level_id, _PLL_COHORT, rng, n)
        col.candidates.append(_Candidate(name, _label(level), "exposure", plug, draws, ev))
        return
    if not ruptured:
        col.omit(name, level, f"a {morph.value} is contained by definition; already in the "
                              "morphology prior")
        return
    col.outside(name, level, f"PLL rupture / uncontained {morph.value}: the counts behind "
                             "this factor (Ahn 2000) are for extrusions; not applied")


def _rim_factor(case: Case, col: _Collector, rng: np.random.Generator, n: int) -> None:
    h = case.herniation
    rim = h.rim_enhancement
    if rim is None:
        return
    if h.morphology in (HerniationMorphology.BULGE, HerniationMorphology.PROTRUSION):
        col.outside("rim_enhancement", rim,
                    f"rim enhancement on a {h.morphology.value}: the bull's-eye cohort was "
                    "ruptured (extruded or sequestered) herniations; not applied")
        return
    if h.pll is PLLIntegrity.INTACT or (h.pll is None and h.containment is Containment.CONTAINED):
        col.outside("rim_enhancement", rim,
                    "rim enhancement on a contained (PLL-intact) herniation: the bull's-eye "
                    "cohort was ruptured herniations; not applied")
        return
    plug, draws, ev = _level_vs_cohort(_RIM_LEVELS[rim], _RIM_COHORT, rng, n)
    # One registration-only cohort, a zero cell, and a cohort (Ramos Amador 2013) in which
    # the pattern did not predict disappearance: the size is damped (evidence record).
    w = float(evidence_value(_RIM_WEIGHT_ID).value)
    col.candidates.append(_Candidate("rim_enhancement", rim.value, "fragment", w * plug,
                                     w * draws, ev))


def _t2_factor(case: Case, col: _Collector, rng: np.random.Generator, n: int) -> None:
    h = case.herniation
    t2 = h.t2_signal
    if t2 is None:
        return
    if h.morphology is HerniationMorphology.BULGE:
        col.outside("t2_signal", t2, "a bulge is not a herniation; the T2 counts (Splendiani "
                                     "2004) are for herniations; not applied")
        return
    level_id = _T2_COHORT[0] if t2 is T2Signal.HIGH else _T2_COHORT[1]
    plug, draws, ev = _level_vs_cohort(level_id, _T2_COHORT, rng, n)
    col.candidates.append(_Candidate("t2_signal", t2.value, "fragment", plug, draws, ev))


def _symptom_duration_months(case: Case) -> float | None:
    onset = case.symptoms.onset_date
    if onset is None or not case.mri:
        return None
    return (case.mri[0].date - onset).days / DAYS_PER_MONTH


def _parameter(value_id: str, name: str) -> float:
    """A defining parameter (cut-off, weight) of a record, read without using its value.

    Reading a threshold only decides whether a finding is present; it does not
    use the (possibly unverified) number itself, so it raises no warning.
    """
    return float(load_evidence().values[value_id].parameters[name])


_DURATION_ID = "symptom_duration_over_1y_or_placeholder"
_KOMORI_ID = "komori_type3_or_placeholder"
_MASSIVE_ID = "massive_herniation_or_placeholder"


def _unverified_factors(case: Case, col: _Collector, rng: np.random.Generator, n: int,
                        allow: bool) -> None:
    h = case.herniation
    found: list[tuple[str, str, str, str, float]] = []  # name, value, group, id, power
    if h.modic is not None and h.modic is not ModicType.TYPE_0:
        found.append(("modic", str(int(h.modic)), "fragment", "modic_change_or_placeholder", 1))
    months = _symptom_duration_months(case)
    if months is not None and months > _parameter(_DURATION_ID, "threshold_months"):
        found.append(("symptom_duration_months", f"{months:.1f}", "clinical", _DURATION_ID, 1))
    if h.komori is not None and h.komori is not KomoriType.TYPE_1:
        power = (1.0 if h.komori is KomoriType.TYPE_3
                 else _parameter(_KOMORI_ID, "type2_log_or_weight"))
        found.append(("komori", str(int(h.komori)), "exposure", _KOMORI_ID, power))
    if (h.canal_compromise_percent is not None and h.canal_compromise_percent
            >= _parameter(_MASSIVE_ID, "threshold_canal_percent")):
        found.append(("canal_compromise_percent", f"{h.canal_compromise_percent:g}", "size",
                      _MASSIVE_ID, 1))
    for name, value, group, vid, power in found:
        if not allow:
            col.omit(name, value, "direction known but no published counts or odds ratio "
                                  f"({vid} is an unverified placeholder); pass "
                                  "allow_unverified=True to use it")
            continue
        if h.morphology is HerniationMorphology.BULGE:
            col.outside(name, value, "a bulge is not a herniation; not applied")
            continue
        plug, draws, ev = _placeholder(vid, rng, n, power)
        col.candidates.append(_Candidate(name, value, group, plug, draws, ev))
        col.warnings.append(f"{name}={value}: placeholder odds ratio {math.exp(plug):.2g} "
                            f"({vid}, unverified)")
    for name, code, why in (
        ("iwabuchi", h.iwabuchi, "type definitions unverified; no counts"),
        ("msu", h.msu, "Suzhou 2018 coding unverified; no counts"),
        ("schizas", h.schizas, "Suzhou 2018 coding unverified; no counts"),
    ):
        if code is not None:
            col.omit(name, code, why)


def _therapy_notes(case: Case, col: _Collector) -> None:
    """Therapies never enter the estimate: none has been shown to change resorption."""
    if not case.therapies:
        return
    from resorb.therapy import get_therapy

    for course in case.therapies:
        try:
            therapy = get_therapy(course.name)
        except InvalidInputError:
            col.omit("therapy", course.name, "not in the therapy catalogue")
            continue
        col.omit("therapy", therapy.id,
                 "therapies do not enter the estimate: no controlled study has shown a "
                 "conservative therapy to change resorption (catalogue evidence on "
                 f"resorption: {therapy.resorption_evidence_summary})")


def _check_age(case: Case, col: _Collector) -> None:
    age = case.patient.age_years
    if age is None:
        return
    lo, hi = evidence_value("cohort_age_range_years").value
    if not lo <= age <= hi:
        text = (f"patient.age_years={age}: outside the ages of the cohorts behind the "
                f"estimate ({lo:g}-{hi:g} years)")
        warnings.warn(text, OutsideEvidenceRangeWarning, stacklevel=3)
        col.warnings.append(text)


def _shrink(candidates: list[_Candidate]) -> None:
    lam = float(evidence_value("correlated_predictor_shrinkage").value)
    groups: dict[str, list[_Candidate]] = {}
    for c in candidates:
        if c.evidence.id in _MIXED_MORPHOLOGY_COHORTS:
            c.weight = lam
        groups.setdefault(c.group, []).append(c)
    for members in groups.values():
        members.sort(key=lambda c: abs(c.weight * c.log_or), reverse=True)
        for c in members[1:]:
            c.weight *= lam


# --------------------------------------------------------------------------- horizon


def _horizon_fraction(horizon: float, rng: np.random.Generator,
                      n: int) -> tuple[float, np.ndarray, list[str]]:
    """Share of 12-month resorbers that have resorbed by ``horizon`` months.

    Knots at 0, at the time points of the two fractions and at the month by
    which they count resorbers (3, 8 and 12 months, read from the records'
    ``parameters``).
    """
    f3 = evidence_value("early_resorption_fraction_hornung2023")
    f8 = evidence_value("disappeared_by_8_months_fraction_ramos_amador2013")
    year = f8.parameters["of_resorbers_by_months"]
    if f3.parameters["of_resorbers_by_months"] != year:  # pragma: no cover - data guard
        raise ValueError("the two time-course fractions count resorbers by different months")
    if horizon >= year:
        return 1.0, np.ones(n), []
    knots_t = np.array([0.0, f3.parameters["at_months"], f8.parameters["at_months"], year])

    def at_horizon(a3: np.ndarray | float, a8: np.ndarray | float) -> np.ndarray:
        # Piecewise-linear share through (0, 0), (3, a3), (8, a8), (12, 1); a8 >= a3.
        a8 = np.maximum(a8, a3)
        knots = np.stack(np.broadcast_arrays(np.zeros_like(a8), a3, a8, np.ones_like(a8)),
                         axis=-1)
        k = int(np.searchsorted(knots_t, horizon, side="right")) - 1
        w = (horizon - knots_t[k]) / (knots_t[k + 1] - knots_t[k])
        return knots[..., k] * (1.0 - w) + knots[..., k + 1] * w

    point = float(at_horizon(np.float64(f3.value), np.float64(f8.value)))
    draws = at_horizon(_beta_draws(f3, rng, n), _beta_draws(f8, rng, n))
    note = (f"horizon {horizon:g} months: the 12-month probability is scaled by the share of "
            f"one-year resorbers that had resorbed by then ({point:.2f}; Hornung 2023, "
            "Ramos Amador 2013) - an approximation")
    return point, draws, [note]


# --------------------------------------------------------------------------- main


def resorption_probability(case: Case, *, horizon_months: float = 12, n_draws: int = 4000,
                           seed: int = 0, allow_unverified: bool = False) -> ResorptionEstimate:
    """Probability that the herniation regresses within ``horizon_months``.

    Parameters
    ----------
    case : Case
        Only ``herniation`` findings, ``patient.age_years`` (range check) and the
        symptom onset relative to the first MRI are used.
    horizon_months : float, default 12
        1-24 months; beyond 12 the 12-month value is held (with a warning).
    n_draws : int, default 4000
        Monte Carlo draws for the interval (>= 200).
    seed : int, default 0
        Seed of the random generator: the same inputs give the same interval.
    allow_unverified : bool, default False
        Also use the placeholder odds ratios of findings whose effect size was
        never published (Modic change, symptom duration > 1 year, Komori type,
        canal compromise >= 50 %); issues ``LowEvidenceWarning``.

    Returns
    -------
    ResorptionEstimate

    Warns
    -----
    OutsideEvidenceRangeWarning
        A finding or age outside the cohorts behind an effect, or a horizon
        beyond 12 months.

    References
    ----------
    Zou T et al. Clin Spine Surg 2024;37(6):256-269. doi:10.1097/BSD.0000000000001490.
    Wang Y et al. BMC Musculoskelet Disord 2020;21:530. doi:10.1186/s12891-020-03548-z.
    Ahn SH et al. Spine 2000;25(4):475-80. Splendiani A et al. Neuroradiology
    2004;46:916-22. doi:10.1007/s00234-004-1232-0.

    Examples
    --------
    >>> from resorb.domain import Case
    >>> case = Case.from_dict({"herniation": {"level": "L5-S1", "morphology": "extrusion"}})
    >>> round(resorption_probability(case).probability, 4)
    0.6691
    """
    if not isinstance(case, Case):
        raise InvalidInputError("case", f"expected a Case, got {type(case).__name__}",
                                allowed="resorb.domain.Case (e.g. Case.from_file(path))")
    if not _HORIZON_MIN <= horizon_months <= _HORIZON_MAX:
        raise InvalidInputError("horizon_months", f"{horizon_months} is out of range",
                                allowed=f"{_HORIZON_MIN:g}-{_HORIZON_MAX:g} months")
    if int(n_draws) != n_draws or n_draws < 200:
        raise InvalidInputError("n_draws", f"{n_draws}", allowed="an integer >= 200")
    n = int(n_draws)
    rng = np.random.default_rng(seed)

    morph = case.herniation.morphology
    if morph not in _PRIOR_IDS:  # pragma: no cover - every scale member has a pooled rate
        raise InvalidFindingError("herniation.morphology", f"no pooled rate for {morph.value}",
                                  allowed=", ".join(m.value for m in _PRIOR_IDS))
    prior = evidence_value(_PRIOR_IDS[morph])
    p0 = float(prior.value)
    half_width = max(abs(_logit(prior.upper) - _logit(p0)), abs(_logit(p0) - _logit(prior.lower)))
    prior_draws = rng.normal(_logit(p0), half_width / _Z95, size=n)

    col = _Collector()
    _check_age(case, col)
    _exposure_factor(case, col, rng, n)
    _rim_factor(case, col, rng, n)
    _t2_factor(case, col, rng, n)
    _unverified_factors(case, col, rng, n, allow_unverified)
    _therapy_notes(case, col)
    _shrink(col.candidates)

    logit_point = float(_logit(p0))
    logit_draws = prior_draws.copy()
    factors = []
    for c in col.candidates:
        contrib = c.weight * c.log_or
        contrib_draws = c.weight * c.draws
        logit_point += contrib
        logit_draws += contrib_draws
        lo, hi = np.quantile(np.exp(contrib_draws), [0.025, 0.975])
        effect = math.exp(contrib)
        direction = ("favours resorption" if effect > 1.0 + 1e-9 else
                     "against resorption" if effect < 1.0 - 1e-9 else "neutral")
        counts_source, supporting = _counts_and_supporting(c.evidence)
        factors.append(Factor(
            name=c.name, value=c.value, effect=effect, direction=direction,
            log_odds_contribution=contrib, source=counts_source, supporting=supporting,
            confidence=c.evidence.confidence.value, evidence_id=c.evidence.id,
            weight=c.weight, group=c.group, effect_interval=(float(lo), float(hi)),
            sources=tuple(dict(s) for s in c.evidence.citations),
            note=_provenance_note(c.evidence)))

    p12 = float(_expit(logit_point))
    p12_draws = _expit(logit_draws)
    frac_point, frac_draws, notes = _horizon_fraction(float(horizon_months), rng, n)
    col.warnings.extend(notes)
    if horizon_months > 12:
        text = (f"horizon_months={horizon_months:g}: the pooled rates refer to about 12 "
                "months; the 12-month estimate is given (resorption can continue later, so "
                "read it as a lower bound)")
        warnings.warn(text, OutsideEvidenceRangeWarning, stacklevel=2)
        col.warnings.append(text)
    probability = p12 * frac_point
    draws = p12_draws * frac_draws
    lo, hi = (float(x) for x in np.quantile(draws, [0.025, 0.975]))

    baseline = BaselinePrior(
        morphology=morph.value, probability=p0,
        interval=(float(prior.lower), float(prior.upper)),
        interval_assumption=prior.interval_assumption, evidence_id=prior.id,
        source=_primary_citation(prior), confidence=prior.confidence.value)
    within = (f"within {horizon_months:g} months" if horizon_months <= 12 else
              f"within 12 months (asked: {horizon_months:g}; no pooled data beyond 12 months)")
    definition = (
        f"Probability that the herniation regresses (any measurable decrease in size on "
        f"follow-up MRI, as defined by the pooled studies) {within} "
        "of conservative care. Prior: pooled incidence for the morphology (Zou 2023), read as "
        "regression within about 12 months; updated by the likelihood ratio of each recorded "
        "finding derived from published counts. Interval: 95 % Monte Carlo interval over the "
        "uncertainty of every input.")
    return ResorptionEstimate(
        probability=probability, interval=(lo, hi), interval_level=0.95,
        horizon_months=float(horizon_months), definition=definition, factors=tuple(factors),
        baseline=baseline, warnings=tuple(col.warnings), omitted=tuple(col.omitted),
        n_draws=n, seed=seed, allow_unverified=allow_unverified,
        horizon_fraction=frac_point)

