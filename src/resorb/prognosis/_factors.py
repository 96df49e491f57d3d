"""Probability factors: what each recorded finding does to the odds of regression.

Each finding level enters as its odds ratio against the source cohort as a
whole, computed from published counts or derived from published means
(``predictors.yaml``); this ratio is the finding's likelihood ratio.

Dependent findings are combined as such:

* **Exposure construct** (PLL rupture / containment, rim enhancement, Komori
  migration): the rim is the vascular response to the exposed fragment and
  PLL rupture is what exposes it, so they describe one construct. Within the
  construct the strongest factor enters in full and each further one with
  weight ``correlated_predictor_shrinkage`` (0.5, our assumption).
* **Fragment biology** (T2 signal, Modic change): likewise.
* PLL and containment describe the same anatomy and enter once.

With that rule an unfavourable finding (odds ratio below 1) can only lower the
estimate: added to a group whose strongest factor is larger, it adds
``0.5 x`` its negative log odds ratio; when it becomes the strongest, the total
changes by ``x - 0.5 m`` (``m`` the former strongest), which is negative.

Modic change enters with the effect derived from Shan 2014's group means
(Chinn 2000). Komori migration, size and symptom duration have a published
direction (Lee 2017, Komori 1996, the Suzhou cohorts) but no effect size that
could be read; they stay listed as omitted unless ``allow_unverified=True``.
"""

from __future__ import annotations

import math
import warnings
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

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
from resorb.errors import InvalidInputError, OutsideEvidenceRangeWarning
from resorb.evidence import EvidenceValue, evidence_source, evidence_value, load_evidence
from resorb.imaging import DAYS_PER_MONTH
from resorb.prognosis._types import Factor, OmittedFinding

__all__ = ["Collected", "collect_factors"]

_Z95 = 1.959963984540054

#: Count-based factors: finding level -> (its evidence id, ids of every level of the cohort).
_RIM_COHORT = (
    "rim_complete_regression_bullseye2025",
    "rim_partial_regression_bullseye2025",
    "rim_none_regression_bullseye2025",
)
_RIM_LEVELS = {
    RimEnhancement.COMPLETE: _RIM_COHORT[0],
    RimEnhancement.PARTIAL: _RIM_COHORT[1],
    RimEnhancement.NONE: _RIM_COHORT[2],
}
_RIM_WEIGHT_ID = "rim_enhancement_evidence_weight"
_PLL_COHORT = ("pll_ruptured_regression_ahn2000", "pll_intact_regression_ahn2000")
_T2_COHORT = ("t2_high_regression_splendiani2004", "t2_not_high_regression_splendiani2004")
_T2_WEIGHT_ID = "t2_signal_evidence_weight"
_MODIC_ID = "modic_change_log_or_shan2014"
#: Counts from cohorts that mixed all morphologies: part of their effect is the morphology
#: that the prior already holds, so they enter with the shrinkage weight.
_MIXED_MORPHOLOGY_COHORTS = frozenset(_T2_COHORT)

# --------------------------------------------------------------------------- helpers


def _logit(p: np.ndarray | float) -> np.ndarray | float:
    return np.log(p) - np.log1p(-p)


def _expit(x: np.ndarray | float) -> np.ndarray | float:
    return 1.0 / (1.0 + np.exp(-x))


def _primary_citation(value: EvidenceValue) -> dict[str, str]:
    return dict(value.citations[0]) if value.citations else {}


def _counts_and_supporting(
    value: EvidenceValue,
) -> tuple[dict[str, str], tuple[dict[str, str], ...]]:
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
    return (
        f"counts from {', '.join(missing)} (no DOI/PMID found; 'source' gives where it "
        "was read and its registration); 'supporting' gives the DOI/PMID of the studies "
        f"cited for the direction of the effect ({value.id})"
    )


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


