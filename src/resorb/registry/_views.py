"""Read views of the registry: a patient's records, timeline, case and research view.

Everything here reads; nothing writes. A view is computed from the records
loaded in one session (:func:`load_patient`), so a page that shows the
timeline and assesses the same patient reads the database once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from resorb.domain.bounds import implausible_fields
from resorb.errors import InvalidInputError
from resorb.registry import _models as m
from resorb.registry._records import (
    AssessmentRecord,
    FindingsRecord,
    MRIRecord,
    PatientRecord,
    TherapyRecord,
    VisitRecord,
)
from resorb.registry._rows import _offset, _patient
from resorb.registry._schemas import findings_to_domain

if TYPE_CHECKING:
    from resorb.domain import Case

__all__ = [
    "RED_FLAG_CARRY_DAYS",
    "PatientRecords",
    "case_of",
    "load_patient",
    "research_row",
    "resorption_between",
    "timeline_of",
]

#: Red flags recorded at a visit stay in the assessed case for this many days
#: (see :func:`case_of`). An assumption of this project, not a published
#: number: long enough that a cauda equina sign ticked at one visit is not lost
#: when the next visit (typically 2-12 weeks later in conservative follow-up)
#: leaves the box empty; short enough that a sign from a past episode does not
#: keep a patient in urgent triage for ever.
RED_FLAG_CARRY_DAYS = 90


@dataclass(frozen=True, slots=True)
class PatientRecords:
    """Everything recorded for one patient, read in one session.

    ``mri`` is on the clinic's calendar (imported studies shifted back),
    oldest first; visits and therapies are in date order, findings and
    assessments in the order they were recorded.
    """

    patient: PatientRecord
    visits: tuple[VisitRecord, ...]
    mri: tuple[MRIRecord, ...]
    findings: tuple[FindingsRecord, ...]
    therapies: tuple[TherapyRecord, ...]
    assessments: tuple[AssessmentRecord, ...]


def load_patient(s: Session, patient_id: int) -> PatientRecords:
    """A patient's records from the session ``s`` (:class:`RecordNotFoundError` if none)."""
    p = _patient(s, patient_id)
    off = _offset(s, patient_id)
    mri = sorted(
        (MRIRecord.from_row(r, offset_days=off) for r in p.mri_studies),
        key=lambda r: (r.date, r.id),
    )
    return PatientRecords(
        patient=PatientRecord.from_row(p),
        visits=tuple(VisitRecord.from_row(v) for v in p.visits),
        mri=tuple(mri),
        findings=tuple(FindingsRecord.from_row(f) for f in p.findings),
        therapies=tuple(TherapyRecord.from_row(t) for t in p.therapies),
        assessments=tuple(AssessmentRecord.from_row(a) for a in p.assessments),
    )


def resorption_between(
    v0_mm3: float, v1_mm3: float, *, days: float | None = None
) -> dict[str, Any]:
    """Resorption percent and grade of ``v1_mm3`` against the baseline ``v0_mm3``.

    Uses :func:`resorb.imaging.compare_volumes` (grade thresholds of Zou et al.
    2023, PMID 37559207, from the evidence base; minimal detectable change
    flag) without warning. A baseline of 0 mm3 has no resorption percent.

    Returns
    -------
    dict
        ``resorption_percent`` (signed, %), ``grade``, ``within_mdc`` (bool or
        None), ``mdc_mm3``, ``method``.
    """
    from resorb.imaging import compare_volumes

    if not v0_mm3 > 0:
        return {
            "resorption_percent": None,
            "grade": None,
            "within_mdc": None,
            "mdc_mm3": None,
            "method": "baseline volume is 0 mm3: resorption undefined",
        }
    r = compare_volumes(v0_mm3, v1_mm3, days=days if days else None, warn=False)
    return {
        "resorption_percent": float(r.resorption_percent),
        "grade": r.grade.value,
        "within_mdc": bool(r.within_mdc),
        "mdc_mm3": float(r.mdc_mm3),
        "method": "volume change against the first MRI, graded after Zou 2023",
    }


_MCID_SCALES = {
    "leg_pain_nrs": "nrs",
    "back_pain_nrs": "nrs",
    "vas_mm": "vas_mm",
    "odi_percent": "odi_percent",
    "rmdq": "rmdq",
}


