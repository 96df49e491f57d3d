"""The assessment of one case: what ``resorb assess`` prints and the report renders.

:func:`assess_case` runs, in this order: volumetry of every MRI and the
comparison of each follow-up with the first; the forecast from the serial
volumes; the resorption probability (evidence model or a clinic's portable
model); red-flag triage; the management pathway; the evidence of the case's
therapies; the outcome scores. Everything lands in one frozen
:class:`Assessment` whose ``to_dict()`` has the keys of the ``assess`` contract
(docs/cli.md) plus ``case``, ``scores``, ``disclaimer``, ``sources`` and
``provenance``.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from resorb._json import to_jsonable
from resorb.domain.case import Case
from resorb.domain.scales import FINDING_SCALES
from resorb.errors import CaseFileError, InvalidInputError
from resorb.reports._sections import ForecastSection, MeasurementRow, ResorptionSection

if TYPE_CHECKING:
    from resorb.prognosis import CasePredictor, ManagementPlan, Triage

__all__ = ["ASSESSMENT_KEYS", "Assessment", "SourceRegister", "assess_case"]

#: Top-level keys of ``Assessment.to_dict()``; the first six and ``warnings`` are the
#: command-line contract (docs/cli.md).
ASSESSMENT_KEYS: tuple[str, ...] = (
    "resorption",
    "triage",
    "measurements",
    "forecast",
    "management",
    "therapies",
    "case",
    "scores",
    "disclaimer",
    "sources",
    "provenance",
    "warnings",
)

_FINDING_FIELDS: tuple[tuple[str, str], ...] = tuple((f.key, f.label) for f in FINDING_SCALES)


class SourceRegister:
    """Numbers every cited publication once, in order of first use.

    A citation is a mapping with ``doi``, ``pmid`` and/or ``url``; the same
    publication cited by DOI in one place and by PMID in another gets one
    number. Bibliographic details come from the evidence base where it holds
    the publication.
    """

    def __init__(self) -> None:
        self._entries: list[dict[str, Any]] = []
        self._index: dict[str, int] = {}
        self._biblio = _bibliography()

    @staticmethod
    def _keys(citation: Mapping[str, Any]) -> list[str]:
        keys = []
        for kind in ("doi", "pmid", "url"):
            value = citation.get(kind)
            if value:
                keys.append(f"{kind}:{str(value).lower()}")
        return keys

    def add(self, citation: Mapping[str, Any] | None, used_for: str) -> int | None:
        """Register a citation; returns its number (None if it has no identifier)."""
        if not citation:
            return None
        keys = self._keys(citation)
        if not keys:
            return None
        for key in keys:
            if key in self._index:
                n = self._index[key]
                entry = self._entries[n - 1]
                for kind in ("doi", "pmid", "url"):
                    if citation.get(kind) and not entry.get(kind):
                        entry[kind] = str(citation[kind])
                        self._index[f"{kind}:{str(citation[kind]).lower()}"] = n
                if used_for not in entry["used_for"]:
                    entry["used_for"].append(used_for)
                return n
        n = len(self._entries) + 1
        entry: dict[str, Any] = {"n": n, "used_for": [used_for]}
        for kind in ("doi", "pmid", "url"):
            if citation.get(kind):
                entry[kind] = str(citation[kind])
        source = None
        for key in keys:
            source = source or self._biblio.get(key)
        if source is not None:
            entry.update(
                {
                    "id": source.id,
                    "authors": source.authors,
                    "year": source.year,
                    "title": source.title,
                    "journal": source.journal,
                }
            )
            for kind in ("doi", "pmid", "url", "registration", "registration_url"):
                value = getattr(source, kind, None)
                if value and kind not in entry:
                    entry[kind] = value
        else:
            entry["title"] = citation.get("title") or citation.get("short") or ""
        self._entries.append(entry)
        for kind in ("doi", "pmid", "url"):
            if entry.get(kind):
                self._index[f"{kind}:{str(entry[kind]).lower()}"] = n
        return n

    def number(self, citation: Mapping[str, Any] | None) -> int | None:
        """Number of an already registered citation (None if unknown)."""
        if not citation:
            return None
        for key in self._keys(citation):
            if key in self._index:
                return self._index[key]
        return None

    def entries(self) -> list[dict[str, Any]]:
        """Numbered entries, each with every key (``None`` where unknown)."""
        keys = (
            "n",
            "id",
            "authors",
            "year",
            "title",
            "journal",
            "doi",
            "pmid",
            "url",
            "registration",
            "registration_url",
        )
        return [
            {**{k: e.get(k) for k in keys}, "used_for": list(e["used_for"])} for e in self._entries
        ]


@lru_cache(maxsize=1)
def _bibliography() -> dict[str, Any]:
    from resorb.evidence import load_evidence

    out: dict[str, Any] = {}
    for source in load_evidence().sources.values():
        for kind in ("doi", "pmid", "url"):
            value = getattr(source, kind, None)
            if value:
                out.setdefault(f"{kind}:{str(value).lower()}", source)
    return out


@dataclass(frozen=True, slots=True)
class Assessment:
    """Everything ``resorb assess`` knows about one case.

    The prognosis sections are typed results (:class:`ResorptionSection` over the
    :class:`resorb.prognosis.ResorptionEstimate`, :class:`ForecastSection` over the
    :class:`resorb.prognosis.VolumeForecast`, :class:`MeasurementRow`,
    :class:`resorb.prognosis.Triage`, :class:`resorb.prognosis.ManagementPlan`);
    JSON exists only in :meth:`to_dict`. The summaries (therapies, case, scores,
    sources, provenance, warnings) are plain mappings.
    """

    resorption: ResorptionSection
    triage: Triage
    measurements: tuple[MeasurementRow, ...]
    forecast: ForecastSection
    management: ManagementPlan
    therapies: Mapping[str, Any]
    case: Mapping[str, Any]
    scores: Mapping[str, Any]
    disclaimer: str
    sources: tuple[Mapping[str, Any], ...]
    provenance: Mapping[str, Any]
    #: Plausibility problems and triage contradictions, each ``{field, message, kind}``.
    warnings: tuple[Mapping[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with exactly the keys of :data:`ASSESSMENT_KEYS`."""
        return {key: to_jsonable(_plain(getattr(self, key))) for key in ASSESSMENT_KEYS}