@lru_cache(maxsize=64)
def _beta_draws(record_id: str, seed: int, n: int) -> np.ndarray:
    """Jeffreys beta draws of a count record; the same for every case at this seed."""
    v = evidence_value(record_id)
    e, t = v.events, v.total
    rng = np.random.default_rng([seed, zlib.crc32(record_id.encode())])
    out = rng.beta(e + 0.5, t - e + 0.5, size=n)
    out.setflags(write=False)
    return out


def _odds(p: np.ndarray | float) -> np.ndarray | float:
    return p / (1.0 - p)


def _level_vs_cohort(
    level_id: str, cohort_ids: Sequence[str], seed: int, n: int
) -> tuple[float, np.ndarray, EvidenceValue]:
    """log odds ratio of one level against its whole cohort: plug-in and draws.

    Plug-in uses the Haldane-Anscombe +0.5 in each cell; draws use Jeffreys
    beta posteriors per level, combined into the cohort rate by level size.
    """
    values = [evidence_value(i) for i in cohort_ids]
    level = evidence_value(level_id)
    total = sum(v.total for v in values)
    events = sum(v.events for v in values)
    plug = math.log((level.events + 0.5) / (level.total - level.events + 0.5)) - math.log(
        (events + 0.5) / (total - events + 0.5)
    )
    per_level = {v.id: _beta_draws(v.id, seed, n) for v in values}
    cohort = sum(per_level[v.id] * (v.total / total) for v in values)
    draws = np.log(_odds(per_level[level_id])) - np.log(_odds(cohort))
    return plug, draws, level


def _placeholder(
    value_id: str, rng: np.random.Generator, n: int, power: float = 1.0
) -> tuple[float, np.ndarray, EvidenceValue]:
    """Placeholder OR (unverified): 95 % of draws between no effect and OR squared."""
    v = evidence_value(value_id, allow_unverified=True)
    log_or = power * math.log(float(v.value))
    sd = abs(log_or) / _Z95
    return log_or, rng.normal(log_or, sd, size=n), v


class _Collector:
    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
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
            col.omit(
                "containment",
                cont,
                "describes the same anatomy as the PLL finding, which is used instead"
                + ("" if consistent else " (the two findings disagree; PLL taken)"),
            )
    else:
        ruptured = cont is Containment.UNCONTAINED
        name, level = "containment", cont
    if morph is HerniationMorphology.SEQUESTRATION:
        col.omit(
            name,
            level,
            "a sequestration is uncontained by definition; already in the morphology prior",
        )
        return
    if morph is HerniationMorphology.EXTRUSION:
        level_id = _PLL_COHORT[0] if ruptured else _PLL_COHORT[1]
        plug, draws, ev = _level_vs_cohort(level_id, _PLL_COHORT, col.seed, n)
        col.candidates.append(_Candidate(name, _label(level), "exposure", plug, draws, ev))
        return
    if not ruptured:
        col.omit(
            name,
            level,
            f"a {morph.value} is contained by definition; already in the morphology prior",
        )
        return
    col.outside(
        name,
        level,
        f"PLL rupture / uncontained {morph.value}: the counts behind "
        "this factor (Ahn 2000) are for extrusions; not applied",
    )


def _rim_factor(case: Case, col: _Collector, rng: np.random.Generator, n: int) -> None:
    h = case.herniation
    rim = h.rim_enhancement
    if rim is None:
        return
    if h.morphology in (HerniationMorphology.BULGE, HerniationMorphology.PROTRUSION):
        col.outside(
            "rim_enhancement",
            rim,
            f"rim enhancement on a {h.morphology.value}: the bull's-eye cohort was "
            "ruptured (extruded or sequestered) herniations; not applied",
        )
        return
    # An extrusion with an intact PLL is still a ruptured (extruded) herniation; the rim
    # is part of the exposure construct and combines with the PLL finding (module doc).
    plug, draws, ev = _level_vs_cohort(_RIM_LEVELS[rim], _RIM_COHORT, col.seed, n)
    # One registration-only cohort, a zero cell, and a cohort (Ramos Amador 2013) in which
    # the pattern did not predict disappearance: the size is damped (evidence record).
    w = float(evidence_value(_RIM_WEIGHT_ID).value)
    col.candidates.append(
        _Candidate("rim_enhancement", rim.value, "exposure", w * plug, w * draws, ev)
    )