def _visit_rows(visits: tuple[VisitRecord, ...]) -> list[dict[str, Any]]:
    from resorb.scores import JOA_MAX, joa_recovery_rate_percent, mcid_improvement

    baseline: dict[str, float] = {}
    rows = []
    for v in visits:
        row = v.as_dict()
        flags: dict[str, Any] = {}
        for key, scale in _MCID_SCALES.items():
            value = getattr(v, key)
            if value is None:
                continue
            if key not in baseline:
                baseline[key] = value
                continue
            r = mcid_improvement(scale, baseline[key], value)
            flags[key] = {
                "baseline": r.baseline,
                "value": r.followup,
                "improvement": r.improvement,
                "improvement_percent": r.improvement_percent,
                "mcid_absolute": r.mcid_absolute,
                "mcid_relative_percent": r.mcid_relative_percent,
                "reached": r.reached,
            }
        row["mcid"] = flags
        row["invalid"] = implausible_fields(v)
        row["joa_recovery_rate_percent"] = None
        if v.joa_total is not None:
            if "joa_total" not in baseline:
                baseline["joa_total"] = v.joa_total
            elif baseline["joa_total"] < JOA_MAX:
                row["joa_recovery_rate_percent"] = joa_recovery_rate_percent(
                    baseline["joa_total"], v.joa_total
                )
        rows.append(row)
    return rows


def _mri_rows(mris: tuple[MRIRecord, ...]) -> list[dict[str, Any]]:
    first: dict[str | None, MRIRecord] = {}
    rows = []
    for r in mris:
        row = r.as_dict()
        row.update(
            days_since_baseline=None,
            resorption_percent=None,
            grade=None,
            within_mdc=None,
            resorption_method=None,
            invalid=implausible_fields(r),
        )
        # A stored value outside the plausible bounds (a legacy row) is shown as
        # invalid and takes no part in resorption.
        if r.volume_mm3 is not None and not row["invalid"]:
            base = first.setdefault(r.level, r)
            row["days_since_baseline"] = (r.date - base.date).days
            if base.id != r.id and base.volume_mm3 is not None:
                res = resorption_between(
                    base.volume_mm3, r.volume_mm3, days=row["days_since_baseline"]
                )
                row.update(
                    resorption_percent=res["resorption_percent"],
                    grade=res["grade"],
                    within_mdc=res["within_mdc"],
                    resorption_method=res["method"],
                )
        rows.append(row)
    return rows


def timeline_of(records: PatientRecords) -> dict[str, Any]:
    """Everything about a patient in date order, with resorption and MCID flags.

    Returns
    -------
    dict
        ``patient``; ``visits`` (each with ``mcid``: for NRS leg/back, VAS,
        ODI and RMDQ the change from the first visit with that score, after
        Ostelo 2008, PMID 18165753; and ``joa_recovery_rate_percent``
        against the first visit with a JOA total); ``mri`` (each with
        ``days_since_baseline``, ``resorption_percent`` and ``grade`` against
        the first MRI of the same level that has a volume); ``findings``;
        ``therapies``; ``assessments`` (id, created_at, version). Patient,
        visit and MRI rows carry ``invalid``: the fields whose stored values lie
        outside the plausible bounds (:func:`resorb.domain.bounds.implausible_fields`).
    """
    return {
        "patient": records.patient.as_dict() | {"invalid": implausible_fields(records.patient)},
        "visits": _visit_rows(records.visits),
        "mri": _mri_rows(records.mri),
        "findings": [f.as_dict() | {"msu": f.msu} for f in records.findings],
        "therapies": [t.as_dict() for t in records.therapies],
        "assessments": [
            {"id": a.id, "created_at": a.created_at, "version": a.version}
            for a in records.assessments
        ],
    }