def _plain(value: Any) -> Any:
    """A typed section's JSON view (``to_dict``), element-wise for tuples."""
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


# --------------------------------------------------------------------------- sections


def _measurements(
    case: Case, mask_warnings: list[dict[str, Any]] | None = None
) -> tuple[list[MeasurementRow], list[float]]:
    from resorb.imaging import compare_volumes, measure_study

    rows: list[MeasurementRow] = []
    volumes: list[float] = []
    for study in case.mri:
        m = measure_study(study)
        if mask_warnings is not None:  # e.g. a NIfTI whose qform and sform disagree
            mask_warnings += [
                {"field": f, "message": msg, "kind": "mask geometry"} for f, msg in m.warnings
            ]
        volumes.append(m.volume_mm3)
        common = {
            "index": study.index,
            "date": study.date,
            "volume_mm3": m.volume_mm3,
            "method": m.method,
            "source": str(study.mask.name) if study.mask is not None else None,
            "label": m.label,
            "baseline": not rows,
            "days_after_baseline": (study.date - case.mri[0].date).days,
        }
        if not rows:
            rows.append(MeasurementRow(**common))
            continue
        if volumes[0] <= 0:
            raise InvalidInputError(
                "mri[0]",
                "the baseline volume is 0 mm3",
                allowed="a baseline herniation volume > 0 mm3",
            )
        days = (study.date - case.mri[0].date).days
        r = compare_volumes(volumes[0], m.volume_mm3, days=days if days > 0 else None, warn=False)
        rows.append(
            MeasurementRow(
                **common,
                resorption_percent=r.resorption_percent,
                grade=r.grade.value,
                within_mdc=r.within_mdc,
                delta_mm3=r.delta_mm3,
                mdc_mm3=r.mdc_mm3,
                resorption_percent_per_month=r.resorption_percent_per_month,
                compared_with="first MRI",
            )
        )
    return rows, volumes


