"""Writes and look-ups on an open session: the steps every registry write is made of.

Each takes the SQLAlchemy session of the caller's transaction, so that the
:class:`~resorb.registry.Registry` methods and the CSV and DICOM importers
compose them into one transaction with its audit entries.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from resorb.errors import InvalidInputError, ResorbError
from resorb.registry import _models as m
from resorb.registry._schemas import (
    FindingsIn,
    MRIIn,
    PatientIn,
    TherapyIn,
    VisitIn,
    validate_input,
)

__all__ = ["DATE_SHIFT_RANGE_DAYS", "RecordNotFoundError"]

#: Per-patient date offsets are drawn uniformly from this range (days, inclusive).
#: An assumption of this project: PS3.15 asks for a consistent shift that keeps
#: intervals ("Retain Longitudinal Temporal Information with Modified Dates")
#: but fixes no size; 30 days to 2 years backwards hides day, month and year.
DATE_SHIFT_RANGE_DAYS = (-730, -30)


class RecordNotFoundError(ResorbError, LookupError):
    """A patient, visit or other record that does not exist in the registry."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _integrity_error(exc: IntegrityError) -> InvalidInputError:
    text = str(exc.orig).lower()
    if "pseudonym" in text:
        return InvalidInputError("pseudonym", "already exists", allowed="a pseudonym not yet used")
    if "username" in text:
        return InvalidInputError("username", "already exists", allowed="a user name not yet taken")
    first = str(exc.orig).splitlines()[0] if str(exc.orig) else exc.__class__.__name__
    return InvalidInputError("record", f"violates a database constraint ({first})")


def _patient(s: Session, patient_id: int) -> m.Patient:
    if isinstance(patient_id, bool) or not isinstance(patient_id, int):
        raise InvalidInputError("patient_id", f"{patient_id!r}", allowed="an integer id")
    p = s.get(m.Patient, patient_id)
    if p is None:
        raise RecordNotFoundError("patient_id", f"no patient {patient_id}")
    return p


def _offset(s: Session, patient_id: int) -> int | None:
    row = s.get(m.DateShift, patient_id)
    return None if row is None else row.offset_days


def _ensure_offset(s: Session, patient_id: int) -> int:
    row = s.get(m.DateShift, patient_id)
    if row is None:
        lo, hi = DATE_SHIFT_RANGE_DAYS
        try:
            # A savepoint: if a concurrent transaction drew the offset first, keep theirs.
            with s.begin_nested():
                row = m.DateShift(
                    patient_id=patient_id, offset_days=lo + secrets.randbelow(hi - lo + 1)
                )
                s.add(row)
        except IntegrityError:
            row = s.get(m.DateShift, patient_id, populate_existing=True)
            if row is None:  # pragma: no cover - the conflict was not about this row
                raise
    return row.offset_days


def _create_patient(s: Session, data: Any, *, field: str = "patient") -> m.Patient:
    p_in = validate_input(PatientIn, data, field=field)
    if s.scalar(select(m.Patient.id).where(m.Patient.pseudonym == p_in.pseudonym)) is not None:
        raise InvalidInputError(
            f"{field}.pseudonym",
            f"{p_in.pseudonym!r} already exists",
            allowed="a pseudonym not yet used",
        )
    p = m.Patient(**p_in.model_dump(), created_by=s.info.get("actor_id"))
    s.add(p)
    s.flush()
    return p


def _add_visit(s: Session, patient_id: int, data: Any, *, field: str = "visit") -> m.Visit:
    v_in = validate_input(VisitIn, data, field=field)
    _patient(s, patient_id)
    v = m.Visit(patient_id=patient_id, **v_in.model_dump(), odi_percent=v_in.odi_percent)
    s.add(v)
    s.flush()
    return v


def _add_mri(s: Session, patient_id: int, data: Any) -> m.MRIStudy:
    mri = validate_input(MRIIn, data, field="mri")
    _patient(s, patient_id)
    row = m.MRIStudy(
        patient_id=patient_id,
        date=mri.date,
        date_is_shifted=False,
        level=mri.level,
        source=mri.source,
        method=mri.computed_method,
        volume_mm3=mri.computed_volume_mm3,
        diameters_mm=None if mri.diameters_mm is None else list(mri.diameters_mm),
    )
    s.add(row)
    s.flush()
    return row


def _add_findings(
    s: Session, patient_id: int, data: Any, *, mri_id: int | None, visit_id: int | None
) -> m.Findings:
    f_in = validate_input(FindingsIn, data, field="findings")
    try:
        f_in.to_domain()
    except InvalidInputError as exc:
        raise InvalidInputError(
            "findings." + exc.field.split(".")[-1], exc.message, allowed=exc.allowed
        ) from None
    _patient(s, patient_id)
    if (mri_id is None) == (visit_id is None):
        raise InvalidInputError(
            "findings",
            "needs exactly one of mri_id or visit_id",
            allowed="the MRI or the visit the findings were made on",
        )
    if mri_id is not None:
        study = s.get(m.MRIStudy, mri_id)
        if study is None or study.patient_id != patient_id:
            raise RecordNotFoundError("mri_id", f"no MRI study {mri_id} for patient {patient_id}")
    else:
        visit = s.get(m.Visit, visit_id)
        if visit is None or visit.patient_id != patient_id:
            raise RecordNotFoundError("visit_id", f"no visit {visit_id} for patient {patient_id}")
    values = f_in.model_dump(exclude={"msu"})
    row = m.Findings(
        patient_id=patient_id,
        mri_id=mri_id,
        visit_id=visit_id,
        **values,
        msu_size=f_in.msu_size,
        msu_zone=f_in.msu_zone,
    )
    s.add(row)
    s.flush()
    return row


def _add_therapy(s: Session, patient_id: int, data: Any) -> m.TherapyCourse:
    t_in = validate_input(TherapyIn, data, field="therapy")
    _patient(s, patient_id)
    row = m.TherapyCourse(patient_id=patient_id, **t_in.model_dump())
    s.add(row)
    s.flush()
    return row


def _delete_with_findings(s: Session, model: type, row_id: int, *, field: str, what: str) -> None:
    """Delete a visit or MRI row and the findings recorded on it (``field`` is the FK)."""
    row = s.get(model, row_id)
    if row is None:
        raise RecordNotFoundError(field, f"no {what} {row_id}")
    for f in s.scalars(select(m.Findings).where(getattr(m.Findings, field) == row_id)):
        s.delete(f)
    s.flush()
    s.delete(row)