def _t2_factor(case: Case, col: _Collector, rng: np.random.Generator, n: int) -> None:
    h = case.herniation
    t2 = h.t2_signal
    if t2 is None:
        return
    if h.morphology is HerniationMorphology.BULGE:
        col.outside(
            "t2_signal",
            t2,
            "a bulge is not a herniation; the T2 counts (Splendiani "
            "2004) are for herniations; not applied",
        )
        return
    level_id = _T2_COHORT[0] if t2 is T2Signal.HIGH else _T2_COHORT[1]
    plug, draws, ev = _level_vs_cohort(level_id, _T2_COHORT, col.seed, n)
    # Reconstructed counts (evidence record): the factor is weakened.
    w = float(evidence_value(_T2_WEIGHT_ID).value)
    col.candidates.append(_Candidate("t2_signal", t2.value, "fragment", w * plug, w * draws, ev))


def _modic_factor(case: Case, col: _Collector, rng: np.random.Generator, n: int) -> None:
    """Modic change (Shan 2014), log OR from group means by Chinn 2000, against the cohort."""
    h = case.herniation
    modic = h.modic
    if modic is None:
        return
    if h.morphology is HerniationMorphology.BULGE:
        col.outside(
            "modic",
            str(int(modic)),
            "a bulge is not a herniation; Shan 2014 studied herniations; not applied",
        )
        return
    ev = evidence_value(_MODIC_ID)
    n_with, n_without = ev.parameters["n_with"], ev.parameters["n_without"]
    share_with = n_with / (n_with + n_without)
    log_or = float(ev.value)
    se = (float(ev.upper) - float(ev.lower)) / (2 * _Z95)
    draws = rng.normal(log_or, se, size=n)
    present = modic is not ModicType.TYPE_0
    scale = (1.0 - share_with) if present else -share_with
    w = float(ev.parameters["evidence_weight"])
    col.candidates.append(
        _Candidate("modic", str(int(modic)), "fragment", w * scale * log_or, w * scale * draws, ev)
    )


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
#: Why each finding with a known direction but no readable effect size stays out.
_UNVERIFIED_REASONS = {
    "komori": "further migration favours resorption (Komori 1996; Autio 2006; Lee 2017, "
    "505 patients), but no effect size could be read from the published abstracts; "
    "not used",
    "canal_compromise_percent": "larger herniations resorb more often (Lee 2017; Seo 2016; "
    "Cribb 2007), but no effect size could be read from the "
    "published abstracts; not used",
    "symptom_duration_months": "symptoms for more than a year go against resorption (Suzhou "
    "cohorts, Autio 2006), but no effect size was published; not "
    "used",
}
_KOMORI_ID = "komori_type3_or_placeholder"
_MASSIVE_ID = "massive_herniation_or_placeholder"