def _forecast(
    case: Case, volumes: list[float], seed: int, resorption: ResorptionSection
) -> ForecastSection:
    """The volume forecast: the evidence model's own (same draws as its probability)."""
    from resorb.prognosis import forecast_volumes

    if not case.mri:
        return ForecastSection(reason="no MRI in the case: nothing to forecast")
    if volumes[0] <= 0:
        return ForecastSection(reason="baseline volume is 0 mm3: nothing to forecast")
    fc = getattr(resorption.estimate, "forecast", None) if resorption.model == "evidence" else None
    if fc is None:  # a clinic's model: the course mixture at the morphology's pooled rate
        fc = forecast_volumes(
            [s.date for s in case.mri], volumes, morphology=case.herniation.morphology, seed=seed
        )
    return ForecastSection.of(fc)


def _resorption(
    case: Case, model: CasePredictor | None, seed: int, volumes: list[float]
) -> ResorptionSection:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if model is None:
            from resorb.prognosis import resorption_probability

            estimate = resorption_probability(case, seed=seed, volumes_mm3=volumes)
            model_name = "evidence"
        else:
            estimate = model.predict_case(case)
            path = getattr(model, "path", None)
            model_name = (
                getattr(model, "name", None)
                or (Path(path).name if path else None)
                or type(model).__name__
            )
    out = dict(estimate.to_dict())
    if model is not None:
        out = _normalise_model_output(out)
    messages = list(out.get("warnings") or [])
    for w in caught:
        text = f"{w.category.__name__}: {w.message}"
        if str(w.message) not in messages and text not in messages:
            messages.append(text)
    out["warnings"] = messages
    out["model"] = model_name
    return ResorptionSection(
        estimate=estimate, model=model_name, warnings=tuple(messages), view=out
    )


def _normalise_model_output(out: dict[str, Any]) -> dict[str, Any]:
    """Give a portable model's estimate the keys of the evidence model's.

    A clinic's model reports ``log_odds`` per factor against its reference
    level and cites the model file; the report also needs the direction, the
    contribution on the log-odds scale and an (absent) interval per factor.
    """
    import math

    factors = []
    for f in out.get("factors") or []:
        f = dict(f)
        log_odds = f.get("log_odds_contribution", f.get("log_odds"))
        if log_odds is None and f.get("effect"):
            log_odds = math.log(float(f["effect"]))
        log_odds = float(log_odds or 0.0)
        f["log_odds_contribution"] = log_odds
        f.setdefault("effect", math.exp(log_odds))
        f.setdefault(
            "direction",
            "favours resorption"
            if log_odds > 0
            else "against resorption"
            if log_odds < 0
            else "neutral",
        )
        f.setdefault("effect_interval", None)
        f.setdefault("sources", [])
        f.setdefault("confidence", "local model")
        src = dict(f.get("source") or {})
        f["source"] = {k: v for k, v in src.items() if v is not None}
        factors.append(f)
    out["factors"] = factors
    out.setdefault("interval_level", 0.95)
    out.setdefault("baseline", None)
    out.setdefault("omitted", [])
    return out


def _therapies(case: Case) -> dict[str, Any]:
    from resorb.therapy import get_therapy, therapy_catalogue

    given = []
    for course in case.therapies:
        try:
            therapy = get_therapy(course.name)
        except InvalidInputError as exc:
            raise CaseFileError(
                f"therapies[{course.index}].name", exc.message, allowed=exc.allowed
            ) from None
        given.append(
            {
                "name": course.name,
                "start": course.start.isoformat() if course.start else None,
                "end": course.end.isoformat() if course.end else None,
                "therapy": therapy.to_dict(),
            }
        )
    summary = []
    for therapy in therapy_catalogue().values():
        summary.append(
            {
                "id": therapy.id,
                "name": therapy.name,
                "status": therapy.status,
                "symptom_evidence": sorted({f.direction for f in therapy.symptoms}),
                "resorption_evidence": therapy.resorption_evidence_summary,
                "guideline": [{"body": g.body, "stance": g.stance} for g in therapy.guideline],
            }
        )
    return {
        "given": given,
        "catalogue_summary": summary,
        "note": "Evidence on symptoms and on resorption is kept apart; no therapy in the "
        "catalogue has been shown in a controlled study to speed resorption.",
    }


