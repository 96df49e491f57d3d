"""Pages: the patient list, a new patient, the timeline and the follow-up forms."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel

from resorb.domain import FINDING_SCALES, RedFlag, SpinalLevel
from resorb.errors import InvalidInputError
from resorb.registry import (
    FindingsIn,
    MRIIn,
    PatientIn,
    PatientRecords,
    TherapyIn,
    VisitIn,
    timeline_of,
)
from resorb.web._auth import CAN_READ_IDENTIFIED, CAN_WRITE, check_csrf, require_page_role
from resorb.web._pages import (
    User,
    choices,
    clean_form,
    error_from,
    form_errors,
    redirect,
    render,
    state,
)

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/patients")
def patients(request: Request, user: User, q: str | None = None, page: int = 1) -> Response:
    if not user.identified:
        return redirect("/research/patients" + (f"?q={quote(q)}" if q else ""))
    reg = state(request).registry
    per_page = 25
    page = max(1, page)
    search = (q or "").strip() or None
    rows = reg.list_patients(search=search, limit=per_page, offset=(page - 1) * per_page)
    total = reg.count_patients(search=search)
    ctx = {
        "patients": rows,
        "q": q or "",
        "total": total,
        "page": page,
        "pages": max(1, -(-total // per_page)),
        "nav": "patients",
    }
    if request.headers.get("x-partial") == "patient-rows":
        return render(request, "_patient_rows.html", ctx, user=user)
    return render(request, "patients.html", ctx, user=user)


_PATIENT_FIELDS = ["pseudonym", "birth_year", "sex", "site", "onset_date"]


@router.get("/patients/new")
def new_patient_form(request: Request, user: User) -> HTMLResponse:
    require_page_role(user, CAN_WRITE, "create patients")
    return render(
        request, "patient_form.html", {"values": {}, "errors": {}, "nav": "patients"}, user=user
    )


@router.post("/patients/new")
async def new_patient(request: Request, user: User) -> Response:
    require_page_role(user, CAN_WRITE, "create patients")
    form = await check_csrf(request)
    data = clean_form(form, _PATIENT_FIELDS)
    errors = form_errors(PatientIn, data)
    if not errors:
        try:
            rec = state(request).registry.create_patient(data, actor=user.username)
        except InvalidInputError as exc:
            errors = error_from(exc)
        else:
            return redirect(
                f"/patients/{rec.id}", f"Patient {rec.pseudonym} created.", request=request
            )
    return render(
        request,
        "patient_form.html",
        {"values": dict(form), "errors": errors, "nav": "patients"},
        status_code=422,
        user=user,
    )


def _timeline_forecast(
    request: Request, records: PatientRecords, timeline: dict[str, Any]
) -> tuple[dict | None, str | None]:
    """The forecast band for the timeline plot and where it comes from.

    The current assessment (cached per case and day, so the assessment page and
    its PDF reuse it); when the record cannot be assessed yet (no findings), the
    latest stored assessment's forecast, else none. None beside an emergency or
    urgent referral (the assessment withholds its forecast). Works on the records the
    page has already read.
    """
    from resorb.web._assess import assess_records

    if not any(m["volume_mm3"] is not None for m in timeline["mri"]):
        return None, None
    try:
        _, data = assess_records(records, cache=state(request).assessments)
        if (data.get("resorption") or {}).get("withheld"):
            return None, None  # no forecast band beside an emergency or urgent referral
        fc = data.get("forecast")
        if isinstance(fc, dict) and fc.get("curve"):
            return fc, "current assessment"
    except InvalidInputError:
        pass
    if records.assessments:
        latest = records.assessments[-1]
        result = latest.result if isinstance(latest.result, dict) else {}
        fc = result.get("forecast")
        if (result.get("resorption") or {}).get("withheld"):
            fc = None
        if isinstance(fc, dict) and fc.get("curve"):
            return fc, f"stored assessment #{latest.id}"
    return None, None


@router.get("/patients/{patient_id}")
def patient_page(request: Request, user: User, patient_id: int) -> HTMLResponse:
    require_page_role(user, CAN_READ_IDENTIFIED, "read identified records")
    from resorb.web._plots import svg_data_uri, volume_course_svg

    records = state(request).registry.patient_records(patient_id)  # the one read
    tl = timeline_of(records)
    # Rows with implausible stored values (legacy) are listed as invalid, not plotted.
    obs = [
        (m["date"], m["volume_mm3"])
        for m in tl["mri"]
        if m["volume_mm3"] is not None and not m["invalid"]
    ]
    forecast, forecast_from = _timeline_forecast(request, records, tl)
    plot = svg_data_uri(volume_course_svg(obs, forecast=forecast)) if obs else None
    return render(
        request,
        "patient.html",
        {
            "t": tl,
            "p": tl["patient"],
            "plot": plot,
            "forecast": forecast,
            "forecast_from": forecast_from,
            "nav": "patients",
        },
        user=user,
    )


_ODI = [f"odi_{i}" for i in range(1, 11)]
_ODI_SECTIONS = (
    "Pain intensity",
    "Personal care",
    "Lifting",
    "Walking",
    "Sitting",
    "Standing",
    "Sleeping",
    "Sex life",
    "Social life",
    "Travelling",
)


_FLAG_GROUP_WORDS = {
    "cauda_equina_late": "Cauda equina, late sign",
    "cauda_equina_early": "Cauda equina, early sign",
    "neurological": "Neurology",
    "serious_pathology": "Serious pathology",
}


def _form_context(kind: str, registry: Any, patient_id: int) -> dict[str, Any]:
    records = registry.patient_records(patient_id)  # one read for the whole form
    ctx: dict[str, Any] = {"kind": kind, "patient": records.patient, "nav": "patients"}
    if kind == "visit":
        # Each red flag in words, with what it points to (cauda equina first).
        flags = [(f.value, f"{_FLAG_GROUP_WORDS[f.group.value]}: {f.definition}") for f in RedFlag]
        ctx.update(red_flags=flags, odi=list(zip(_ODI, _ODI_SECTIONS, strict=True)))
    elif kind == "mri":
        ctx.update(levels=choices(SpinalLevel))
    elif kind == "findings":
        ctx.update(
            mris=list(records.mri),
            visits=list(records.visits),
            scales=[
                (f.key, f.label, choices(f.scale), f.required)
                for f in FINDING_SCALES
                if f.key not in ("msu_size", "msu_zone")
            ],
        )  # MSU: one text field
    return ctx


_FIELDS = {
    "visit": [
        "date",
        "leg_pain_nrs",
        "back_pain_nrs",
        "vas_mm",
        "joa_total",
        "rmdq",
        "motor_mrc",
        "slr_degrees",
        "notes",
    ],
    "mri": ["date", "level", "volume_mm3", "method"],
    "findings": [
        "level",
        "morphology",
        "containment",
        "pll",
        "zone",
        "migration",
        "komori",
        "msu",
        "rim_enhancement",
        "iwabuchi",
        "t2_signal",
        "modic",
        "pfirrmann",
        "schizas",
        "canal_compromise_percent",
    ],
    "therapy": ["name", "start", "end"],
}
_MODELS: dict[str, type[BaseModel]] = {
    "visit": VisitIn,
    "mri": MRIIn,
    "findings": FindingsIn,
    "therapy": TherapyIn,
}
_TITLES = {
    "visit": "New visit",
    "mri": "New MRI measurement",
    "findings": "Findings",
    "therapy": "Therapy course",
}


def _form_data(kind: str, form) -> dict[str, Any]:
    data = clean_form(form, _FIELDS[kind])
    if kind == "visit":
        answers = [form.get(n) or None for n in _ODI]
        if any(a is not None for a in answers):
            data["odi_answers"] = answers
        flags = [f for f in form.getlist("red_flags") if f]
        if flags:
            data["red_flags"] = flags
        if form.get("recurrence"):
            data["recurrence"] = True
    elif kind == "mri":
        if form.get("measure") == "diameters":
            data["source"] = "diameters"
            data["diameters_mm"] = [form.get(n) or None for n in ("ap_mm", "tr_mm", "cc_mm")]
        else:
            data["source"] = "manual"
    return data


@router.get("/patients/{patient_id}/{kind}/new")
def followup_form(request: Request, user: User, patient_id: int, kind: str) -> HTMLResponse:
    if kind not in _MODELS:
        raise HTTPException(status_code=404, detail=f"No form {kind!r}.")
    require_page_role(user, CAN_WRITE, "change patient data")
    ctx = _form_context(kind, state(request).registry, patient_id)
    values: dict[str, Any] = {"measure": "volume"}
    if kind in ("visit", "mri"):
        values["date"] = dt.date.today().isoformat()
    ctx.update(values=values, errors={}, title=_TITLES[kind])
    return render(request, f"form_{kind}.html", ctx, user=user)


@router.post("/patients/{patient_id}/{kind}/new")
async def followup_submit(request: Request, user: User, patient_id: int, kind: str) -> Response:
    if kind not in _MODELS:
        raise HTTPException(status_code=404, detail=f"No form {kind!r}.")
    require_page_role(user, CAN_WRITE, "change patient data")
    form = await check_csrf(request)
    reg = state(request).registry
    reg.get_patient(patient_id)
    data = _form_data(kind, form)
    errors = form_errors(_MODELS[kind], data)
    if kind == "findings":
        parent = str(form.get("parent", ""))
        ptype, _, pid = parent.partition(":")
        if ptype not in ("mri", "visit") or not pid.isdigit():
            errors.setdefault("parent", "choose the MRI or visit these findings were made on")
    if "odi_answers" in errors:
        errors["odi"] = errors.pop("odi_answers")
    if kind == "mri":
        for key in ("diameters_mm", "form", "mri"):  # model-level rules: one measurement
            if key in errors:
                errors.setdefault("measurement", errors.pop(key))
        if "measurement" in errors:
            hint = (
                "Enter all three diameters in mm (AP, transverse, craniocaudal)"
                if form.get("measure") == "diameters"
                else "Enter the volume in mm³"
            )
            errors["measurement"] = f"{hint} ({errors['measurement']})."
    if not errors:
        try:
            if kind == "visit":
                reg.add_visit(patient_id, data, actor=user.username)
            elif kind == "mri":
                reg.add_mri(patient_id, data, actor=user.username)
            elif kind == "therapy":
                reg.add_therapy(patient_id, data, actor=user.username)
            else:
                reg.add_findings(
                    patient_id,
                    data,
                    actor=user.username,
                    mri_id=int(pid) if ptype == "mri" else None,
                    visit_id=int(pid) if ptype == "visit" else None,
                )
        except InvalidInputError as exc:
            errors = error_from(exc)
        else:
            return redirect(f"/patients/{patient_id}", f"{_TITLES[kind]} saved.", request=request)
    ctx = _form_context(kind, reg, patient_id)
    values = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    values["red_flags"] = form.getlist("red_flags")
    ctx.update(values=values, errors=errors, title=_TITLES[kind])
    return render(request, f"form_{kind}.html", ctx, status_code=422, user=user)