def case_of(records: PatientRecords, *, visit: str = "latest") -> Case:
    """Build a :class:`resorb.domain.Case` from a patient's records.

    Parameters
    ----------
    records : PatientRecords
    visit : {"latest", "first"}
        Whose scores go into ``Case.symptoms``: the most recent visit
        (default; what an assessment today should see) or the first.

    Notes
    -----
    Findings: those of the most recent MRI with findings, else of the most
    recent visit with findings. MRI: the studies of that level (or without a
    level) that carry a measurement, on the clinic's calendar. Age: years
    between the birth year and the first MRI or visit.

    Red flags are safety findings and are not dropped because a later visit
    did not tick them again: the case carries every red flag recorded at the
    chosen visit or at any earlier visit in the :data:`RED_FLAG_CARRY_DAYS`
    days before it (the union). A red flag older than that window no longer
    triggers triage; one recorded by mistake is removed by deleting that
    visit (audited).

    Raises
    ------
    InvalidInputError
        When no findings (level and morphology) have been recorded.
    """
    from resorb.domain import Case, Patient, RedFlag, Sex, Symptoms, parse_enum
    from resorb.domain import MRIStudy as DomainMRI
    from resorb.domain import TherapyCourse as DomainTherapy

    if visit not in ("latest", "first"):
        raise InvalidInputError("visit", f"{visit!r}", allowed="latest, first")
    rec, visits = records.patient, records.visits
    mri_by_id = {r.id: r for r in records.mri}
    visit_by_id = {v.id: v for v in visits}
    on_mri = [
        (mri_by_id[f.mri_id].date, f.id, f)
        for f in records.findings
        if f.mri_id is not None and f.mri_id in mri_by_id
    ]
    on_visit = [
        (visit_by_id[f.visit_id].date, f.id, f)
        for f in records.findings
        if f.visit_id is not None and f.visit_id in visit_by_id
    ]
    chosen = None
    if on_mri:
        chosen = max(on_mri, key=lambda t: (t[0], t[1]))[2]
    elif on_visit:
        chosen = max(on_visit, key=lambda t: (t[0], t[1]))[2]
    if chosen is None:
        raise InvalidInputError(
            "herniation",
            f"patient {rec.id} has no structured findings",
            allowed="record findings (at least level and morphology) on an MRI or visit",
        )
    herniation = findings_to_domain(chosen.as_dict())
    studies: list[DomainMRI] = []
    for r in records.mri:
        if r.level not in (None, chosen.level):
            continue
        if r.source == "diameters" and r.diameters_mm:
            ap, tr, cc = r.diameters_mm
            studies.append(DomainMRI(date=r.date, diameters_mm=(ap, tr, cc), index=len(studies)))
        elif r.volume_mm3 is not None:
            studies.append(DomainMRI(date=r.date, volume_mm3=r.volume_mm3, index=len(studies)))
    dates = [v.date for v in visits] + [s.date for s in studies]
    ref = min(dates) if dates else dt.date.today()
    patient = Patient(
        age_years=max(0, ref.year - rec.birth_year),
        sex=parse_enum(Sex, rec.sex, field="patient.sex"),
    )
    # No visit: the red flags were never asked (not "none"); triage asks for them.
    symptoms = Symptoms(onset_date=rec.onset_date, red_flags_recorded=False)
    if visits:
        v = visits[-1] if visit == "latest" else visits[0]
        since = v.date - dt.timedelta(days=RED_FLAG_CARRY_DAYS)
        flags = {f for w in visits if since <= w.date <= v.date for f in w.red_flags}
        symptoms = Symptoms(
            onset_date=rec.onset_date,
            leg_pain_nrs=v.leg_pain_nrs,
            back_pain_nrs=v.back_pain_nrs,
            vas_mm=v.vas_mm,
            odi_answers=None if v.odi_answers is None else tuple(v.odi_answers),
            slr_degrees=v.slr_degrees,
            motor_mrc=v.motor_mrc,
            red_flags=frozenset(
                parse_enum(RedFlag, f, field="symptoms.red_flags") for f in sorted(flags)
            ),
        )
    courses = tuple(
        DomainTherapy(name=t.name, start=t.start, end=t.end, index=i)
        for i, t in enumerate(records.therapies)
    )
    return Case(
        herniation=herniation,
        patient=patient,
        symptoms=symptoms,
        mri=tuple(studies),
        therapies=courses,
    )


# -- the research (pseudonymised) view ------------------------------------------------------


def site_count(s: Session, site: str | None) -> int:
    """Number of patients recorded at ``site`` (0 for none)."""
    if site is None:
        return 0
    return int(s.scalar(select(func.count(m.Patient.id)).where(m.Patient.site == site)) or 0)