def _scores(case: Case) -> dict[str, Any]:
    from resorb.evidence import evidence_value
    from resorb.scores import JOA_MAX, MCID, MCID_RELATIVE_ID, odi_percent

    s = case.symptoms
    odi = None if s.odi_answers is None else odi_percent(s.odi_answers)
    mcid_citations: list[Mapping[str, str]] = []
    for vid in (*(m.evidence_id for m in MCID.values()), MCID_RELATIVE_ID):
        for c in evidence_value(vid).citations:
            if c not in mcid_citations:
                mcid_citations.append(c)
    joa = s.joa_items
    return {
        "odi": None
        if odi is None
        else {"odi_percent": odi.odi_percent, "answered": odi.answered, "band": odi.band},
        "joa": None
        if joa is None
        else {
            "total": joa.total,
            "max": JOA_MAX,
            "subjective": joa.subjective,
            "clinical_signs": joa.clinical_signs,
            "adl": joa.adl,
            "bladder": joa.bladder,
        },
        "pain": {
            "leg_pain_nrs": s.leg_pain_nrs,
            "back_pain_nrs": s.back_pain_nrs,
            "vas_mm": s.vas_mm,
        },
        "slr_degrees": s.slr_degrees,
        "motor_mrc": s.motor_mrc,
        "mcid": {
            "available": False,
            "reason": "a case file records one time point; the minimal important change "
            "needs a baseline and a follow-up score",
            "thresholds": {
                k: {"absolute": v.absolute, "unit": v.unit, "relative_percent": v.relative_percent}
                for k, v in MCID.items()
            },
            "source": dict(mcid_citations[0]) if mcid_citations else {},
            "sources": [dict(c) for c in mcid_citations],
        },
    }


def _finding_row(field: str, label: str, value: Any) -> dict[str, Any]:
    scale = type(value)
    doc = (scale.__doc__ or "").strip().split("\n")[0] if isinstance(value, Enum) else ""
    return {
        "field": field,
        "label": label,
        "value": value.value if isinstance(value, Enum) else value,
        "definition": getattr(value, "definition", ""),
        "scale": doc,
    }


def _case_summary(case: Case) -> dict[str, Any]:
    h = case.herniation
    findings = [
        _finding_row(f, label, getattr(h, f))
        for f, label in _FINDING_FIELDS
        if getattr(h, f) is not None
    ]
    if h.canal_compromise_percent is not None:
        grade = h.canal_compromise
        findings.append(
            {
                "field": "canal_compromise_percent",
                "label": "Canal compromise",
                "value": f"{h.canal_compromise_percent:g} %",
                "definition": f"{grade.value}: {grade.definition}",
                "scale": (type(grade).__doc__ or "").strip().split("\n")[0],
            }
        )
    p = case.patient
    return {
        "patient": {"age_years": p.age_years, "sex": p.sex.value if p.sex else None},
        "onset_date": case.symptoms.onset_date.isoformat() if case.symptoms.onset_date else None,
        "red_flags": sorted(f.value for f in case.symptoms.red_flags),
        "herniation": findings,
        "n_mri": len(case.mri),
        "therapies": [t.name for t in case.therapies],
    }