def _unverified_factors(
    case: Case, col: _Collector, rng: np.random.Generator, n: int, allow: bool
) -> None:
    h = case.herniation
    found: list[tuple[str, str, str, str, float]] = []  # name, value, group, id, power
    months = _symptom_duration_months(case)
    if months is not None and months > _parameter(_DURATION_ID, "threshold_months"):
        found.append(("symptom_duration_months", f"{months:.1f}", "clinical", _DURATION_ID, 1))
    if h.komori is not None and h.komori is not KomoriType.TYPE_1:
        power = (
            1.0 if h.komori is KomoriType.TYPE_3 else _parameter(_KOMORI_ID, "type2_log_or_weight")
        )
        found.append(("komori", str(int(h.komori)), "exposure", _KOMORI_ID, power))
    if h.canal_compromise_percent is not None and h.canal_compromise_percent >= _parameter(
        _MASSIVE_ID, "threshold_canal_percent"
    ):
        found.append(
            ("canal_compromise_percent", f"{h.canal_compromise_percent:g}", "size", _MASSIVE_ID, 1)
        )
    for name, value, group, vid, power in found:
        if not allow:
            col.omit(name, value, _UNVERIFIED_REASONS[name])
            continue
        if h.morphology is HerniationMorphology.BULGE:
            col.outside(name, value, "a bulge is not a herniation; not applied")
            continue
        plug, draws, ev = _placeholder(vid, rng, n, power)
        col.candidates.append(_Candidate(name, value, group, plug, draws, ev))
        col.warnings.append(
            f"{name}={value}: placeholder odds ratio {math.exp(plug):.2g} ({vid}, unverified)"
        )
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
        col.omit(
            "therapy",
            therapy.id,
            "therapies do not enter the estimate: no controlled study has shown a "
            "conservative therapy to change resorption (catalogue evidence on "
            f"resorption: {therapy.resorption_evidence_summary})",
        )


def _check_age(case: Case, col: _Collector) -> None:
    age = case.patient.age_years
    if age is None:
        return
    lo, hi = evidence_value("cohort_age_range_years").value
    if not lo <= age <= hi:
        text = (
            f"patient.age_years={age}: outside the ages of the cohorts behind the "
            f"estimate ({lo:g}-{hi:g} years)"
        )
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


# --------------------------------------------------------------------------- public


@dataclass(frozen=True)
class Collected:
    """The factors of a case: plug-in log odds, Monte Carlo draws and what was left out."""

    factors: tuple[Factor, ...]
    log_odds: float
    log_odds_draws: np.ndarray
    omitted: tuple[OmittedFinding, ...]
    warnings: tuple[str, ...]


def collect_factors(
    case: Case, rng: np.random.Generator, n: int, *, seed: int = 0, allow_unverified: bool = False
) -> Collected:
    """Every recorded finding's contribution to the log odds of regression.

    Parameters
    ----------
    case : Case
    rng : numpy.random.Generator
        Draws for the uncertainty of each effect.
    n : int
        Number of draws.
    seed : int
        Seed of the draws of the published counts (cached per record and seed).
    allow_unverified : bool
        Also use the placeholder odds ratios (``LowEvidenceWarning``).
    """
    col = _Collector(seed)
    _check_age(case, col)
    _exposure_factor(case, col, rng, n)
    _rim_factor(case, col, rng, n)
    _t2_factor(case, col, rng, n)
    _modic_factor(case, col, rng, n)
    _unverified_factors(case, col, rng, n, allow_unverified)
    _therapy_notes(case, col)
    _shrink(col.candidates)
    total = 0.0
    total_draws = np.zeros(n)
    factors = []
    for c in col.candidates:
        contrib = c.weight * c.log_or
        contrib_draws = c.weight * c.draws
        total += contrib
        total_draws += contrib_draws
        lo, hi = np.quantile(np.exp(contrib_draws), [0.025, 0.975])
        effect = math.exp(contrib)
        direction = (
            "favours resorption"
            if effect > 1.0 + 1e-9
            else "against resorption"
            if effect < 1.0 - 1e-9
            else "neutral"
        )
        counts_source, supporting = _counts_and_supporting(c.evidence)
        factors.append(
            Factor(
                name=c.name,
                value=c.value,
                effect=effect,
                direction=direction,
                log_odds_contribution=contrib,
                source=counts_source,
                supporting=supporting,
                confidence=c.evidence.confidence.value,
                evidence_id=c.evidence.id,
                weight=c.weight,
                group=c.group,
                effect_interval=(float(lo), float(hi)),
                sources=tuple(dict(s) for s in c.evidence.citations),
                note=_provenance_note(c.evidence),
            )
        )
    return Collected(
        factors=tuple(factors),
        log_odds=total,
        log_odds_draws=total_draws,
        omitted=tuple(col.omitted),
        warnings=tuple(col.warnings),
    )