def research_row(p: m.Patient, offset_days: int, *, keep_site: bool) -> dict[str, Any]:
    """One patient as a researcher may see them.

    No free-text notes, no database ids, no DICOM series details, birth year
    only, every date shifted by the patient's secret offset (intervals kept),
    ``site`` only when ``keep_site``.

    A stored value outside the plausible bounds (:mod:`resorb.domain.bounds`;
    a legacy row from before they were enforced, e.g. a date in year 1 whose
    shift would leave the calendar, or a volume of 1e308 mm3) is given as
    None and its field listed in ``invalid``: one bad row never takes the
    research view down for everyone.
    """
    from resorb.domain.bounds import is_plausible_date, is_plausible_volume_mm3, plausible_bounds

    off = dt.timedelta(days=offset_days)
    invalid: list[str] = []
    max_d = plausible_bounds().max_diameter_mm

    def shift(
        d: dt.date | None, where: str, *, shifted: bool = False, future_ok: bool = False
    ) -> dt.date | None:
        if d is None:
            return None
        try:
            clinic = d - off if shifted else d
            latest = dt.date(9000, 12, 31) if future_ok else dt.date.today() + dt.timedelta(days=1)
            if not is_plausible_date(clinic, today=latest):
                raise OverflowError
            return d if shifted else d + off
        except OverflowError:
            invalid.append(where)
            return None

    def volume(v: float | None, where: str) -> float | None:
        if v is None or is_plausible_volume_mm3(v):
            return v
        invalid.append(where)
        return None

    def diameters(ds: list[float] | None, where: str) -> list[float] | None:
        if ds is None or (
            len(ds) == 3 and all(isinstance(d, int | float) and 0 <= d <= max_d for d in ds)
        ):
            return ds
        invalid.append(where)
        return None

    def order(r: m.MRIStudy) -> tuple[int, dt.date]:
        try:
            return (0, r.date if r.date_is_shifted else r.date + off)
        except OverflowError:
            return (1, dt.date.max)

    mri_rows = sorted(p.mri_studies, key=order)
    row = {
        "pseudonym": p.pseudonym,
        "birth_year": p.birth_year,
        "sex": p.sex,
        "site": p.site if keep_site else None,
        "onset_date": shift(p.onset_date, "onset_date"),
        "visits": [
            {
                k: v
                for k, v in VisitRecord.from_row(v).as_dict().items()
                if k not in ("id", "patient_id", "notes")
            }
            | {"date": shift(v.date, f"visits[{i}].date")}
            for i, v in enumerate(p.visits)
        ],
        "mri": [
            {
                "date": shift(r.date, f"mri[{i}].date", shifted=r.date_is_shifted),
                "level": r.level,
                "source": r.source,
                "method": r.method,
                "volume_mm3": volume(r.volume_mm3, f"mri[{i}].volume_mm3"),
                "diameters_mm": diameters(r.diameters_mm, f"mri[{i}].diameters_mm"),
            }
            for i, r in enumerate(mri_rows)
        ],
        "findings": [
            {
                k: v
                for k, v in FindingsRecord.from_row(f).as_dict().items()
                if k not in ("id", "patient_id", "mri_id", "visit_id")
            }
            for f in p.findings
        ],
        "therapies": [
            {
                "name": t.name,
                "start": shift(t.start, f"therapies[{i}].start"),
                "end": shift(t.end, f"therapies[{i}].end", future_ok=True),
            }
            for i, t in enumerate(p.therapies)
        ],
    }
    row["invalid"] = invalid
    return row


def research_rows(
    s: Session,
    *,
    min_site_count: int,
    limit: int | None = None,
    offset: int = 0,
    search: str | None = None,
) -> list[dict[str, Any]]:
    """The research rows of the patients (ordered by id), ``limit`` at a time from
    ``offset``, those whose pseudonym contains ``search``; each patient must
    already have a date offset. Reads only the patients of the page."""
    q = select(m.Patient).order_by(m.Patient.id)
    if search:
        q = q.where(_pseudonym_like(search))
    if limit is not None:
        q = q.limit(limit).offset(offset)
    patients = list(s.scalars(q))
    ids = [p.id for p in patients]
    offsets = (
        dict(
            s.execute(
                select(m.DateShift.patient_id, m.DateShift.offset_days).where(
                    m.DateShift.patient_id.in_(ids)
                )
            ).all()
        )
        if ids
        else {}
    )
    sites = {p.site for p in patients if p.site}
    counts = (
        dict(
            s.execute(
                select(m.Patient.site, func.count(m.Patient.id))
                .where(m.Patient.site.in_(sites))
                .group_by(m.Patient.site)
            ).all()
        )
        if sites
        else {}
    )
    return [
        research_row(
            p, offsets[p.id], keep_site=p.site is not None and counts[p.site] >= min_site_count
        )
        for p in patients
    ]


def research_count(s: Session, *, search: str | None = None) -> int:
    """Number of patients in the research view (matching ``search``)."""
    q = select(func.count(m.Patient.id))
    if search:
        q = q.where(_pseudonym_like(search))
    return int(s.scalar(q) or 0)


def _pseudonym_like(search: str):
    text = search.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return m.Patient.pseudonym.ilike(f"%{text}%", escape="\\")