def _register_sources(
    reg: SourceRegister,
    resorption: Mapping[str, Any],
    triage: Mapping[str, Any],
    management: Mapping[str, Any],
    forecast: Mapping[str, Any],
    measurements: list[Mapping[str, Any]],
    therapies: Mapping[str, Any],
    scores: Mapping[str, Any],
) -> None:
    # A withheld estimate is not shown, so neither are the sources behind it.
    withheld = bool(resorption.get("withheld"))
    base = {} if withheld else resorption.get("baseline") or {}
    reg.add(base.get("source"), "resorption: morphology prior")
    for f in [] if withheld else resorption.get("factors", []):
        source = f.get("source") or {}
        for c in [
            source.get("counts_from"),
            source,
            *f.get("sources", []),
            *f.get("supporting", []),
        ]:
            reg.add(c, f"resorption: {f.get('name')}")
    for r in triage.get("reasons", []):
        for c in r.get("sources", []):
            reg.add(c, "triage")
    for s in management.get("steps", []):
        for c in s.get("sources", []):
            reg.add(c, f"management: {s.get('title')}")
    for p in management.get("patient_information", []):
        for c in p.get("sources", []):
            reg.add(c, "for the patient")
    for w in triage.get("warnings", []):
        for c in w.get("sources", []):
            reg.add(c, "triage")
    if forecast.get("available") and not withheld:
        for s in forecast["prior"]["sources"]:
            for c in s.get("citations", []):
                reg.add(c, "forecast prior")
    if any(m.get("mdc_mm3") is not None for m in measurements):
        from resorb.evidence import evidence_value
        from resorb.imaging import volume_error_model

        for vid in volume_error_model().evidence_ids:
            for c in evidence_value(vid).citations:
                reg.add(c, "measurement error")
    for g in therapies.get("given", []):
        t = g["therapy"]
        for kind in ("symptoms", "resorption"):
            for finding in t.get(kind, []):
                for c in finding.get("citations", []):
                    reg.add(c, f"therapy: {t['name']}")
        for stance in t.get("guideline", []):
            for c in stance.get("citations", []):
                reg.add(c, f"therapy: {t['name']}")
    reg.add(scores["mcid"]["source"], "scores: minimal important change")


def assess_case(
    case: Case, *, model: CasePredictor | None = None, seed: int = 0, as_of: dt.date | None = None
) -> Assessment:
    """Assess one case.

    Parameters
    ----------
    case : Case
        A validated case (``Case.from_file``); mask paths are resolved.
    model : resorb.prognosis.CasePredictor, optional
        A clinic's portable model (``predict_case(case)`` returning an
        estimate with the same ``to_dict()`` keys as
        :class:`resorb.prognosis.ResorptionEstimate`); default: the evidence model.
    seed : int
        Seed of every Monte Carlo step (probability interval, forecast).
    as_of : datetime.date, optional
        Assessment date for the management step statuses (default: today).

    Returns
    -------
    Assessment

    Raises
    ------
    InvalidInputError, ImagingError
        Naming the field (``mri[1].mask``, ``therapies[0].name``).
    """
    from resorb import DISCLAIMER, __version__
    from resorb.prognosis import management_pathway, triage_case
    from resorb.reports._plausibility import plausibility_warnings

    as_of = as_of or dt.date.today()
    mask_warnings: list[dict[str, Any]] = []
    measurements, volumes = _measurements(case, mask_warnings)
    resorption = _resorption(case, model, seed, volumes)
    forecast = _forecast(case, volumes, seed, resorption)
    triage_obj = triage_case(case)
    # Beside an emergency or urgent referral the report shows no percentage and no forecast.
    resorption = resorption.with_withheld(triage_obj.withhold_resorption)
    grew = any(m.grade == "enlarged" and m.within_mdc is False for m in measurements) or bool(
        (resorption.view.get("observed") or {}).get("regrowth")
    )
    plan = management_pathway(case, triage=triage_obj, as_of=as_of, observed_growth=grew)
    warnings_out = [w.to_dict() for w in plausibility_warnings(case, volumes)]
    warnings_out += [
        {"field": w.field, "message": w.message, "kind": "triage"} for w in triage_obj.warnings
    ]
    warnings_out += mask_warnings
    therapies = _therapies(case)
    scores = _scores(case)
    reg = SourceRegister()
    _register_sources(
        reg,
        resorption.to_dict(),
        triage_obj.to_dict(),
        plan.to_dict(),
        forecast.to_dict(),
        [m.to_dict() for m in measurements],
        therapies,
        scores,
    )
    provenance = {
        "resorb_version": __version__,
        "generated_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "as_of": as_of.isoformat(),
        "seed": seed,
        "resorption_model": resorption.model,
    }
    return Assessment(
        resorption=resorption,
        triage=triage_obj,
        measurements=tuple(measurements),
        forecast=forecast,
        management=plan,
        therapies=therapies,
        case=_case_summary(case),
        scores=scores,
        disclaimer=DISCLAIMER,
        sources=tuple(reg.entries()),
        provenance=provenance,
        warnings=tuple(warnings_out),
    )
