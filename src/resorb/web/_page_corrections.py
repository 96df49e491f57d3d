"""Pages: correcting a patient's record (clinicians and admins).

One page lists every stored visit, MRI study, findings entry, therapy course
and stored assessment of a patient, marks values outside the plausible bounds
(:mod:`resorb.domain.bounds`; rows stored before the bounds were enforced) as
invalid, and offers to delete a wrong entry (then enter it again with the usual
form) or to correct the patient's own details. Every change goes through the
registry, so the audit log records who changed what and keeps the old values.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from resorb.domain.bounds import implausible_fields
from resorb.errors import InvalidInputError
from resorb.web._auth import CAN_WRITE, check_csrf, require_page_role
from resorb.web._pages import User, clean_form, error_from, redirect, render, state

__all__ = ["invalid_fields", "router"]

router = APIRouter(include_in_schema=False)

_KINDS = {
    "visit": "visit",
    "mri": "MRI study",
    "findings": "findings entry",
    "therapy": "therapy course",
    "assessment": "stored assessment",
}
_PATIENT_FIELDS = ["birth_year", "sex", "site", "onset_date"]


def invalid_fields(record: Any) -> list[str]:
    """Fields of a stored record whose values lie outside the plausible bounds."""
    return implausible_fields(record)


def _describe(kind: str, r: Any) -> str:
    """A short line naming a stored record (values as stored, however implausible)."""
    if kind == "visit":
        scores = ", ".join(
            f"{k.replace('_', ' ')} {getattr(r, k)}"
            for k in ("leg_pain_nrs", "back_pain_nrs", "odi_percent", "joa_total")
            if getattr(r, k, None) is not None
        )
        return f"{r.date}" + (f": {scores}" if scores else "")
    if kind == "mri":
        size = (
            f"diameters {r.diameters_mm} mm"
            if r.diameters_mm
            else f"volume {r.volume_mm3} mm3"
            if r.volume_mm3 is not None
            else "no measurement"
        )
        return f"{r.date} {r.level or ''} ({r.source}): {size}"
    if kind == "findings":
        on = f"MRI {r.mri_id}" if r.mri_id else f"visit {r.visit_id}"
        return f"{r.level} {r.morphology} (on {on})"
    if kind == "therapy":
        return f"{r.name} from {r.start or '?'} to {r.end or '?'}"
    return f"{r.created_at:%Y-%m-%d %H:%M} (resorb {r.version})"


def _context(request: Request, patient_id: int) -> dict[str, Any]:
    records = state(request).registry.patient_records(patient_id)  # one read
    groups = [
        ("visit", "Visits", records.visits),
        ("mri", "MRI studies", records.mri),
        ("findings", "Findings", records.findings),
        ("therapy", "Therapy courses", records.therapies),
        ("assessment", "Stored assessments", records.assessments),
    ]
    sections = [
        (kind, title, [(r.id, _describe(kind, r), invalid_fields(r)) for r in items])
        for kind, title, items in groups
    ]
    p = records.patient
    return {
        "patient": p,
        "patient_invalid": invalid_fields(p),
        "sections": sections,
        "kinds": _KINDS,
        "nav": "patients",
        "values": {k: "" if getattr(p, k) is None else getattr(p, k) for k in _PATIENT_FIELDS},
        "errors": {},
    }


@router.get("/patients/{patient_id}/corrections")
def corrections(request: Request, user: User, patient_id: int) -> HTMLResponse:
    require_page_role(user, CAN_WRITE, "correct patient records")
    return render(request, "corrections.html", _context(request, patient_id), user=user)


@router.post("/patients/{patient_id}/corrections/patient")
async def correct_patient(request: Request, user: User, patient_id: int) -> Response:
    require_page_role(user, CAN_WRITE, "correct patient records")
    form = await check_csrf(request)
    changes = clean_form(form, _PATIENT_FIELDS)
    try:
        state(request).registry.update_patient(patient_id, changes, actor=user.username)
    except InvalidInputError as exc:
        ctx = _context(request, patient_id)
        ctx.update(values={k: form.get(k, "") for k in _PATIENT_FIELDS}, errors=error_from(exc))
        return render(request, "corrections.html", ctx, status_code=422, user=user)
    return redirect(
        f"/patients/{patient_id}/corrections", "Patient details corrected.", request=request
    )


@router.post("/patients/{patient_id}/corrections/{kind}/{record_id}/delete")
async def delete_record(
    request: Request, user: User, patient_id: int, kind: str, record_id: int
) -> Response:
    require_page_role(user, CAN_WRITE, "correct patient records")
    await check_csrf(request)
    if kind not in _KINDS:
        raise InvalidInputError("kind", f"{kind!r}", allowed=", ".join(_KINDS))
    state(request).registry.delete_record(patient_id, kind, record_id, actor=user.username)
    return redirect(
        f"/patients/{patient_id}/corrections",
        f"The {_KINDS[kind]} was deleted (kept in the audit log).",
        request=request,
    )
